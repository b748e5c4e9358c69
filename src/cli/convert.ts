// gatescope convert IN --out OUT [--to safetensors|npz|keras-h5]: import any supported model file to
// the canonical layout and write it for another tool (format from --to or OUT's extension).
import { exportModel, type ExportFormat } from '../core/formats/export';
import { describeModel } from '../core/model';
import { loadModelFile } from '../node/loadModelFile';
import { parseCli, requireOption } from './args';
import { UsageError } from './errors';
import { IMPORT_FLAGS_HELP, IMPORT_FLAG_OPTIONS, importOptions } from './importFlags';
import { writeOutput } from './io';

const HELP = `usage: gatescope convert IN --out OUT [--to safetensors|npz|keras-h5] [import flags]
  IN     .pt, .safetensors, .npz, Keras .h5/.weights.h5/.keras, TensorFlow.js model.json, .onnx
  OUT    .safetensors / .npz: PyTorch state_dict names (rnn.* and head.* when a head exists);
         .h5: Keras 2 full-model layout (model_config + model_weights, as model.save writes; checked with h5py, not with Keras itself)
${IMPORT_FLAGS_HELP}
`;

function formatOf(out: string, to: string | undefined): ExportFormat {
  const f = to ?? (/\.safetensors$/i.test(out) ? 'safetensors' : /\.npz$/i.test(out) ? 'npz' : /\.h5$/i.test(out) ? 'keras-h5' : undefined);
  if (f !== 'safetensors' && f !== 'npz' && f !== 'keras-h5') {
    throw new UsageError(`${out}: cannot tell the output format; pass --to safetensors, npz or keras-h5`);
  }
  return f;
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    out: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...IMPORT_FLAG_OPTIONS,
  }, true);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one input file, got ${positionals.length}`);
  const out = requireOption(values.out, '--out OUT');
  const format = formatOf(out, values.to);
  const model = await loadModelFile(positionals[0], importOptions(values));
  writeOutput(out, await exportModel(model, format));
  const c = model.config;
  const what = model.model ? describeModel(model.model) : `${c.module} ${c.inputSize}→${c.hiddenSize} ×${c.numLayers}${c.bidirectional ? ' bidirectional' : ''} (recurrent stack only)`;
  process.stdout.write(`${positionals[0]} (${model.source.format}, ${model.source.layout} layout) → ${out} (${format}): ${what}\n`);
  for (const n of model.source.notes) process.stdout.write(`note: ${n}\n`);
  return 0;
}
