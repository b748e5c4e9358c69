// gatescope trace --weights FILE --config CONFIG.json --inputs INPUTS.safetensors --out OUT.safetensors
// Outputs, final states, the per-timestep trace and (with loss_projection) gradients, named as in the
// PyTorch fixtures' io.safetensors. `gatescope trace MODEL --text FILE --out ...` traces a trained model.
import { type RnnConfig, parameterSpecs, parseRnnConfig } from '../core/config';
import { loadTensorFile } from '../core/formats/index';
import { parseSafetensors, serializeSafetensors } from '../core/formats/safetensors';
import { FIXTURE_LOSS, computeIo, fixtureLoss } from '../core/reference/io';
import { checkedParameters } from '../core/reference/rnn';
import { type TensorMap, formatShape } from '../core/tensor';
import { parseCli, requireOption } from './args';
import { UsageError } from './errors';
import { readInput, readJson, writeOutput } from './io';

const HELP = `usage: gatescope trace --weights FILE --config CONFIG.json --inputs INPUTS.safetensors --out OUT.safetensors
       gatescope trace MODEL.safetensors --text FILE --out TRACE.safetensors
  --weights  state_dict (.safetensors, .pt, .npz) with PyTorch names (a prefix such as "rnn." is found)
  --config   PyTorch constructor arguments: module, input_size, hidden_size, num_layers, bidirectional,
             batch_first, bias, nonlinearity, dtype
  --inputs   x, optional h0, c0, lengths; with loss_projection, gradients of
             ${FIXTURE_LOSS}
`;

export async function run(args: string[]): Promise<number> {
  if (args[0] && !args[0].startsWith('-')) return (await import('./traceDocument')).traceDocument(args);
  const { values } = parseCli(args, {
    weights: { type: 'string' }, config: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const weightsPath = requireOption(values.weights, '--weights FILE');
  const configPath = requireOption(values.config, '--config CONFIG.json');
  const inputsPath = requireOption(values.inputs, '--inputs INPUTS.safetensors');
  const outPath = requireOption(values.out, '--out OUT.safetensors');
  const cfg = withFile(configPath, () => parseRnnConfig(readJson(configPath)));
  const weights = withFile(weightsPath, () => moduleParameters(cfg, loadTensorFile(readInput(weightsPath), weightsPath)));
  const inputs = withFile(inputsPath, () => parseSafetensors(readInput(inputsPath), inputsPath).tensors);
  const io = withFile(inputsPath, () => computeIo(cfg, weights, inputs));
  writeOutput(outPath, serializeSafetensors(io, { producer: 'gatescope trace', config: JSON.stringify(cfg) }));
  const grads = [...io.keys()].filter((k) => k.startsWith('grad_')).length;
  const projection = inputs.get('loss_projection');
  process.stdout.write(`wrote ${outPath}: output ${formatShape(io.get('output')!.shape)}, ${io.size - grads} forward tensors`
    + (projection ? `, ${grads} gradients, loss ${fixtureLoss(io, projection).toPrecision(17)}` : '') + '\n');
  return 0;
}

/** Errors from parsing or checking a file, prefixed with that file's name. */
function withFile<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Error && !(err instanceof UsageError) && !err.message.startsWith(path)) {
      throw new UsageError(`${path}: ${err.message}`);
    }
    throw err;
  }
}

/** The module's parameters, accepting a whole-model state_dict whose names carry one common prefix. */
export function moduleParameters(cfg: RnnConfig, tensors: TensorMap): TensorMap {
  const names = parameterSpecs(cfg).map((s) => s.name);
  const candidates = new Set([...tensors.keys()].flatMap((k) => names.filter((n) => k.endsWith(n)).map((n) => k.slice(0, k.length - n.length))));
  const prefixes = [...candidates].filter((p) => names.every((n) => tensors.has(p + n)));
  if (prefixes.length === 0) {
    const missing = names.filter((n) => !tensors.has(n));
    throw new UsageError(`missing parameter ${missing[0]} for a ${cfg.module} with this config (found: ${[...tensors.keys()].slice(0, 6).join(', ')}${tensors.size > 6 ? ', …' : ''})`);
  }
  if (prefixes.length > 1 && !prefixes.includes('')) {
    throw new UsageError(`several modules match the config (prefixes ${prefixes.map((p) => `"${p}"`).join(', ')})`);
  }
  const prefix = prefixes.includes('') ? '' : prefixes[0];
  const params: TensorMap = new Map(names.map((n) => [n, tensors.get(prefix + n)!]));
  checkedParameters(cfg, params); // shape errors belong to the weights file, not the inputs
  return params;
}
