// What an import produces: a canonical RnnConfig with PyTorch-named parameters, the dense head that
// followed the recurrent stack (if any), and where it came from.
import type { RnnConfig } from '../config';
import { parameterSpecs } from '../config';
import { type FloatTensor, type TensorMap, formatShape, shapeEquals } from '../tensor';
import { FormatError } from '../formats/safetensors';

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

/** Checks that params hold exactly the canonical tensors of cfg, with the right shapes. */
export function checkCanonical(cfg: RnnConfig, params: TensorMap, what: string): void {
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
