// Issue 14's acceptance corpus: hostile and broken model files of every category (bombs, reads outside
// the model's folder, silently wrong data, former crashes, HDF5 noise, pickle payloads), generated at test
// time, each run through every CLI command that reads it, in this process (main() as the binary runs it).
// Every run must load or give exit 2 with one line naming the file (never a stack trace, never exit 70,
// never an "unexpected" error from the readers' safety net), within a time budget, without growing memory
// by a gigabyte, without creating files outside the output folder and without running a payload. A few
// files also go through the real binary (a child process) for the exit code and stderr as a user sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { COMMANDS_FOR, type Command, type CorpusFile, writeCorpus } from './fuzz-corpus';
import { main } from '../../src/cli/main';
import { readTensorFile } from '../../src/core/formats';
import { FIXTURE_ROOT } from '../fixtures';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MAIN = resolve(__dirname, '../../src/cli/main.ts');
// A hang detector, not a speed check: commands take well under a second, so only a runaway loop reaches this.
const PER_COMMAND_MS = 60_000;
const GB = 1024 ** 3;

interface Run { code: number | 'threw'; out: string; err: string; ms: number }

/** main(args) in this process, with stdout and stderr captured. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const writes = [process.stdout.write, process.stderr.write] as const;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  process.stdout.write = ((c: string | Uint8Array) => { out.push(String(c)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { err.push(String(c)); return true; }) as typeof process.stderr.write;
  const t0 = performance.now();
  let code: Run['code'];
  try {
    code = await main(args);
  } catch (e) {
    code = 'threw';
    err.push(`THREW ${e instanceof Error ? e.stack : String(e)}`);
  } finally {
    [process.stdout.write, process.stderr.write] = writes;
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  return { code, out: out.join(''), err: err.join(''), ms: performance.now() - t0 };
}

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      out.push(relative(root, p));
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

function argsFor(cmd: Command, file: string, out: string, n: number, aux: { config: string; inputs: string; text: string }): string[] {
  switch (cmd) {
    case 'diff': return ['diff', file, file];
    case 'convert': return ['convert', file, '--out', join(out, `c${n}.safetensors`)];
    case 'trace-weights': return ['trace', '--weights', file, '--config', aux.config, '--inputs', aux.inputs, '--out', join(out, `t${n}.safetensors`)];
    case 'sample': return ['sample', file, '-n', '5'];
    case 'trace-model': return ['trace', file, '--text', aux.text, '--out', join(out, `m${n}.safetensors`)];
  }
}

function expectationOf(f: CorpusFile, cmd: Command): 'load' | 'refuse' | 'either' {
  const strict = f.strict ?? (f.expect === 'load' ? (f.reads === 'checkpoint' ? ['sample', 'trace-model'] : ['diff']) : COMMANDS_FOR[f.reads]);
  return strict.includes(cmd) ? f.expect : 'either';
}

test('hostile corpus: every file through every command loads or fails with one line, within budgets', { timeout: 180_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'gatescope-fuzz-'));
  const corpus = join(root, 'corpus');
  const out = join(root, 'out');
  const canary = join(root, 'CANARY');
  const cwdBefore = readdirSync(process.cwd()).sort();
  try {
    const t0 = performance.now();
    const files = writeCorpus(corpus, canary);
    mkdirSync(out, { recursive: true });
    let fifo: string | undefined;
    try {
      fifo = join(corpus, 'crash/fifo.pt');
      execFileSync('mkfifo', [fifo]);
      files.push({ path: 'crash/fifo.pt', category: 'crash', what: 'a FIFO named like a model (reading it would block)', expect: 'refuse', message: /not a regular file/, reads: 'tensors' });
    } catch { fifo = undefined; /* no mkfifo here */ }
    const generated = performance.now() - t0;
    const caseDir = join(FIXTURE_ROOT, 'lstm_1l_f64');
    const aux = { config: join(caseDir, 'case.json'), inputs: join(caseDir, 'io.safetensors'), text: join(root, 'text.txt') };
    writeFileSync(aux.text, 'hello world\nhello\n');
    const before = listTree(root);
    gc();
    const rss0 = process.memoryUsage().rss;
    let maxGrowth = 0;
    let worst = '';
    const failures: string[] = [];
    const counts = { runs: 0, loaded: 0, refused: 0 };
    const byCategory = new Map<string, number>();
    let n = 0;
    for (const f of files) {
      byCategory.set(f.category, (byCategory.get(f.category) ?? 0) + 1);
      const path = join(corpus, f.path);
      for (const cmd of COMMANDS_FOR[f.reads]) {
        if (f.skip?.includes(cmd)) continue;
        const r = await cli(argsFor(cmd, path, out, n++, aux), f.env);
        counts.runs++;
        const what = `${f.path} [${f.what}] ${cmd}: exit ${r.code} ${JSON.stringify(r.err.slice(0, 400))}`;
        const lines = r.err.trimEnd().split('\n');
        if (r.code === 'threw') failures.push(`${what}: threw (exit 70)`);
        else if (r.code === 2) {
          counts.refused++;
          if (lines.length !== 1) failures.push(`${what}: ${lines.length} lines on stderr`);
          if (/\(unexpected( \w+)?: |\n\s+at /.test(r.err)) failures.push(`${what}: an unexpected error or a stack trace`);
          // trace --weights' own checks of a readable file against --config (src/cli/trace.ts) name no file.
          const traceCheck = cmd === 'trace-weights' && /^gatescope trace: (missing parameter|several modules)/.test(r.err);
          if (!r.err.includes(basename(path)) && !traceCheck) failures.push(`${what}: does not name the file`);
        } else if (r.code === 0 || r.code === 1) counts.loaded++;
        else failures.push(`${what}: exit ${r.code}`);
        const expect = expectationOf(f, cmd);
        if (expect === 'refuse' && r.code !== 2) failures.push(`${what}: should be refused`);
        if (expect === 'refuse' && r.code === 2 && f.message && !f.message.test(r.err)) failures.push(`${what}: message should match ${f.message}`);
        if (expect === 'load' && r.code !== 0 && r.code !== 1) failures.push(`${what}: should load`);
        if (r.ms > PER_COMMAND_MS) failures.push(`${what}: took ${Math.round(r.ms)} ms`);
        if (process.env.FUZZ_TIMES) process.stdout.write(`# ${Math.round(r.ms)} ms ${f.path} ${cmd}\n`);
        const growth = process.memoryUsage().rss - rss0;
        if (growth > maxGrowth) { maxGrowth = growth; worst = `${f.path} ${cmd}`; }
        if (growth > GB) failures.push(`${what}: rss grew by ${(growth / GB).toFixed(2)} GB`);
        if (growth > 128 * 2 ** 20) gc();
      }
    }
    const elapsed = performance.now() - t0;
    process.stdout.write(`# fuzz corpus: ${files.length} files (${[...byCategory].map(([c, k]) => `${c} ${k}`).join(', ')}), ${counts.runs} runs: `
      + `${counts.loaded} loaded, ${counts.refused} refused; generated in ${Math.round(generated)} ms, all in ${Math.round(elapsed)} ms; `
      + `max rss growth ${Math.round(maxGrowth / 2 ** 20)} MiB (${worst})\n`);
    assert.deepEqual(failures, []);
    assert.ok(!existsSync(canary), 'a pickle payload ran');
    const created = listTree(root).filter((p) => !before.includes(p));
    assert.deepEqual(created.filter((p) => !p.startsWith(`out`)), [], 'files created outside the output folder');
    assert.deepEqual(readdirSync(process.cwd()).sort(), cwdBefore, 'files created in the working directory');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('shared references cost one tensor: 5000 names of one memoised tensor, 5000 records of one view', () => {
  const root = mkdtempSync(join(tmpdir(), 'gatescope-fuzz-'));
  try {
    writeCorpus(join(root, 'c'), join(root, 'CANARY'));
    gc();
    const rss0 = process.memoryUsage().rss;
    for (const name of ['bomb/shared5000.pt', 'bomb/records5000.pt']) {
      const { tensors } = readTensorFile(new Uint8Array(readFileSync(join(root, 'c', name))), name);
      assert.equal(tensors.size, 5000, name);
      const first = tensors.get('t0');
      assert.ok([...tensors.values()].every((t) => t === first), `${name}: one tensor object`);
      assert.equal(first!.data.byteLength, 1024 * 1024);
    }
    assert.ok(process.memoryUsage().rss - rss0 < 256 * 2 ** 20, 'a few MiB, not 5 GiB');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the real binary: exit 2 and one line on stderr for bad files, a FIFO does not hang', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'gatescope-fuzz-'));
  try {
    const corpus = join(root, 'c');
    writeCorpus(corpus, join(root, 'CANARY'));
    const fifo = join(root, 'pipe.pt');
    let haveFifo = true;
    try { execFileSync('mkfifo', [fifo]); } catch { haveFifo = false; }
    const good = join(FIXTURE_ROOT, 'lstm_1l_f64/weights.safetensors');
    const runs: [string[], number, RegExp][] = [
      [['diff', join(corpus, 'wrong/crc.pt'), good], 2, /crc\.pt: not a valid zip archive \(CRC-32 mismatch/],
      [['convert', join(corpus, 'noise/truncated.h5'), '--out', join(root, 'x.safetensors')], 2, /truncated\.h5: not a readable HDF5 file \(/],
      [['diff', join(corpus, 'bomb/nested.pt'), good], 2, /nested more than 1000 levels/],
      [['convert', join(corpus, 'crash/tfjs_group_null/model.json'), '--out', join(root, 'y.safetensors')], 2, /weightsManifest\[0\] is not an object/],
      [['trace', '--weights', join(corpus, 'wrong/st_null_entry.safetensors'), '--config', join(FIXTURE_ROOT, 'lstm_1l_f64/case.json'), '--inputs', join(FIXTURE_ROOT, 'lstm_1l_f64/io.safetensors'), '--out', join(root, 'z.safetensors')], 2, /is not an object/],
      [['sample', join(corpus, 'crash/checkpoint_cut.safetensors')], 2, /checkpoint_cut\.safetensors/],
      ...(haveFifo ? [[['diff', fifo, good], 2, /not a regular file/] as [string[], number, RegExp]] : []),
    ];
    const results = await Promise.all(runs.map(([args]) => new Promise<{ code: number | null; err: string }>((done) => {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c) => { err += String(c); });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code) => { clearTimeout(timer); done({ code, err }); });
    })));
    results.forEach((r, i) => {
      const [args, code, message] = runs[i];
      const what = `${args.join(' ')} → ${r.code}: ${r.err}`;
      assert.equal(r.code, code, what);
      assert.equal(r.err.trimEnd().split('\n').length, 1, what);
      assert.match(r.err, message, what);
      assert.doesNotMatch(r.err, /HDF5-DIAG|\n\s+at |internal error|\(unexpected( \w+)?: /, what);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
