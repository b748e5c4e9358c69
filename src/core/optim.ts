// torch.optim's update rules, formula for formula (PyTorch 1.13 single-tensor implementations), and
// torch.nn.utils' gradient clipping. Parameters are updated in place.
import type { ClipConfig, OptimizerConfig } from './engine';
import { type FloatArray, type FloatTensor, type TensorMap, floatArray, toFloat } from './tensor';

export interface Optimizer {
  readonly config: OptimizerConfig;
  /** The learning rate in force (a schedule may change it between steps). */
  lr: number;
  step(params: ReadonlyMap<string, FloatTensor>, grads: ReadonlyMap<string, FloatTensor>): void;
  /** Buffers named `<param>.<buffer>` plus a scalar `step`, like optimizer.state_dict()'s state. */
  state(): TensorMap;
  loadState(state: TensorMap): void;
}

type Rule = (p: FloatArray, g: FloatArray, buffer: (name: string, init?: number) => FloatArray, step: number, lr: number) => void;

function rule(cfg: OptimizerConfig): Rule {
  const wd = cfg.weightDecay ?? 0;
  const withDecay = (g: FloatArray, p: FloatArray, i: number): number => (wd ? g[i] + wd * p[i] : g[i]);
  switch (cfg.kind) {
    case 'sgd': {
      const momentum = cfg.momentum ?? 0, dampening = cfg.dampening ?? 0, nesterov = cfg.nesterov ?? false;
      return (p, g, buffer, step, lr) => {
        const buf = momentum ? buffer('momentum_buffer') : null;
        for (let i = 0; i < p.length; i++) {
          let d = withDecay(g, p, i);
          if (buf) {
            // The first step initialises the buffer with the gradient itself (no dampening).
            buf[i] = step === 1 ? d : momentum * buf[i] + (1 - dampening) * d;
            d = nesterov ? d + momentum * buf[i] : buf[i];
          }
          p[i] -= lr * d;
        }
      };
    }
    case 'adam': {
      const [beta1, beta2] = cfg.betas ?? [0.9, 0.999];
      const eps = cfg.eps ?? 1e-8;
      return (p, g, buffer, step, lr) => {
        const m = buffer('exp_avg'), v = buffer('exp_avg_sq');
        const stepSize = lr / (1 - beta1 ** step);
        const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
        for (let i = 0; i < p.length; i++) {
          const d = withDecay(g, p, i);
          m[i] = m[i] * beta1 + (1 - beta1) * d;
          v[i] = v[i] * beta2 + (1 - beta2) * d * d;
          p[i] += -stepSize * (m[i] / (Math.sqrt(v[i]) / bc2Sqrt + eps));
        }
      };
    }
    case 'rmsprop': {
      const alpha = cfg.alpha ?? 0.99, eps = cfg.eps ?? 1e-8, momentum = cfg.momentum ?? 0, centered = cfg.centered ?? false;
      return (p, g, buffer, _step, lr) => {
        const sq = buffer('square_avg');
        const gAvg = centered ? buffer('grad_avg') : null;
        const buf = momentum > 0 ? buffer('momentum_buffer') : null;
        for (let i = 0; i < p.length; i++) {
          const d = withDecay(g, p, i);
          sq[i] = sq[i] * alpha + (1 - alpha) * d * d;
          let avg: number;
          if (gAvg) {
            gAvg[i] = gAvg[i] * alpha + (1 - alpha) * d;
            avg = Math.sqrt(sq[i] - gAvg[i] * gAvg[i]) + eps;
          } else {
            avg = Math.sqrt(sq[i]) + eps;
          }
          if (buf) {
            buf[i] = buf[i] * momentum + d / avg;
            p[i] += -lr * buf[i];
          } else {
            p[i] += -lr * (d / avg);
          }
        }
      };
    }
    case 'adagrad': {
      const eps = cfg.eps ?? 1e-10, lrDecay = cfg.lrDecay ?? 0, init = cfg.initialAccumulatorValue ?? 0;
      return (p, g, buffer, step, lr) => {
        const sum = buffer('sum', init);
        const clr = lr / (1 + (step - 1) * lrDecay);
        for (let i = 0; i < p.length; i++) {
          const d = withDecay(g, p, i);
          sum[i] += d * d;
          p[i] += -clr * (d / (Math.sqrt(sum[i]) + eps));
        }
      };
    }
  }
}

export function createOptimizer(cfg: OptimizerConfig): Optimizer {
  if (!(cfg.lr >= 0)) throw new RangeError(`learning rate must be a non-negative number, got ${cfg.lr}`);
  const update = rule(cfg);
  const buffers = new Map<string, FloatTensor>();
  let steps = 0;
  const opt: Optimizer = {
    config: cfg,
    lr: cfg.lr,
    step(params, grads) {
      steps++;
      for (const [name, p] of params) {
        const g = grads.get(name);
        if (!g) continue;
        const buffer = (kind: string, init = 0): FloatArray => {
          const key = `${name}.${kind}`;
          let b = buffers.get(key);
          if (!b) {
            b = { dtype: p.dtype, shape: [...p.shape], data: floatArray(p.dtype, p.data.length).fill(init) };
            buffers.set(key, b);
          }
          return b.data;
        };
        update(p.data, g.data, buffer, steps, opt.lr);
      }
    },
    state() {
      const out: TensorMap = new Map([...buffers].map(([k, t]) => [k, { ...t, data: t.data.slice() }]));
      out.set('step', { dtype: 'float64', shape: [], data: Float64Array.of(steps) });
      return out;
    },
    loadState(state) {
      buffers.clear();
      steps = 0;
      for (const [key, t] of state) {
        if (key === 'step') steps = Number(t.data[0]);
        else {
          const f = toFloat(t, t.dtype === 'float32' ? 'float32' : 'float64');
          buffers.set(key, { ...f, data: f.data.slice() });
        }
      }
    },
  };
  return opt;
}

/** torch.nn.utils.clip_grad_norm_: scales all gradients by max_norm / (total + 1e-6) when that is < 1. */
export function clipGradNorm(grads: Iterable<FloatTensor>, maxNorm: number): number {
  const list = [...grads];
  let sq = 0;
  for (const g of list) for (let i = 0; i < g.data.length; i++) sq += g.data[i] * g.data[i];
  const total = Math.sqrt(sq);
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) for (const g of list) for (let i = 0; i < g.data.length; i++) g.data[i] *= coef;
  return total;
}

/** torch.nn.utils.clip_grad_value_: clamps every gradient element to [-value, value]. */
export function clipGradValue(grads: Iterable<FloatTensor>, value: number): void {
  for (const g of grads) for (let i = 0; i < g.data.length; i++) g.data[i] = Math.min(value, Math.max(-value, g.data[i]));
}

/** Both clips as configured; returns the gradient norm measured before clipping. */
export function applyClipping(grads: ReadonlyMap<string, FloatTensor>, clip: ClipConfig | undefined): number {
  const list = [...grads.values()];
  if (clip?.value === undefined) return clipGradNorm(list, clip?.maxNorm ?? Infinity);
  const before = clipGradNorm(list, Infinity);
  clipGradValue(list, clip.value);
  if (clip.maxNorm !== undefined) clipGradNorm(list, clip.maxNorm);
  return before;
}

/**
 * The optimizer an engine steps with: built on first use from the step's config, kept when only the
 * learning rate changes (a schedule must not reset Adam's moments), rebuilt for any other change.
 * State loaded before the first step is applied when the optimizer is built.
 */
export class OptimizerSlot {
  private optimizer: Optimizer | undefined;
  private pending: TensorMap | undefined;

  for(cfg: OptimizerConfig): Optimizer {
    const withoutLr = (o: OptimizerConfig): string => JSON.stringify({ ...o, lr: 0 });
    if (!this.optimizer || withoutLr(this.optimizer.config) !== withoutLr(cfg)) {
      this.optimizer = createOptimizer(cfg);
      if (this.pending) this.optimizer.loadState(this.pending);
      this.pending = undefined;
    }
    this.optimizer.lr = cfg.lr;
    return this.optimizer;
  }

  state(): TensorMap {
    return this.optimizer ? this.optimizer.state() : new Map(this.pending ?? []);
  }

  load(state: TensorMap): void {
    if (this.optimizer) this.optimizer.loadState(state);
    else this.pending = state;
  }

  clear(): void {
    this.optimizer = undefined;
    this.pending = undefined;
  }
}
