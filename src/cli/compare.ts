// gatescope compare --config C.json --engines reference,tfjs --steps N [--json]: trains every engine
// from the same initial weights on the same (seeded random) batches and reports, per step, each
// engine's loss and the relative error of its loss and weights against the first engine.
import { parseRnnConfig } from '../core/config';
import type { LmBatch, LmTrainOptions, OptimizerConfig, OptimizerKind } from '../core/engine';
import { type ModelConfig, modelConfig } from '../core/model';
import { initModelParameters } from '../core/init';
import { createRng } from '../core/random';
import { relativeError, values as valuesOf } from '../core/diff/metrics';
import { type EngineChoice, createLmEngine, initTfjsBackend } from '../engines';
import { parseCli, requireOption } from './args';
import { UsageError } from './errors';
import { readJson } from './io';

const HELP = `usage: gatescope compare --config C.json --engines reference,tfjs [--steps N] [--json]
  C.json   the recurrent config in PyTorch spelling (module, hidden_size, num_layers, ...; input_size is
           vocab_size) plus vocab_size, and optionally batch_size (8), seq_len (16), seed (0),
           optimizer {kind: sgd|adam|rmsprop|adagrad, lr, ...} (adam, lr 1e-3), clip_max_norm, stateful (true)
  --engines  two or more of reference, js, wasm, tfjs (the first is the baseline)
  --steps    training steps (default 10)
tfjs computes in float32: expect relative errors around 1e-6…1e-4 against a float32 reference.
`;

interface CompareSetup {
  readonly cfg: ModelConfig;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly seed: number;
  readonly train: LmTrainOptions;
}

function setupOf(json: unknown, path: string): CompareSetup {
  if (typeof json !== 'object' || json === null) throw new UsageError(`${path}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  const vocab = o.vocab_size ?? o.vocabSize;
  if (typeof vocab !== 'number' || !Number.isInteger(vocab) || vocab < 2) throw new UsageError(`${path}: vocab_size must be an integer ≥ 2`);
  const rnn = parseRnnConfig({ ...o, input_size: vocab });
  const int = (k: string, d: number): number => {
    const v = o[k] ?? d;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new UsageError(`${path}: ${k} must be a non-negative integer`);
    return v;
  };
  const opt = (o.optimizer ?? { kind: 'adam', lr: 1e-3 }) as Record<string, unknown>;
  const kind = String(opt.kind ?? 'adam') as OptimizerKind;
  if (!['sgd', 'adam', 'rmsprop', 'adagrad'].includes(kind)) throw new UsageError(`${path}: optimizer.kind "${kind}" is not sgd, adam, rmsprop or adagrad`);
  const optimizer = { ...opt, kind, lr: Number(opt.lr ?? 1e-3) } as OptimizerConfig;
  const clip = typeof o.clip_max_norm === 'number' ? { maxNorm: o.clip_max_norm } : undefined;
  return {
    cfg: modelConfig({ rnn, vocabSize: vocab }),
    batchSize: int('batch_size', 8) || 1, seqLen: int('seq_len', 16) || 1, seed: int('seed', 0),
    train: { optimizer, clip, stateful: o.stateful !== false },
  };
}

function randomBatch(rng: ReturnType<typeof createRng>, B: number, T: number, V: number): LmBatch {
  const stream = Int32Array.from({ length: B * (T + 1) }, () => rng.int(V));
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    inputs[b * T + t] = stream[b * (T + 1) + t];
    targets[b * T + t] = stream[b * (T + 1) + t + 1];
  }
  return { batchSize: B, seqLen: T, inputs, targets };
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseCli(args, {
    config: { type: 'string' }, engines: { type: 'string' }, steps: { type: 'string' }, json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const configPath = requireOption(values.config, '--config C.json');
  const setup = setupOf(readJson(configPath), configPath);
  const names = requireOption(values.engines, '--engines a,b').split(',').map((s) => s.trim()).filter(Boolean);
  const known = ['reference', 'js', 'native', 'wasm', 'tfjs'];
  for (const n of names) if (!known.includes(n)) throw new UsageError(`--engines: unknown engine "${n}" (${known.join(', ')})`);
  if (names.length < 2) throw new UsageError('--engines needs at least two engines to compare');
  const steps = Number(values.steps ?? 10);
  if (!Number.isInteger(steps) || steps < 1) throw new UsageError(`--steps must be a positive integer, got "${values.steps}"`);
  let backend = '';
  if (names.includes('tfjs')) {
    // WASM when tfjs' .wasm files are found (the build ships them next to the bundles), else cpu.
    backend = await initTfjsBackend();
  }
  const init = initModelParameters(setup.cfg, createRng(setup.seed));
  const engines = names.map((n) => {
    try {
      return createLmEngine(setup.cfg, { engine: n as EngineChoice, params: init });
    } catch (e) {
      throw new UsageError(`engine ${n}: ${(e as Error).message}`);
    }
  });
  const rng = createRng(setup.seed + 1);
  const rows: { step: number; losses: number[]; lossRelErr: number[]; weightRelErr: number[]; worst: string[] }[] = [];
  for (let s = 1; s <= steps; s++) {
    const batch = randomBatch(rng, setup.batchSize, setup.seqLen, setup.cfg.vocabSize);
    const losses = engines.map((e) => e.trainStep(batch, setup.train).loss);
    const base = engines[0].getParameters();
    const weightRelErr: number[] = [];
    const worst: string[] = [];
    for (const e of engines.slice(1)) {
      let max = 0;
      let at = '';
      for (const [name, t] of e.getParameters()) {
        const err = relativeError(valuesOf(base.get(name)!), valuesOf(t));
        if (err >= max) { max = err; at = name; }
      }
      weightRelErr.push(max);
      worst.push(at);
    }
    rows.push({ step: s, losses, lossRelErr: losses.slice(1).map((l) => Math.abs(l - losses[0]) / Math.abs(losses[0])), weightRelErr, worst });
  }
  engines.forEach((e) => e.dispose());
  if (values.json) {
    process.stdout.write(JSON.stringify({ engines: names, tfjsBackend: backend || undefined, steps: rows }, null, 1) + '\n');
    return 0;
  }
  const c = setup.cfg.rnn;
  process.stdout.write(`${c.module} V=${setup.cfg.vocabSize} H=${c.hiddenSize} L=${c.numLayers} ${c.dtype}, B=${setup.batchSize} T=${setup.seqLen}, ${setup.train.optimizer.kind} lr=${setup.train.optimizer.lr}${backend ? `, tfjs backend ${backend}` : ''}\n`);
  const others = names.slice(1);
  process.stdout.write(`step  ${names.map((n) => `loss(${n})`.padEnd(17)).join('')}${others.map((n) => `Δloss(${n})  Δweights(${n})  worst`.padEnd(48)).join('')}\n`);
  for (const r of rows) {
    const cols = others.map((_, i) => `${r.lossRelErr[i].toExponential(2).padEnd(12)}${r.weightRelErr[i].toExponential(2).padEnd(16)}${r.worst[i]}`.padEnd(48)).join('');
    process.stdout.write(`${String(r.step).padStart(4)}  ${r.losses.map((l) => l.toFixed(6).padEnd(17)).join('')}${cols}\n`);
  }
  return 0;
}
