// gatescope fit DIR --out OUT.safetensors: replays a seed experiment (case.json, init.safetensors,
// data.safetensors) with the reference LSTM and writes the weights after every epoch.
import { join } from 'node:path';
import { parseSafetensors, serializeSafetensors } from '../core/formats/safetensors';
import { parseSeedCase, runSeedExperiment } from '../core/seedExperiment';
import type { TensorMap } from '../core/tensor';
import { parseCli, requireOption } from './args';
import { UsageError } from './errors';
import { readInput, readJson, writeOutput } from './io';

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) {
    process.stdout.write('usage: gatescope fit DIR --out OUT.safetensors\n  DIR holds case.json, init.safetensors, data.safetensors\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected one experiment directory (case.json, init.safetensors, data.safetensors)');
  const dir = positionals[0];
  const outPath = requireOption(values.out, '--out OUT.safetensors');
  const casePath = join(dir, 'case.json');
  let seedCase;
  try {
    seedCase = parseSeedCase(readJson(casePath));
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError(`${casePath}: ${(err as Error).message.replace(/^case\.json: /, '')}`);
  }
  const load = (name: string): TensorMap => parseSafetensors(readInput(join(dir, name)), join(dir, name)).tensors;
  const init = load('init.safetensors'), data = load('data.safetensors');
  const trajectory: TensorMap = new Map();
  runSeedExperiment(seedCase, init, data, ({ epoch, meanLoss, snapshot }) => {
    for (const [k, t] of snapshot) trajectory.set(k, t);
    const ref = seedCase.referenceLosses?.[epoch - 1];
    const compare = ref === undefined ? '' : `  (case.json ${ref.toPrecision(17)}, |Δ| ${Math.abs(meanLoss - ref).toExponential(1)})`;
    process.stdout.write(`epoch ${epoch}  loss ${meanLoss.toPrecision(17)}${compare}\n`);
  });
  writeOutput(outPath, serializeSafetensors(trajectory, { producer: 'gatescope fit' }));
  process.stdout.write(`wrote ${outPath}: ${trajectory.size} tensors over ${seedCase.epochs} epochs\n`);
  return 0;
}
