// The fixtures' experiment as a function: given a module config, its weights and the inputs
// (x, optional h0, c0, loss_projection), compute the tensors PyTorch reports, named as in io.safetensors.
import type { RnnConfig } from '../config';
import { ConfigError } from '../config';
import { type FloatTensor, type Tensor, type TensorMap, toFloat } from '../tensor';
import { rnnBackward, rnnForward } from './rnn';

/** The fixtures' loss: sum(output * loss_projection) + 0.5 * sum(h_n²) [+ 0.25 * sum(c_n) for LSTM]. */
export const FIXTURE_LOSS = 'sum(output * loss_projection) + 0.5*sum(h_n^2) [+ 0.25*sum(c_n) for LSTM]';

export function computeIo(cfg: RnnConfig, params: TensorMap, inputs: TensorMap): TensorMap {
  const x = inputs.get('x');
  if (!x) throw new ConfigError('inputs have no tensor named "x"');
  const h0 = inputs.get('h0');
  const c0 = cfg.module === 'LSTM' ? inputs.get('c0') : undefined;
  const projection = inputs.get('loss_projection');
  const lengthsTensor = inputs.get('lengths');
  const lengths = lengthsTensor ? Array.from(lengthsTensor.data as ArrayLike<number | bigint>, Number) : undefined;
  const fwd = rnnForward(cfg, params, { x, h0, c0, lengths }, { trace: true, forBackward: !!projection });
  const out: TensorMap = new Map<string, Tensor>([['output', fwd.output], ['h_n', fwd.hN]]);
  if (fwd.cN) out.set('c_n', fwd.cN);
  for (const [name, t] of fwd.trace!) out.set(name, t);
  if (!projection) return out;

  const dCN: FloatTensor | undefined = fwd.cN
    ? { dtype: cfg.dtype, shape: fwd.cN.shape, data: fwd.cN.data.map(() => 0.25) }
    : undefined;
  const g = rnnBackward(fwd, { dOutput: toFloat(projection, cfg.dtype), dHN: fwd.hN, dCN });
  out.set('grad_x', g.dx);
  if (h0) out.set('grad_h0', g.dh0);
  if (c0 && g.dc0) out.set('grad_c0', g.dc0);
  for (const [name, t] of g.grads) out.set(`grad_${name}`, t);
  return out;
}

/** The loss value itself, for reporting. */
export function fixtureLoss(outputs: TensorMap, projection: Tensor): number {
  const o = toFloat(outputs.get('output')!, 'float64').data, r = toFloat(projection, 'float64').data;
  let loss = 0;
  for (let i = 0; i < o.length; i++) loss += o[i] * r[i];
  for (const v of toFloat(outputs.get('h_n')!, 'float64').data) loss += 0.5 * v * v;
  const cN = outputs.get('c_n');
  if (cN) for (const v of toFloat(cN, 'float64').data) loss += 0.25 * v;
  return loss;
}
