// gatescope trace --weights FILE --config CONFIG.json --inputs INPUTS.safetensors --out OUT.safetensors
// Outputs, final states, the per-timestep trace and (with loss_projection) gradients, named as in the
// PyTorch fixtures' io.safetensors. FILE is any format diff and convert read (a state_dict, a whole pickled
// module, safetensors, npz from-scratch layouts, Keras, TensorFlow.js, recurrentjs, ONNX); what the file
// records about the maths (a recurrent activation, an RNN's nonlinearity, a GRU variant) is used where the
// config leaves it out and must agree where the config gives it. `gatescope trace MODEL --text FILE --out
// ...` traces a trained model (src/cli/traceDocument.ts).
import { basename } from 'node:path';
import { type RnnConfig, parameterSpecs, parseRnnConfig } from '../core/config';
import { isHdf5, looksLikeSafetensors, readTensorFile } from '../core/formats/index';
import { guardRead } from '../core/formats/errors';
import { type ModelImportOptions, importTensorFile } from '../core/formats/model';
import { isZip } from '../core/formats/zip';
import { type ImportSource, type ImportedModel, rnnParams } from '../core/layouts/model';
import { ModelAmbiguityError, hintsFromModules } from '../core/modelFromTensors';
import { parseSafetensors, serializeSafetensors } from '../core/formats/safetensors';
import { FIXTURE_LOSS, computeIo, fixtureLoss } from '../core/reference/io';
import { checkedParameters } from '../core/reference/rnn';
import { type TensorMap, formatShape, toFloat } from '../core/tensor';
import { loadModelFile } from '../node/loadModelFile';
import { parseCli, requireOption } from './args';
import { UsageError } from './errors';
import { IMPORT_FLAGS_HELP, IMPORT_FLAG_OPTIONS, importOptions } from './importFlags';
import { readInput, readJson, writeOutput } from './io';

const HELP = `usage: gatescope trace --weights FILE --config CONFIG.json --inputs INPUTS.safetensors --out OUT.safetensors [import flags]
       gatescope trace MODEL --text FILE --out TRACE.safetensors
  --weights  any file diff and convert read: a state_dict (.pt, .safetensors, .npz; a prefix such as "rnn."
             is found), a whole pickled module, from-scratch arrays, Keras .h5/.keras, TensorFlow.js
             model.json, recurrentjs JSON, .onnx
  --config   PyTorch constructor arguments: module, input_size, hidden_size, num_layers, bidirectional,
             batch_first, bias, nonlinearity, dtype (and recurrent_activation, gru_reset). What the weights
             file records (a Keras recurrent_activation, a pickled nn.RNN's mode) is used when the config
             leaves it out; a config that contradicts it is refused
  --inputs   x, optional h0, c0, lengths; with loss_projection, gradients of
             ${FIXTURE_LOSS}
${IMPORT_FLAGS_HELP}
`;

export async function run(args: string[]): Promise<number> {
  if (args[0] && !args[0].startsWith('-')) return (await import('./traceDocument')).traceDocument(args);
  const { values } = parseCli(args, {
    weights: { type: 'string' }, config: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' },
    help: { type: 'boolean', short: 'h' }, ...IMPORT_FLAG_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const weightsPath = requireOption(values.weights, '--weights FILE');
  const configPath = requireOption(values.config, '--config CONFIG.json');
  const inputsPath = requireOption(values.inputs, '--inputs INPUTS.safetensors');
  const outPath = requireOption(values.out, '--out OUT.safetensors');
  const raw = readJson(configPath);
  const given = withFile(configPath, () => parseRnnConfig(raw));
  const { cfg, weights, notes } = await loadWeights(weightsPath, given, raw, configPath, importOptions(values));
  const inputs = withFile(inputsPath, () => parseSafetensors(readInput(inputsPath), inputsPath).tensors);
  const io = withFile(inputsPath, () => computeIo(cfg, weights, inputs));
  writeOutput(outPath, serializeSafetensors(io, { producer: 'gatescope trace', config: JSON.stringify(cfg) }));
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
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

/** Config keys that change the maths and that a file may record, in PyTorch's spelling and camelCase. */
const RECORDABLE: readonly { key: 'recurrentActivation' | 'nonlinearity' | 'gruReset'; snake: string; applies: (c: RnnConfig) => boolean }[] = [
  { key: 'recurrentActivation', snake: 'recurrent_activation', applies: (c) => c.module !== 'RNN' },
  { key: 'nonlinearity', snake: 'nonlinearity', applies: (c) => c.module === 'RNN' },
  { key: 'gruReset', snake: 'gru_reset', applies: (c) => c.module === 'GRU' },
];

/**
 * The config the trace runs: the one given, with what the weights file records filled in where the config
 * is silent; a config value that contradicts the file is refused, never silently overridden.
 */
export function reconcileConfig(cfg: RnnConfig, raw: unknown, recorded: ImportSource['recorded'], configPath: string, weightsPath: string): { cfg: RnnConfig; notes: string[] } {
  const o = (raw ?? {}) as Record<string, unknown>;
  const notes: string[] = [];
  let out = cfg;
  for (const { key, snake, applies } of RECORDABLE) {
    if (!applies(cfg)) continue;
    const explicit = o[snake] !== undefined || o[key] !== undefined;
    const fromFile = recorded?.[key];
    if (fromFile === undefined) continue;
    if (explicit && cfg[key] !== fromFile) {
      throw new UsageError(`${configPath}: ${snake} "${cfg[key]}" contradicts ${weightsPath}, which records ${fromFile}; drop it from the config or make it ${fromFile}`);
    }
    if (!explicit && cfg[key] !== fromFile) {
      out = { ...out, [key]: fromFile };
      notes.push(`${snake} ${fromFile}, as ${basename(weightsPath)} records (the config does not say)`);
    }
  }
  return { cfg: out, notes };
}

const isModelFormat = (bytes: Uint8Array, path: string): boolean =>
  /\.(onnx|json|h5|keras)$/i.test(path) || isHdf5(bytes) || (bytes[0] === 0x7b && !looksLikeSafetensors(bytes));

/** The recurrent parameters for `given`, from a file of any supported format, and the config to run. */
async function loadWeights(path: string, given: RnnConfig, raw: unknown, configPath: string, flags: ModelImportOptions): Promise<{ cfg: RnnConfig; weights: TensorMap; notes: string[] }> {
  const bytes = readInput(path);
  const explicit = (k: string, c: string): boolean => (raw as Record<string, unknown>)?.[k] !== undefined || (raw as Record<string, unknown>)?.[c] !== undefined;
  // The file is read first with only the layout flags: what it records is compared with the config below
  // (a contradiction names the config). The config's values go in where the file leaves a question open
  // (an Elman RNN's nonlinearity, a from-scratch GRU's reset) or records nothing (a weights-only Keras file).
  const defaults: string[] = [];
  const attempt = async (load: (o: ModelImportOptions) => Promise<ImportedModel>, o: ModelImportOptions): Promise<ImportedModel> => {
    try {
      const got = await load(o);
      const redo: Partial<ModelImportOptions> = {};
      for (const { key, snake, applies } of RECORDABLE) {
        if (applies(given) && explicit(snake, key) && got.source.recorded?.[key] === undefined && got.config[key] !== given[key] && o[key] === undefined) {
          Object.assign(redo, { [key]: given[key] });
        }
      }
      return Object.keys(redo).length ? attempt(load, { ...o, ...redo }) : got;
    } catch (e) {
      if (!(e instanceof ModelAmbiguityError)) throw prefixed(path, e);
      const from = (snake: string, key: string): string => (explicit(snake, key) ? 'from the config' : `the config's default; ${path} does not record it`);
      if (/nonlinearity/.test(e.option) && o.nonlinearity === undefined && given.module === 'RNN') {
        defaults.push(`nonlinearity ${given.nonlinearity} (${from('nonlinearity', 'nonlinearity')})`);
        return attempt(load, { ...o, nonlinearity: given.nonlinearity });
      }
      if (/gru-reset/.test(e.option) && o.gruReset === undefined && given.module === 'GRU') {
        defaults.push(`gru_reset ${given.gruReset} (${from('gru_reset', 'gruReset')})`);
        return attempt(load, { ...o, gruReset: given.gruReset });
      }
      throw prefixed(path, e);
    }
  };
  const importFlags: ModelImportOptions = { ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)), module: given.module };
  let m: ImportedModel;
  if (withFile(path, () => isModelFormat(bytes, path) || (isZip(bytes) && /\.keras$/i.test(path)))) {
    m = await attempt((o) => loadModelFile(path, o, bytes), importFlags);
  } else {
    const file = withFile(path, () => readTensorFile(bytes, basename(path)));
    if ([...file.tensors.keys()].some((n) => /(^|\.)weight_ih_l\d+$/.test(n))) {
      // PyTorch names: the module the config describes, found under any common prefix.
      const recorded: ImportSource['recorded'] = {
        ...(file.modules ? { nonlinearity: hintsFromModules(file.modules).hints.nonlinearity } : {}),
        ...recordedByMetadata(file.metadata),
      };
      const { cfg, notes } = reconcileConfig(given, raw, recorded, configPath, path);
      return { cfg, weights: withFile(path, () => moduleParameters(cfg, file.tensors)), notes };
    }
    m = await attempt(async (o) => guardRead(basename(path), () => importTensorFile(file, basename(path), o)), importFlags);
  }
  const { cfg, notes } = reconcileConfig(given, raw, m.source.recorded, configPath, path);
  notes.push(...defaults);
  const f = m.config;
  for (const [k, a, b] of [['module', cfg.module, f.module], ['input_size', cfg.inputSize, f.inputSize], ['hidden_size', cfg.hiddenSize, f.hiddenSize], ['num_layers', cfg.numLayers, f.numLayers], ['bidirectional', cfg.bidirectional, f.bidirectional], ['bias', cfg.bias, f.bias]] as const) {
    if (a !== b) throw new UsageError(`${configPath}: ${k} ${String(a)}, but ${path} holds a ${f.module} with ${k} ${String(b)}`);
  }
  for (const { key, snake, applies } of RECORDABLE) {
    if (applies(cfg) && cfg[key] !== f[key]) {
      throw new UsageError(`${configPath}: ${snake} ${cfg[key]}, but ${path} was read as ${f[key]}; give it in the config or as a flag consistently`);
    }
    if (applies(cfg) && m.source.recorded?.[key] === undefined && !explicit(snake, key) && !defaults.some((d) => d.startsWith(snake))) {
      notes.push(`${snake} ${cfg[key]} (the config's default; ${path} does not record it)`);
    }
  }
  const weights: TensorMap = new Map([...rnnParams(m)].map(([k, t]) => [k, toFloat(t, cfg.dtype)]));
  withFile(path, () => checkedParameters(cfg, weights));
  return { cfg, weights, notes: [`${path}: ${m.source.format} (${m.source.layout} layout)`, ...notes, ...m.source.notes] };
}

/** Our own exports (gatescope convert) record the whole recurrent config. */
function recordedByMetadata(meta: Record<string, string>): ImportSource['recorded'] {
  if (!meta.gatescope_config) return {};
  try {
    const c = parseRnnConfig(JSON.parse(meta.gatescope_config));
    return { recurrentActivation: c.recurrentActivation, nonlinearity: c.nonlinearity, gruReset: c.gruReset };
  } catch {
    return {};
  }
}

function prefixed(path: string, e: unknown): unknown {
  if (e instanceof Error && !(e instanceof UsageError) && !e.message.startsWith(path)) return new UsageError(`${path}: ${e.message}`);
  return e;
}
