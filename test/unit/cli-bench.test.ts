// `gatescope bench --json` end to end on a tiny budget: every requested engine gets a row, the fast
// engines a trace timing, --workloads picks the word-LM and classifier workloads, and bad flags are usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run as bench } from '../../src/cli/bench';
import { UsageError } from '../../src/cli/errors';
import { availableEngines } from '../../src/engines';

async function captured(args: string[]): Promise<string> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true; }) as typeof process.stdout.write;
  try {
    assert.equal(await bench(args), 0);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test('bench --json reports each engine and a trace per fast engine', async () => {
  const fast = availableEngines().filter((e) => e === 'native' || e === 'wasm');
  const engines = fast.length ? fast : ['js'];
  const out = JSON.parse(await captured(['--json', '--quick', '--no-torch', '--engines', engines.join(','), '--steps', '1',
    '--rounds', '1', '--warmup', '0', '--trace-chars', '512', '--trace-streams', '8'])) as {
    results: { workload: string; engine: string; msPerStep: number; charsPerSec: number; tokensPerSec: number }[];
    traces: { engine: string; seconds: number; chars: number }[];
  };
  assert.equal(out.results.length, engines.length);
  for (const r of out.results) assert.ok(r.workload === 'char' && r.msPerStep > 0 && r.charsPerSec > 0 && r.tokensPerSec === r.charsPerSec, JSON.stringify(r));
  assert.equal(out.traces.length, fast.length);
  for (const t of out.traces) assert.ok(t.seconds > 0 && t.chars === 512, JSON.stringify(t));
});

test('bench --workloads times the word LM and the packed bidirectional classifier', async (t) => {
  const fast = availableEngines().find((e) => e === 'native' || e === 'wasm');
  if (!fast) return t.skip('no native or wasm engine (the js engine would take minutes per step)');
  const out = JSON.parse(await captured(['--json', '--no-torch', '--workloads', 'word-lm,classify', '--engines', fast, '--steps', '1',
    '--rounds', '1', '--warmup', '0'])) as { results: { workload: string; engine: string; msPerStep: number; tokensPerSec: number }[]; traces: unknown[] };
  assert.deepEqual(out.results.map((r) => r.workload), ['word-lm', 'classify']);
  for (const r of out.results) assert.ok(r.msPerStep > 0 && r.tokensPerSec > 0 && r.engine.startsWith(fast), JSON.stringify(r));
  assert.equal(out.traces.length, 0); // the trace goes with the char workload
});

test('bench refuses unknown engines and workloads and uneven trace streams', async () => {
  await assert.rejects(bench(['--engines', 'nope']), UsageError);
  await assert.rejects(bench(['--workloads', 'char,nope']), UsageError);
  await assert.rejects(bench(['--threads', '3']), UsageError);
  await assert.rejects(bench(['--trace-chars', '10', '--trace-streams', '3']), UsageError);
});
