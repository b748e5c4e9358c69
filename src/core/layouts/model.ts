// What an import produces: a canonical RnnConfig with PyTorch-named parameters, the dense head that
// followed the recurrent stack (if any), and where it came from.
import type { RnnConfig } from '../config';
import { parameterSpecs } from '../config';
import { MODEL_LIMITS } from '../model';
import { type FloatTensor, type TensorMap, formatShape, numel, shapeEquals } from '../tensor';
import { FormatError } from '../formats/errors';

/** A Dense / nn.Linear after the recurrent stack, in nn.Linear layout. */
export interface HeadInfo {
  readonly weight: FloatTensor; // [out, in]
  readonly bias?: FloatTensor; // [out]
  /** Activation applied after the head in the source model ('linear' when none). */
  readonly activation: string;
}

export interface ImportSource {
  readonly format: string; // 'keras-h5' | 'keras-v3' | 'tfjs' | 'onnx' | 'pt-zip' | 'npz' ...
  readonly layout: string; // 'pytorch' | 'keras' | 'onnx' | 'scratch-per-gate' | 'min-char-rnn' ...
  readonly notes: string[];
}

export interface ImportedModel {
  readonly config: RnnConfig;
  /** Canonical PyTorch names without prefix (weight_ih_l0, ...), as rnnForward takes them. */
  readonly params: TensorMap;
  readonly head?: HeadInfo;
  readonly source: ImportSource;
}

/**
 * The sizes an imported model may have (src/core/model.ts's MODEL_LIMITS: hidden size, layers,
 * parameters; input size up to the vocabulary limit, for one-hot inputs), checked before anything is
 * sized from them.
 */
export function checkImportedConfig(cfg: RnnConfig, what: string): void {
  const L = MODEL_LIMITS;
  const fail = (msg: string): never => { throw new FormatError(`${what}: ${msg}`); };
  const int = (v: number, max: number): boolean => Number.isSafeInteger(v) && v >= 1 && v <= max;
  if (cfg.module !== 'LSTM' && cfg.module !== 'GRU' && cfg.module !== 'RNN') fail(`unknown recurrent module ${String(cfg.module)}`);
  if (!int(cfg.hiddenSize, L.width)) fail(`hidden size ${cfg.hiddenSize} is outside 1..${L.width}`);
  if (!int(cfg.inputSize, L.vocab)) fail(`input size ${cfg.inputSize} is outside 1..${L.vocab}`);
  if (!int(cfg.numLayers, L.layers)) fail(`${cfg.numLayers} layers is outside 1..${L.layers}`);
  const count = parameterSpecs(cfg).reduce((s, p) => s + numel(p.shape), 0);
  if (!(count <= L.parameters)) fail(`${count} recurrent parameters exceed the limit of ${L.parameters}`);
}

/** Checks that params hold exactly the canonical tensors of cfg, with the right shapes. */
export function checkCanonical(cfg: RnnConfig, params: TensorMap, what: string): void {
  checkImportedConfig(cfg, what);
  for (const spec of parameterSpecs(cfg)) {
    const t = params.get(spec.name);
    if (!t) throw new FormatError(`${what}: parameter ${spec.name} is missing after conversion`);
    if (!shapeEquals(t.shape, spec.shape)) {
      throw new FormatError(`${what}: ${spec.name} has shape ${formatShape(t.shape)}, expected ${formatShape(spec.shape)}`);
    }
  }
}

/** The model's parameters as an LmEngine names them: rnn.<name>, head.weight, head.bias. */
export function toLmParams(model: ImportedModel): TensorMap {
  const out: TensorMap = new Map();
  for (const [k, v] of model.params) out.set(`rnn.${k}`, v);
  if (model.head) {
    out.set('head.weight', model.head.weight);
    if (model.head.bias) out.set('head.bias', model.head.bias);
  }
  return out;
}

/** A listing for error messages: "name [shape]" per tensor. */
export function describeTensors(tensors: TensorMap): string {
  return [...tensors].map(([n, t]) => `${n} ${formatShape(t.shape)}`).join(', ');
}
