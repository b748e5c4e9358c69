// Gate saturation: how often gates sit near 0 or 1 (a stuck-open forget gate, a closed input gate).
// Computed on a small batch with the traced reference forward.
import type { ModelConfig } from '../model';
import { GATES, directions, suffix } from '../config';
import type { LmWeights } from './lmForward';
import { lmForward } from './lmForward';

export interface GateSaturation {
  readonly layer: number;
  readonly reverse: boolean;
  readonly gate: string; // i, f, o (LSTM); r, z (GRU)
  /** Fraction of activations < 0.1 and > 0.9. */
  readonly low: number;
  readonly high: number;
}

/** Gates that squash to (0, 1): all but the LSTM cell candidate g and the GRU candidate n. */
const SIGMOID_GATES = new Set(['i', 'f', 'o', 'r', 'z']);

export function gateSaturation(cfg: ModelConfig, weights: LmWeights, ids: ArrayLike<number>, T: number, N: number): GateSaturation[] {
  const gates = GATES[cfg.rnn.module].filter((g) => SIGMOID_GATES.has(g));
  if (!gates.length) return [];
  const { trace } = lmForward(cfg, weights, ids, T, N, undefined, { trace: true });
  const out: GateSaturation[] = [];
  for (let layer = 0; layer < cfg.rnn.numLayers; layer++) {
    for (let d = 0; d < directions(cfg.rnn); d++) {
      for (const gate of gates) {
        const data = trace!.get(`trace${suffix(layer, d === 1)}_gate_${gate}`)!.data as ArrayLike<number>;
        let low = 0, high = 0;
        for (let k = 0; k < data.length; k++) {
          if (data[k] < 0.1) low++;
          else if (data[k] > 0.9) high++;
        }
        out.push({ layer, reverse: d === 1, gate, low: low / data.length, high: high / data.length });
      }
    }
  }
  return out;
}
