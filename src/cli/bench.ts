// `gatescope bench [--json]`: training throughput of every available engine, PyTorch timed on the identical
// workload in the same run when /usr/bin/python3 has torch, and a long forward-with-trace. Workloads:
//   char      char LM, vocab 65 one-hot -> LSTM -> Linear, batch 32, seq 64 (four sizes; --quick: H=128 only)
//   word-lm   Embedding(10000, 128) -> LSTM 256 -> Linear(10000), batch 32, seq 64
//   classify  Embedding(20000, 100) -> bidirectional LSTM 2x128 -> last -> Linear(4), batch 64, lengths 20-200
//             (packed: pack_padded_sequence(enforce_sorted=False) in PyTorch)
// all trained with Adam on cross-entropy in float32.
// `gatescope bench --document [N]`: one N-character document prepared as the extension does (src/cli/benchDocument.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { rnnConfig, type RnnModule } from '../core/config';
import type { LmBatch, LmEngine, LmTrainOptions } from '../core/engine';
import { type ModelConfig, modelConfig } from '../core/model';
import { type Rng, createRng } from '../core/random';
import { type EngineChoice, EngineUnavailableError, availableEngines, createLmEngine, initTfjsBackend, traceLm } from '../engines';
import { createNativeLmEngine } from '../engines/native';
import { createWasmLmEngine } from '../engines/wasm';
import { DEFAULT_CHECKPOINT_EVERY } from '../worker/documentTrace';
import { intOption, parseCli } from './args';
import { runDocumentBench } from './benchDocument';
import { UsageError } from './errors';
import { benchTrainRun } from './benchTrainRun';
import { median } from './stats';

const VOCAB = 65, BATCH = 32, SEQ = 64, LR = 2e-3;
const CONFIGS: readonly BenchConfig[] = [
  { module: 'LSTM', hidden: 128, layers: 1 }, { module: 'LSTM', hidden: 256, layers: 1 },
  { module: 'LSTM', hidden: 512, layers: 1 }, { module: 'LSTM', hidden: 256, layers: 2 },
];
const WORD = { vocab: 10_000, embedding: 128, hidden: 256, batch: 32, seq: 64 } as const;
const CLASSIFY = { vocab: 20_000, embedding: 100, hidden: 128, layers: 2, classes: 4, batch: 64, minLength: 20, maxLength: 200 } as const;
const WORKLOADS = ['char', 'word-lm', 'classify'] as const;
type WorkloadName = (typeof WORKLOADS)[number];
const PYTHON = '/usr/bin/python3';
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-openmp';

interface BenchConfig { readonly module: RnnModule; readonly hidden: number; readonly layers: number }
interface Timing { readonly msPerStep: number; readonly tokensPerSec: number; readonly samples: number[] }

/** One measured training workload: the model, its batches and the same workload's arguments for bench_torch.py. */
interface Workload {
  readonly name: WorkloadName;
  readonly label: string;
  /** The char LM's size (char workloads only). */
  readonly config?: BenchConfig;
  readonly model: ModelConfig;
  readonly options: LmTrainOptions;
  /** Tokens that enter the model per step (on average, for variable lengths). */
  readonly tokensPerStep: number;
  batch(rng: Rng): LmBatch;
  readonly torchArgs: readonly string[];
}

interface Row { readonly workload: Workload; readonly engine: string; readonly timing: Timing }

const timing = (w: Workload, samples: number[]): Timing => {
  const ms = median(samples);
  return { msPerStep: ms, tokensPerSec: w.tokensPerStep / (ms / 1000), samples };
};

/** Next-token batches over random ids: inputs [B, T] and targets shifted by one. */
function lmBatch(rng: Rng, V: number, B: number, T: number): LmBatch {
  const ids = Int32Array.from({ length: B * (T + 1) }, () => rng.int(V));
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    inputs[b * T + t] = ids[b * (T + 1) + t];
    targets[b * T + t] = ids[b * (T + 1) + t + 1];
  }
  return { batchSize: B, seqLen: T, inputs, targets };
}

function charWorkload(c: BenchConfig): Workload {
  return {
    name: 'char', label: `${c.module} H=${c.hidden} L=${c.layers}`, config: c,
    model: modelConfig({ rnn: rnnConfig({ module: c.module, inputSize: VOCAB, hiddenSize: c.hidden, numLayers: c.layers }), vocabSize: VOCAB, outputSize: VOCAB }),
    options: { optimizer: { kind: 'adam', lr: LR }, stateful: true },
    tokensPerStep: BATCH * SEQ,
    batch: (rng) => lmBatch(rng, VOCAB, BATCH, SEQ),
    torchArgs: ['--configs', JSON.stringify([c]), '--vocab', `${VOCAB}`, '--batch', `${BATCH}`, '--seq', `${SEQ}`],
  };
}

function wordWorkload(): Workload {
  const { vocab, embedding, hidden, batch, seq } = WORD;
  return {
    name: 'word-lm', label: `word-lm E=${embedding} H=${hidden}`,
    model: modelConfig({
      rnn: rnnConfig({ module: 'LSTM', inputSize: embedding, hiddenSize: hidden }), vocabSize: vocab,
      embedding: { numEmbeddings: vocab, embeddingDim: embedding, paddingIdx: null }, outputSize: vocab,
    }),
    options: { optimizer: { kind: 'adam', lr: LR }, stateful: true },
    tokensPerStep: batch * seq,
    batch: (rng) => lmBatch(rng, vocab, batch, seq),
    torchArgs: ['--workload', 'word-lm', '--vocab', `${vocab}`, '--embedding', `${embedding}`, '--hidden', `${hidden}`,
      '--batch', `${batch}`, '--seq', `${seq}`],
  };
}

function classifyWorkload(): Workload {
  const { vocab, embedding, hidden, layers, classes, batch, minLength, maxLength } = CLASSIFY;
  return {
    name: 'classify', label: `classify biLSTM ${layers}x${hidden}`,
    model: modelConfig({
      rnn: rnnConfig({ module: 'LSTM', inputSize: embedding, hiddenSize: hidden, numLayers: layers, bidirectional: true }),
      vocabSize: vocab, embedding: { numEmbeddings: vocab, embeddingDim: embedding, paddingIdx: 0 }, readout: 'last', outputSize: classes,
    }),
    options: { optimizer: { kind: 'adam', lr: LR }, stateful: false },
    tokensPerStep: batch * (minLength + maxLength) / 2,
    batch(rng) {
      // Padded to the longest possible length with token 0 (padding_idx), as a DataLoader with a fixed pad would.
      const T = maxLength;
      const lengths = Int32Array.from({ length: batch }, () => minLength + rng.int(maxLength - minLength + 1));
      const inputs = new Int32Array(batch * T);
      for (let b = 0; b < batch; b++) for (let t = 0; t < lengths[b]; t++) inputs[b * T + t] = 1 + rng.int(vocab - 1);
      const targets = Int32Array.from({ length: batch }, () => rng.int(classes));
      return { batchSize: batch, seqLen: T, inputs, targets, lengths };
    },
    torchArgs: ['--workload', 'classify', '--vocab', `${vocab}`, '--embedding', `${embedding}`, '--hidden', `${hidden}`,
      '--layers', `${layers}`, '--classes', `${classes}`, '--batch', `${batch}`, '--min-length', `${minLength}`, '--max-length', `${maxLength}`],
  };
}

/** An engine under test, created once per workload and kept warm across rounds. */
interface Contender {
  readonly engine: LmEngine;
  readonly rng: Rng;
  readonly samples: number[];
}

/** `threads`: what the native and wasm engines may use (undefined: their own choice). */
function contender(engine: EngineChoice, w: Workload, warmup: number, threads: 1 | 2 | undefined): Contender {
  const e = threads && engine === 'native' ? createNativeLmEngine(w.model, undefined, { threads })
    : threads && engine === 'wasm' ? createWasmLmEngine(w.model, undefined, { threads }) : createLmEngine(w.model, { engine });
  const rng = createRng(1);
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now();
    e.trainStep(w.batch(rng), w.options);
    if (performance.now() - t0 > 2000) break; // a slow engine is warm after one step
  }
  return { engine: e, rng, samples: [] };
}

/** Adds up to `steps` timed steps; a slow engine stops after `budgetMs` (at least one step). */
function timeSteps(x: Contender, w: Workload, steps: number, budgetMs: number): void {
  const begin = performance.now();
  for (let i = 0; i < steps && (i === 0 || performance.now() - begin < budgetMs); i++) {
    const batch = w.batch(x.rng);
    const t0 = performance.now();
    x.engine.trainStep(batch, w.options);
    x.samples.push(performance.now() - t0);
  }
}

function torchScript(): string | undefined {
  return [join(__dirname, '../scripts/bench_torch.py'), join(__dirname, '../../scripts/bench_torch.py')].find((p) => existsSync(p));
}

function torchEnv(threads: 1 | 2 = 2): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: `${threads}` };
  if (existsSync(OPENBLAS)) env.LD_LIBRARY_PATH = [OPENBLAS, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return env;
}

function torchAvailable(): boolean {
  return existsSync(PYTHON) && torchScript() !== undefined
    && spawnSync(PYTHON, ['-c', 'import torch'], { env: torchEnv(), stdio: 'ignore' }).status === 0;
}

function timeTorch(w: Workload, steps: number, warmup: number, threads: 1 | 2): number[] {
  const r = spawnSync(PYTHON, [torchScript()!, ...w.torchArgs, '--lr', `${LR}`, '--steps', `${steps}`, '--warmup', `${warmup}`, '--threads', `${threads}`],
    { env: torchEnv(threads), encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench_torch.py failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  const out = JSON.parse(r.stdout) as { results: { samples: number[] }[] };
  return out.results[0].samples;
}

interface TraceTiming { readonly chars: number; readonly streams: number; readonly seconds: number; readonly engine: string }

function timeTrace(chars: number, streams: number, choice: 'native' | 'wasm'): TraceTiming {
  const cfg = charWorkload({ module: 'LSTM', hidden: 256, layers: 1 }).model;
  const e = createLmEngine(cfg, { engine: choice });
  const params = e.getParameters();
  const engine = e.name;
  e.dispose();
  const rng = createRng(3);
  const tokens = Int32Array.from({ length: chars }, () => rng.int(VOCAB));
  // What a trace viewer keeps: h, c and the gates as float32, one chunk at a time.
  let checksum = 0;
  const t0 = performance.now();
  traceLm(cfg, params, tokens, {
    engine: choice, streams, chunkSteps: 256,
    onChunk(chunk) {
      const l = chunk.layers[0];
      checksum += l.h[l.h.length - 1] + (l.c ? l.c[0] : 0) + l.gates[0];
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (!Number.isFinite(checksum)) throw new Error('trace produced non-finite values');
  return { chars, streams, seconds, engine };
}

const HELP = `usage: gatescope bench [--workloads char,word-lm,classify] [--engines native,wasm,...] [options]
       gatescope bench --document [N] [--hidden 256,256x2] [--windows W] [--torch-chars C] [--no-torch] [--json]
       gatescope bench --train-run [--engine E] [--steps N] [--rounds R] [--text FILE] [--json]
Training throughput of each engine, PyTorch (${PYTHON}, OpenBLAS) timed on the same workload in the same run:
  char      vocab ${VOCAB} one-hot -> LSTM -> Linear, batch ${BATCH}, seq ${SEQ}, H = 128, 256, 512 and 2x256
  word-lm   Embedding(${WORD.vocab}, ${WORD.embedding}) -> LSTM ${WORD.hidden} -> Linear(${WORD.vocab}), batch ${WORD.batch}, seq ${WORD.seq}
  classify  Embedding(${CLASSIFY.vocab}, ${CLASSIFY.embedding}) -> biLSTM ${CLASSIFY.layers}x${CLASSIFY.hidden} -> last -> Linear(${CLASSIFY.classes}), batch ${CLASSIFY.batch}, lengths ${CLASSIFY.minLength}-${CLASSIFY.maxLength} packed
  all with Adam on cross-entropy, float32; then a 1M-character forward with trace (--no-trace to skip)
  --workloads W      comma-separated (all three)     --engines E      comma-separated (every available but reference)
  --rounds R         PyTorch and the engines take turns R times (3); medians
  --steps N          timed steps per round (3)       --warmup N       untimed steps first (6)
  --threads 1|2      PyTorch and the native / wasm engines on that many threads
  --quick            only char H=128                 --no-torch       skip PyTorch
  --trace-chars N    --trace-streams S                the forward-with-trace (1000000 chars in 64 streams)
  --json             one JSON object instead of the table
--document [N]: one N-character document (1000000) prepared and windowed as the extension does, against nn.LSTM.
--train-run: a default Train char LSTM run (evaluations, checkpoints, samples) against its bare steps.
`;

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.includes('--train-run')) return benchTrainRun(args.filter((a) => a !== '--train-run'));
  // --document [N]: the single-sequence document preparation benchmark (src/cli/benchDocument.ts).
  const doc = args.indexOf('--document');
  if (doc >= 0) {
    const next = args[doc + 1];
    const counted = next !== undefined && /^\d+$/.test(next);
    const chars = counted ? Number(next) : 1_000_000;
    if (!(chars >= 2 * DEFAULT_CHECKPOINT_EVERY)) throw new UsageError(`--document needs at least ${2 * DEFAULT_CHECKPOINT_EVERY} characters, got ${chars}`);
    return runDocumentBench([...args.slice(0, doc), ...args.slice(doc + (counted ? 2 : 1))], chars);
  }
  const { values } = parseCli(args, {
    json: { type: 'boolean' }, engines: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' },
    'no-torch': { type: 'boolean' }, 'trace-chars': { type: 'string' }, 'trace-streams': { type: 'string' },
    'no-trace': { type: 'boolean' }, quick: { type: 'boolean' }, rounds: { type: 'string' }, workloads: { type: 'string' },
    threads: { type: 'string' },
  });
  const steps = intOption(values.steps, '--steps', 3, 1);
  // Six warm-up steps: the wasm engine spends them choosing between one and two threads.
  const warmup = intOption(values.warmup, '--warmup', 6, 0);
  // PyTorch and each engine take turns, `rounds` times: on a shared machine the load drifts, and
  // alternating keeps the two sides of each ratio under the same conditions.
  const rounds = intOption(values.rounds, '--rounds', 3, 1);
  // --threads 1: PyTorch and the native / wasm engines on one thread each (steadier on a busy machine).
  const threads = values.threads === undefined ? undefined : intOption(values.threads, '--threads', 2, 1);
  if (threads !== undefined && threads > 2) throw new UsageError(`--threads must be 1 or 2, got "${values.threads}"`);
  const torchThreads: 1 | 2 = threads === 1 ? 1 : 2;
  const traceChars = intOption(values['trace-chars'], '--trace-chars', 1_000_000, 1);
  const traceStreams = intOption(values['trace-streams'], '--trace-streams', 64, 1);
  if (traceChars % traceStreams !== 0) throw new UsageError(`--trace-chars ${traceChars} must be a multiple of --trace-streams ${traceStreams}`);
  // --quick alone times the smallest char LM; --workloads picks any (with --quick, still the smallest char LM).
  const names = (values.workloads ?? (values.quick ? 'char' : WORKLOADS.join(','))).split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(WORKLOADS as readonly string[]).includes(n)) throw new UsageError(`unknown workload "${n}" (workloads: ${WORKLOADS.join(', ')})`);
  }
  const workloads: Workload[] = [];
  if (names.includes('char')) workloads.push(...(values.quick ? CONFIGS.slice(0, 1) : CONFIGS).map(charWorkload));
  if (names.includes('word-lm')) workloads.push(wordWorkload());
  if (names.includes('classify')) workloads.push(classifyWorkload());
  const available = availableEngines();
  const engines = (values.engines ?? available.filter((e) => e !== 'reference').join(',')).split(',').map((s) => s.trim()) as EngineChoice[];
  for (const e of engines) {
    if (!available.includes(e)) throw new UsageError(`engine "${e}" is not available here (available: ${available.join(', ')})`);
  }
  // TensorFlow.js on its WASM backend (its pure-JS default would take minutes per step).
  const tfjsBackend = engines.includes('tfjs') ? await initTfjsBackend() : undefined;
  const withTorch = !values['no-torch'] && torchAvailable();
  const log = (line: string): void => { if (!values.json) process.stdout.write(`${line}\n`); };

  log(`gatescope bench: ${names.join(', ')}; Adam, cross-entropy, float32`);
  if (names.includes('char')) log(`  char: vocab ${VOCAB} one-hot -> rnn -> Linear, batch ${BATCH}, seq ${SEQ}`);
  if (names.includes('word-lm')) log(`  word-lm: Embedding(${WORD.vocab}, ${WORD.embedding}) -> LSTM ${WORD.hidden} -> Linear(${WORD.vocab}), batch ${WORD.batch}, seq ${WORD.seq}`);
  if (names.includes('classify')) {
    log(`  classify: Embedding(${CLASSIFY.vocab}, ${CLASSIFY.embedding}) -> bidirectional LSTM ${CLASSIFY.layers}x${CLASSIFY.hidden} -> last -> `
      + `Linear(${CLASSIFY.classes}), batch ${CLASSIFY.batch}, lengths ${CLASSIFY.minLength}-${CLASSIFY.maxLength} (packed)`);
  }
  log(`${rounds} rounds x ${steps} timed steps after ${warmup} warm-up, PyTorch and engines alternating; medians`);
  log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (tfjsBackend) log(`tfjs backend: ${tfjsBackend}`);
  log(withTorch ? `PyTorch: ${PYTHON} scripts/bench_torch.py, ${torchThreads} thread${torchThreads === 1 ? '' : 's'}${existsSync(OPENBLAS) ? ', OpenBLAS (openmp)' : ''}`
    : 'PyTorch: not timed (no torch for /usr/bin/python3, or --no-torch)');
  if (threads) log(`native and wasm engines: ${threads} thread${threads === 1 ? '' : 's'}`);
  log('');
  log(`${'workload'.padEnd(24)}${'engine'.padEnd(16)}${'ms/step'.padStart(10)}${'tokens/s'.padStart(10)}${'torch ms'.padStart(10)}${'ratio'.padStart(8)}`);
  const rows: Row[] = [];
  const torch: { workload: Workload; timing: Timing }[] = [];
  for (const w of workloads) {
    const torchSamples: number[] = [];
    const contenders: Contender[] = [];
    for (const e of engines) {
      try {
        contenders.push(contender(e, w, warmup, threads as 1 | 2 | undefined));
      } catch (err) {
        if (!(err instanceof EngineUnavailableError)) throw err;
        log(`${w.label.padEnd(24)}${e.padEnd(16)}skipped: ${err.message}`); // e.g. tfjs runs only the one-hot char LM
      }
    }
    for (let round = 0; round < rounds; round++) {
      if (withTorch) torchSamples.push(...timeTorch(w, steps, warmup, torchThreads));
      for (const x of contenders) timeSteps(x, w, steps, 15_000 / rounds);
    }
    for (const x of contenders) x.engine.dispose();
    const tt = withTorch ? timing(w, torchSamples) : undefined;
    if (tt) torch.push({ workload: w, timing: tt });
    for (const x of contenders) {
      const r = { name: x.engine.name, timing: timing(w, x.samples) };
      rows.push({ workload: w, engine: r.name, timing: r.timing });
      const ratio = tt ? tt.msPerStep / r.timing.msPerStep : undefined;
      log(`${w.label.padEnd(24)}${r.name.padEnd(16)}${r.timing.msPerStep.toFixed(1).padStart(10)}${Math.round(r.timing.tokensPerSec).toString().padStart(10)}`
        + `${tt ? tt.msPerStep.toFixed(1).padStart(10) : '-'.padStart(10)}${ratio ? ratio.toFixed(2).padStart(8) : '-'.padStart(8)}`);
    }
    if (tt) log(`${w.label.padEnd(24)}${'pytorch'.padEnd(16)}${tt.msPerStep.toFixed(1).padStart(10)}${Math.round(tt.tokensPerSec).toString().padStart(10)}`);
  }
  log('ratio = gatescope throughput / PyTorch throughput on the same workload, measured in this run (> 1: faster)');
  // The long trace on each fast engine benchmarked (the js engine would take minutes), with the char workload.
  const traceEngines = values['no-trace'] || !names.includes('char') ? [] : (['native', 'wasm'] as const).filter((e) => engines.includes(e));
  const traces = traceEngines.map((e) => timeTrace(traceChars, traceStreams, e));
  if (traces.length) log('');
  for (const trace of traces) {
    log(`trace: ${trace.chars} chars, LSTM H=256, forward with h/c/gates, ${trace.streams} parallel streams, ${trace.engine}: ${trace.seconds.toFixed(2)} s`);
  }
  if (values.json) {
    // char rows keep their config fields and chars/s; every row has its workload and tokens/s.
    const fields = (w: Workload) => ({ workload: w.name, ...(w.config ?? {}) });
    const torchMs = (w: Workload): number | undefined => torch.find((t) => t.workload === w)?.timing.msPerStep;
    process.stdout.write(`${JSON.stringify({
      workload: { vocab: VOCAB, batch: BATCH, seq: SEQ, optimizer: 'adam', lr: LR, dtype: 'float32' },
      workloads: workloads.map((w) => ({ name: w.name, label: w.label, tokensPerStep: w.tokensPerStep })),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
      threads: { torch: torchThreads, engines: threads ?? 'auto' },
      results: rows.map((r) => {
        const t = torchMs(r.workload);
        return { ...fields(r.workload), engine: r.engine, ...r.timing, ...(r.workload.name === 'char' ? { charsPerSec: r.timing.tokensPerSec } : {}),
          torchMsPerStep: t, ratio: t !== undefined ? t / r.timing.msPerStep : undefined };
      }),
      torch: torch.map((t) => ({ ...fields(t.workload), ...t.timing })),
      traces,
    }, null, 2)}\n`);
  }
  return 0;
}
