// `gatescope bench --document [N] [--json] [--no-torch] [--torch-chars M] [--windows W] [--hidden 128,256,...]`:
// the extension's own preparation path (createDocumentTrace + prepare(), as the worker runs it) over ONE
// sequence of N characters (default 1,000,000: tinyshakespeare repeated as needed), for a char LSTM with
// random init over the text's vocabulary: 1x128, 1x256, 1x512 and 2x256. For each: seconds, µs per char, the
// process's peak RSS, PyTorch's nn.LSTM forward over the same single sequence (one-hot, batch 1, no gates,
// /usr/bin/python3 with 2 threads, timed on the first M chars and scaled per char) and the ratio; then the
// latency of windows of one block (what a hover asks the worker for) at random places in the prepared
// document: recomputing it, then also handing it over a MessagePort as the worker does (buffers transferred);
// the longest preparation slice, which bounds how long a window asked during preparation waits; and tracing the
// document again after an edit near its end.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { rnnConfig } from '../core/config';
import { buildCharVocab, encodeChars } from '../core/data/charVocab';
import { initModelParameters } from '../core/init';
import { modelConfig } from '../core/model';
import { createRng } from '../core/random';
import { DEFAULT_CHECKPOINT_EVERY, type TraceWindowData, createDocumentTrace } from '../worker/documentTrace';
import { intOption, parseCli } from './args';
import { UsageError } from './errors';
import { quantile } from './stats';

const PYTHON = '/usr/bin/python3';
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
const CONFIGS = [{ hidden: 128, layers: 1 }, { hidden: 256, layers: 1 }, { hidden: 512, layers: 1 }, { hidden: 256, layers: 2 }] as const;

/** nn.LSTM forward over one sequence of one-hot chars, state carried chunk by chunk, no autograd. */
const TORCH_FORWARD = `
import json, sys, time, torch
import torch.nn.functional as F
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
V, n = cfg["vocab"], cfg["chars"]
lstm = torch.nn.LSTM(V, cfg["hidden"], cfg["layers"])
ids = torch.randint(0, V, (n,), generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    lstm(F.one_hot(ids[:256], V).float().unsqueeze(1))  # warm-up
    state = None
    t0 = time.perf_counter()
    for a in range(0, n, 4096):
        _, state = lstm(F.one_hot(ids[a:a + 4096], V).float().unsqueeze(1), state)
    seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "chars": n}))
`;

export interface DocumentBenchRow {
  readonly label: string;
  readonly hidden: number;
  readonly layers: number;
  readonly chars: number;
  readonly seconds: number;
  readonly usPerChar: number;
  /** The process's peak resident set so far (MiB): configurations run one after another in one process. */
  readonly peakRssMiB: number;
  /** States kept by the prepared trace (MiB). */
  readonly stateMiB: number;
  readonly slices: number;
  /** The longest preparation slice (ms): the most a window asked during preparation waits for the worker. */
  readonly maxSliceMs: number;
  readonly torchUsPerChar?: number;
  readonly torchChars?: number;
  /** PyTorch's time per char / ours (> 1: faster). */
  readonly ratio?: number;
  readonly windowTokens: number;
  /** Recomputing one block's window (all gates, states, top-5 predictions). */
  readonly windowMedianMs: number;
  readonly windowP95Ms: number;
  /** The same plus the hand-over through a MessagePort (buffers transferred), as the worker answers. */
  readonly hoverMedianMs: number;
  readonly hoverP95Ms: number;
  /** Tracing the document again after an edit at 99 % of it (the states before the edit are kept). */
  readonly editedSeconds: number;
}

/** The bundled sample (samples/), else ../shared/data next to the checkout. */
function sampleText(): string {
  const candidates = [
    join(__dirname, '../samples/tinyshakespeare.txt'), join(__dirname, '../../samples/tinyshakespeare.txt'),
    join(__dirname, '../../../shared/data/tinyshakespeare.txt'), join(__dirname, '../../shared/data/tinyshakespeare.txt'),
  ];
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new UsageError('tinyshakespeare.txt not found (samples/ of the checkout)');
  return readFileSync(path, 'utf8');
}

function repeatTo(text: string, n: number): string {
  return text.length >= n ? text.slice(0, n) : text.repeat(Math.ceil(n / text.length)).slice(0, n);
}

function torchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '2' };
  if (existsSync(OPENBLAS)) env.LD_LIBRARY_PATH = [OPENBLAS, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return env;
}

function torchAvailable(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { env: torchEnv(), stdio: 'ignore' }).status === 0;
}

/** µs per char of nn.LSTM's forward over one sequence of `chars` one-hot chars. */
function timeTorch(hidden: number, layers: number, vocab: number, chars: number): number {
  const r = spawnSync(PYTHON, ['-c', TORCH_FORWARD, JSON.stringify({ hidden, layers, vocab, chars, threads: 2 })],
    { env: torchEnv(), encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`PyTorch forward failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  const out = JSON.parse(r.stdout) as { seconds: number; chars: number };
  return (out.seconds * 1e6) / out.chars;
}

/** What the worker does with a window: posts it with its buffers transferred; resolves when it has arrived. */
async function handOver(port: MessageChannel, w: TraceWindowData): Promise<void> {
  const received = new Promise<TraceWindowData>((resolve) => port.port2.once('message', resolve));
  const transfer = [...new Set([...w.tensors.values()].map((t) => t.data.buffer as ArrayBuffer)), w.topIds.buffer as ArrayBuffer, w.topProbs.buffer as ArrayBuffer];
  port.port1.postMessage(w, transfer);
  const got = await received;
  if (got.end - got.start !== w.end - w.start) throw new Error('window lost in the hand-over');
}

export async function runDocumentBench(args: string[], chars: number): Promise<number> {
  const { values } = parseCli(args, {
    json: { type: 'boolean' }, 'no-torch': { type: 'boolean' }, 'torch-chars': { type: 'string' }, windows: { type: 'string' },
    hidden: { type: 'string' },
  });
  const windows = intOption(values.windows, '--windows', 200, 1);
  const torchChars = Math.min(chars, intOption(values['torch-chars'], '--torch-chars', 50_000, 256));
  // --hidden 256 or 256x2 picks configurations (default: all four).
  const configs = values.hidden === undefined ? CONFIGS : values.hidden.split(',').map((s) => {
    const m = /^(\d+)(?:x(\d+))?$/.exec(s.trim());
    if (!m) throw new UsageError(`--hidden takes sizes like 256 or 256x2, got "${s}"`);
    return { hidden: Number(m[1]), layers: Number(m[2] ?? 1) };
  });
  const withTorch = !values['no-torch'] && torchAvailable();
  const log = (line: string): void => { if (!values.json) process.stdout.write(`${line}\n`); };

  const text = repeatTo(sampleText(), chars);
  const vocab = buildCharVocab(text);
  const ids = encodeChars(vocab, text).ids;
  const V = vocab.chars.length;
  const K = DEFAULT_CHECKPOINT_EVERY;
  log(`gatescope bench --document: one sequence of ${chars} chars (tinyshakespeare, repeated), char LSTM (vocab ${V} one-hot, random init), float32`);
  log(`preparation as the worker runs it (createDocumentTrace + prepare(), states kept every ${K}); windows of ${K} tokens at ${windows} random blocks`);
  log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  log(withTorch ? `PyTorch: nn.LSTM forward over the same single sequence, one-hot, no grad, 2 threads (${PYTHON}), timed on ${torchChars} chars`
    : 'PyTorch: not timed (no torch for /usr/bin/python3, or --no-torch)');
  log('');
  log(`${'model'.padEnd(12)}${'seconds'.padStart(9)}${'µs/char'.padStart(9)}${'peak RSS'.padStart(10)}${'torch µs'.padStart(10)}${'ratio'.padStart(8)}`
    + `${'window ms p50/p95'.padStart(19)}${'+post ms p50/p95'.padStart(18)}${'max slice'.padStart(11)}${'edit s'.padStart(10)}`);
  const rows: DocumentBenchRow[] = [];
  const port = new MessageChannel();
  for (const c of configs) {
    const config = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: V, hiddenSize: c.hidden, numLayers: c.layers }), vocabSize: V, outputSize: V });
    const params = initModelParameters(config, createRng(1));
    const t0 = performance.now();
    const trace = createDocumentTrace({ config, params, vocab }, ids, K);
    let last = t0, maxSlice = 0, slices = 0;
    for (const _ of trace.prepare()) {
      const now = performance.now();
      maxSlice = Math.max(maxSlice, now - last);
      last = now;
      slices++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    const stateMiB = (Math.ceil(chars / K) * 2 * c.layers * c.hidden * 4) / (1 << 20);
    const rng = createRng(5);
    const blocks = Math.max(1, Math.floor((trace.length - 1) / K));
    const win: number[] = [], hover: number[] = [];
    for (let i = 0; i < windows; i++) {
      const start = rng.int(blocks) * K;
      const a = performance.now();
      const w = trace.window(start, Math.min(trace.length, start + K));
      const b = performance.now();
      await handOver(port, w);
      win.push(b - a);
      hover.push(performance.now() - a);
    }
    // One character changed at 99 % of the document, traced again from the first trace (as the extension does).
    const edited = ids.slice();
    const at = Math.floor(0.99 * chars);
    edited[at] = (edited[at] + 1) % V;
    const e0 = performance.now();
    const again = createDocumentTrace({ config, params, vocab }, edited, K, trace);
    for (const _ of again.prepare()) { /* the part after the edit */ }
    const editedSeconds = (performance.now() - e0) / 1000;
    again.dispose();
    trace.dispose();
    const torchUs = withTorch ? timeTorch(c.hidden, c.layers, V, torchChars) : undefined;
    const usPerChar = (seconds * 1e6) / chars;
    const row: DocumentBenchRow = {
      label: `LSTM ${c.layers}x${c.hidden}`, hidden: c.hidden, layers: c.layers, chars, seconds, usPerChar, peakRssMiB, stateMiB, slices, maxSliceMs: maxSlice,
      ...(torchUs !== undefined ? { torchUsPerChar: torchUs, torchChars, ratio: torchUs / usPerChar } : {}),
      windowTokens: K, windowMedianMs: quantile(win, 0.5), windowP95Ms: quantile(win, 0.95), hoverMedianMs: quantile(hover, 0.5), hoverP95Ms: quantile(hover, 0.95),
      editedSeconds,
    };
    rows.push(row);
    log(`${row.label.padEnd(12)}${seconds.toFixed(2).padStart(9)}${usPerChar.toFixed(2).padStart(9)}${`${Math.round(peakRssMiB)} MiB`.padStart(10)}`
      + `${torchUs !== undefined ? torchUs.toFixed(1).padStart(10) : '-'.padStart(10)}${row.ratio !== undefined ? row.ratio.toFixed(1).padStart(8) : '-'.padStart(8)}`
      + `${`${row.windowMedianMs.toFixed(1)} / ${row.windowP95Ms.toFixed(1)}`.padStart(19)}${`${row.hoverMedianMs.toFixed(1)} / ${row.hoverP95Ms.toFixed(1)}`.padStart(18)}`
      + `${`${Math.round(maxSlice)} ms`.padStart(11)}${editedSeconds.toFixed(2).padStart(10)}`);
  }
  port.port1.close();
  log('ratio = PyTorch µs/char / gatescope µs/char (> 1: faster); peak RSS is the process\'s so far (the configurations run in turn)');
  log('window = recomputing one block from its kept state; +post = and handing it over a MessagePort as the worker does;');
  log('max slice = the longest stretch of preparation between two chances to answer: what a window asked meanwhile waits at most;');
  log('edit s = tracing it again after one character changed at 99 % of it (the states before the edit are kept)');
  if (values.json) {
    process.stdout.write(`${JSON.stringify({
      document: { chars, vocab: V, checkpointEvery: K, windows },
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
      torch: withTorch ? { threads: 2, chars: torchChars } : null,
      results: rows,
    }, null, 2)}\n`);
  }
  return 0;
}
