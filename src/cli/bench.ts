// `gatescope bench [--json]`: training throughput of every available engine on a char-LM workload
// (vocab 65 one-hot, batch 32, seq 64, Adam, cross-entropy, float32), PyTorch timed on the identical
// workload in the same run when /usr/bin/python3 has torch, and a long forward-with-trace.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { rnnConfig, type RnnModule } from '../core/config';
import type { LmBatch, LmEngine, LmTrainOptions } from '../core/engine';
import { type ModelConfig, modelConfig } from '../core/model';
import { createRng } from '../core/random';
import { type EngineChoice, availableEngines, createLmEngine, initTfjsBackend, traceLm } from '../engines';
import { parseCli } from './args';
import { UsageError } from './errors';

const VOCAB = 65, BATCH = 32, SEQ = 64, LR = 2e-3;
const CONFIGS: readonly BenchConfig[] = [
  { module: 'LSTM', hidden: 128, layers: 1 }, { module: 'LSTM', hidden: 256, layers: 1 },
  { module: 'LSTM', hidden: 512, layers: 1 }, { module: 'LSTM', hidden: 256, layers: 2 },
];
const PYTHON = '/usr/bin/python3';
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-openmp';

interface BenchConfig { readonly module: RnnModule; readonly hidden: number; readonly layers: number }
interface Timing { readonly msPerStep: number; readonly charsPerSec: number; readonly samples: number[] }
interface Row { readonly config: BenchConfig; readonly engine: string; readonly timing: Timing }

const label = (c: BenchConfig): string => `${c.module} H=${c.hidden} L=${c.layers}`;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const timing = (samples: number[]): Timing => {
  const ms = median(samples);
  return { msPerStep: ms, charsPerSec: (BATCH * SEQ) / (ms / 1000), samples };
};

function lmConfig(c: BenchConfig): ModelConfig {
  return modelConfig({ rnn: rnnConfig({ module: c.module, inputSize: VOCAB, hiddenSize: c.hidden, numLayers: c.layers }), vocabSize: VOCAB, outputSize: VOCAB });
}

function randomBatch(rng: ReturnType<typeof createRng>): LmBatch {
  const ids = Int32Array.from({ length: BATCH * (SEQ + 1) }, () => rng.int(VOCAB));
  const inputs = new Int32Array(BATCH * SEQ), targets = new Int32Array(BATCH * SEQ);
  for (let b = 0; b < BATCH; b++) for (let t = 0; t < SEQ; t++) {
    inputs[b * SEQ + t] = ids[b * (SEQ + 1) + t];
    targets[b * SEQ + t] = ids[b * (SEQ + 1) + t + 1];
  }
  return { batchSize: BATCH, seqLen: SEQ, inputs, targets };
}

/** An engine under test, created once per config and kept warm across rounds. */
interface Contender {
  readonly engine: LmEngine;
  readonly rng: ReturnType<typeof createRng>;
  readonly samples: number[];
}

const TRAIN_OPTIONS: LmTrainOptions = { optimizer: { kind: 'adam', lr: LR }, stateful: true };

function contender(engine: EngineChoice, c: BenchConfig, warmup: number): Contender {
  const e = createLmEngine(lmConfig(c), { engine });
  const rng = createRng(1);
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now();
    e.trainStep(randomBatch(rng), TRAIN_OPTIONS);
    if (performance.now() - t0 > 2000) break; // a slow engine is warm after one step
  }
  return { engine: e, rng, samples: [] };
}

/** Adds up to `steps` timed steps; a slow engine stops after `budgetMs` (at least one step). */
function timeSteps(x: Contender, steps: number, budgetMs: number): void {
  const begin = performance.now();
  for (let i = 0; i < steps && (i === 0 || performance.now() - begin < budgetMs); i++) {
    const batch = randomBatch(x.rng);
    const t0 = performance.now();
    x.engine.trainStep(batch, TRAIN_OPTIONS);
    x.samples.push(performance.now() - t0);
  }
}

function torchScript(): string | undefined {
  return [join(__dirname, '../scripts/bench_torch.py'), join(__dirname, '../../scripts/bench_torch.py')].find((p) => existsSync(p));
}

function torchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '2' };
  if (existsSync(OPENBLAS)) env.LD_LIBRARY_PATH = [OPENBLAS, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return env;
}

function torchAvailable(): boolean {
  return existsSync(PYTHON) && torchScript() !== undefined
    && spawnSync(PYTHON, ['-c', 'import torch'], { env: torchEnv(), stdio: 'ignore' }).status === 0;
}

function timeTorch(c: BenchConfig, steps: number, warmup: number): Timing {
  const r = spawnSync(PYTHON, [torchScript()!, '--configs', JSON.stringify([c]), '--vocab', `${VOCAB}`, '--batch', `${BATCH}`,
    '--seq', `${SEQ}`, '--lr', `${LR}`, '--steps', `${steps}`, '--warmup', `${warmup}`, '--threads', '2'],
  { env: torchEnv(), encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench_torch.py failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  const out = JSON.parse(r.stdout) as { results: { samples: number[] }[] };
  return timing(out.results[0].samples);
}

interface TraceTiming { readonly chars: number; readonly streams: number; readonly seconds: number; readonly engine: string }

function timeTrace(chars: number, streams: number, choice: 'native' | 'wasm'): TraceTiming {
  const c: BenchConfig = { module: 'LSTM', hidden: 256, layers: 1 };
  const cfg = lmConfig(c);
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

export async function run(args: string[]): Promise<number> {
  const { values } = parseCli(args, {
    json: { type: 'boolean' }, engines: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' },
    'no-torch': { type: 'boolean' }, 'trace-chars': { type: 'string' }, 'trace-streams': { type: 'string' },
    'no-trace': { type: 'boolean' }, quick: { type: 'boolean' }, rounds: { type: 'string' },
  });
  const int = (v: string | undefined, flag: string, dflt: number, min: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const steps = int(values.steps, '--steps', 3, 1);
  // Six warm-up steps: the wasm engine spends them choosing between one and two threads.
  const warmup = int(values.warmup, '--warmup', 6, 0);
  // PyTorch and each engine take turns, `rounds` times: on a shared machine the load drifts, and
  // alternating keeps the two sides of each ratio under the same conditions.
  const rounds = int(values.rounds, '--rounds', 3, 1);
  const traceChars = int(values['trace-chars'], '--trace-chars', 1_000_000, 1);
  const traceStreams = int(values['trace-streams'], '--trace-streams', 64, 1);
  if (traceChars % traceStreams !== 0) throw new UsageError(`--trace-chars ${traceChars} must be a multiple of --trace-streams ${traceStreams}`);
  const available = availableEngines();
  const engines = (values.engines ?? available.filter((e) => e !== 'reference').join(',')).split(',').map((s) => s.trim()) as EngineChoice[];
  for (const e of engines) {
    if (!available.includes(e)) throw new UsageError(`engine "${e}" is not available here (available: ${available.join(', ')})`);
  }
  // TensorFlow.js on its WASM backend (its pure-JS default would take minutes per step).
  const tfjsBackend = engines.includes('tfjs') ? await initTfjsBackend() : undefined;
  const configs = values.quick ? CONFIGS.slice(0, 1) : CONFIGS;
  const withTorch = !values['no-torch'] && torchAvailable();
  const log = (line: string): void => { if (!values.json) process.stdout.write(`${line}\n`); };

  log(`gatescope bench: char-LM vocab ${VOCAB} one-hot, batch ${BATCH}, seq ${SEQ}, Adam, cross-entropy, float32`);
  log(`${rounds} rounds x ${steps} timed steps after ${warmup} warm-up, PyTorch and engines alternating; medians`);
  log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (tfjsBackend) log(`tfjs backend: ${tfjsBackend}`);
  log(withTorch ? `PyTorch: ${PYTHON} scripts/bench_torch.py, 2 threads${existsSync(OPENBLAS) ? ', OpenBLAS (openmp)' : ''}` : 'PyTorch: not timed (no torch for /usr/bin/python3, or --no-torch)');
  log('');
  log(`${'config'.padEnd(18)}${'engine'.padEnd(16)}${'ms/step'.padStart(10)}${'chars/s'.padStart(10)}${'torch ms'.padStart(10)}${'ratio'.padStart(8)}`);
  const rows: Row[] = [];
  const torch: { config: BenchConfig; timing: Timing }[] = [];
  for (const c of configs) {
    const torchSamples: number[] = [];
    const contenders = engines.map((e) => contender(e, c, warmup));
    for (let round = 0; round < rounds; round++) {
      if (withTorch) torchSamples.push(...timeTorch(c, steps, warmup).samples);
      for (const x of contenders) timeSteps(x, steps, 15_000 / rounds);
    }
    for (const x of contenders) x.engine.dispose();
    const tt = withTorch ? timing(torchSamples) : undefined;
    if (tt) torch.push({ config: c, timing: tt });
    for (const x of contenders) {
      const r = { name: x.engine.name, timing: timing(x.samples) };
      rows.push({ config: c, engine: r.name, timing: r.timing });
      const ratio = tt ? tt.msPerStep / r.timing.msPerStep : undefined;
      log(`${label(c).padEnd(18)}${r.name.padEnd(16)}${r.timing.msPerStep.toFixed(1).padStart(10)}${Math.round(r.timing.charsPerSec).toString().padStart(10)}`
        + `${tt ? tt.msPerStep.toFixed(1).padStart(10) : '-'.padStart(10)}${ratio ? ratio.toFixed(2).padStart(8) : '-'.padStart(8)}`);
    }
    if (tt) log(`${label(c).padEnd(18)}${'pytorch'.padEnd(16)}${tt.msPerStep.toFixed(1).padStart(10)}${Math.round(tt.charsPerSec).toString().padStart(10)}`);
  }
  log('ratio = gatescope throughput / PyTorch throughput on the same workload, measured in this run (> 1: faster)');
  // The long trace on each fast engine benchmarked (the js engine would take minutes).
  const traceEngines = values['no-trace'] ? [] : (['native', 'wasm'] as const).filter((e) => engines.includes(e));
  const traces = traceEngines.map((e) => timeTrace(traceChars, traceStreams, e));
  if (traces.length) log('');
  for (const trace of traces) {
    log(`trace: ${trace.chars} chars, LSTM H=256, forward with h/c/gates, ${trace.streams} parallel streams, ${trace.engine}: ${trace.seconds.toFixed(2)} s`);
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({
      workload: { vocab: VOCAB, batch: BATCH, seq: SEQ, optimizer: 'adam', lr: LR, dtype: 'float32' },
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
      results: rows.map((r) => ({ ...r.config, engine: r.engine, ...r.timing,
        torchMsPerStep: torch.find((t) => t.config === r.config)?.timing.msPerStep,
        ratio: (() => { const t = torch.find((x) => x.config === r.config); return t ? t.timing.msPerStep / r.timing.msPerStep : undefined; })() })),
      torch: torch.map((t) => ({ ...t.config, ...t.timing })),
      traces,
    }, null, 2)}\n`);
  }
  return 0;
}
