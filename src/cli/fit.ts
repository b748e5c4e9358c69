// gatescope fit DIR --out OUT.safetensors: replays a PyTorch experiment from its case.json, init.safetensors
// and data.safetensors and writes the weights after every step (model trajectories, `step{s}.<name>`) or
// every epoch (the seed notebook's experiment, `epoch{e}.<name>`), for `gatescope diff`.
import { join } from 'node:path';
import { ConfigError } from '../core/config';
import { parseSafetensors, serializeSafetensors } from '../core/formats/safetensors';
import { parseSeedCase, runSeedExperiment } from '../core/seedExperiment';
import { type TensorMap, fromArray } from '../core/tensor';
import { isTrajectoryCase, parseTrajectoryCase, replayTrajectory, trajectoryBatches } from '../core/trajectory';
import { EngineUnavailableError, createLmEngine, type EngineChoice } from '../engines/index';
import { parseCli, requireOption } from './args';
import { UsageError } from './errors';
import { readInput, readJson, writeOutput } from './io';

const USAGE = `usage: gatescope fit DIR --out OUT.safetensors [--engine reference|js|native|wasm]
  DIR holds case.json, init.safetensors, data.safetensors (a PyTorch trajectory or the seed experiment)
  --engine   engine for trajectory cases (default reference; js, native and wasm run the models they support)
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    out: { type: 'string' }, engine: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, true);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected one experiment directory (case.json, init.safetensors, data.safetensors)');
  const dir = positionals[0];
  const outPath = requireOption(values.out, '--out OUT.safetensors');
  const casePath = join(dir, 'case.json');
  const json = readJson(casePath);
  const load = (name: string): TensorMap => parseSafetensors(readInput(join(dir, name)), join(dir, name)).tensors;
  const caseError = (err: unknown): never => {
    throw err instanceof UsageError ? err : new UsageError(`${casePath}: ${(err as Error).message.replace(/^case\.json: /, '')}`);
  };
  if (isTrajectoryCase(json)) return fitTrajectory(dir, json, outPath, (values.engine ?? 'reference') as EngineChoice, load, caseError);
  if (values.engine) throw new UsageError('--engine applies to trajectory cases only');
  let seedCase;
  try {
    seedCase = parseSeedCase(json);
  } catch (err) {
    return caseError(err);
  }
  const init = load('init.safetensors'), data = load('data.safetensors');
  const trajectory: TensorMap = new Map();
  runSeedExperiment(seedCase, init, data, ({ epoch, meanLoss, snapshot }) => {
    for (const [k, t] of snapshot) trajectory.set(k, t);
    process.stdout.write(`epoch ${epoch}  loss ${meanLoss.toPrecision(17)}${versus(seedCase.referenceLosses?.[epoch - 1], meanLoss)}\n`);
  });
  writeOutput(outPath, serializeSafetensors(trajectory, { producer: 'gatescope fit' }));
  process.stdout.write(`wrote ${outPath}: ${trajectory.size} tensors over ${seedCase.epochs} epochs\n`);
  return 0;
}

function versus(ref: number | undefined, value: number): string {
  return ref === undefined ? '' : `  (case.json ${ref.toPrecision(17)}, |Δ| ${Math.abs(value - ref).toExponential(1)})`;
}

function fitTrajectory(dir: string, json: unknown, outPath: string, engineChoice: EngineChoice,
  load: (name: string) => TensorMap, caseError: (err: unknown) => never): number {
  let c;
  try {
    c = parseTrajectoryCase(json);
  } catch (err) {
    return caseError(err);
  }
  const init = load('init.safetensors');
  let batches;
  try {
    batches = trajectoryBatches(c, load('data.safetensors'), join(dir, 'data.safetensors'));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  let engine;
  try {
    engine = createLmEngine(c.model, { engine: engineChoice, params: init });
  } catch (err) {
    if (err instanceof EngineUnavailableError) throw new UsageError(err.message);
    throw new UsageError(`${join(dir, 'init.safetensors')}: ${(err as Error).message}`);
  }
  const trajectory: TensorMap = new Map();
  const losses: number[] = [], gradNorms: number[] = [];
  try {
    replayTrajectory(c, engine, batches, ({ step, loss, gradNorm, snapshot }) => {
      for (const [k, t] of snapshot) trajectory.set(k, t);
      losses.push(loss);
      gradNorms.push(gradNorm);
      process.stdout.write(`step ${step}  loss ${loss.toPrecision(17)}${versus(c.losses?.[step - 1], loss)}\n`);
    });
  } finally {
    engine.dispose();
  }
  trajectory.set('losses', fromArray('float64', [losses.length], losses));
  trajectory.set('grad_norms', fromArray('float64', [gradNorms.length], gradNorms));
  writeOutput(outPath, serializeSafetensors(trajectory, { producer: `gatescope fit (${engine.name})` }));
  process.stdout.write(`wrote ${outPath}: ${trajectory.size} tensors over ${c.steps} steps (engine ${engine.name})\n`);
  return 0;
}
