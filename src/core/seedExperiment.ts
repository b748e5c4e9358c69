// The course exercise "my LSTM vs nn.LSTM": next-word-is-known classification over one-hot word contexts,
// nn.LSTM(V, H) + nn.Linear(H, 1) on h_n[-1], BCEWithLogitsLoss (mean), mini-batches in file order,
// trained in float64 and snapshotted after every epoch under the trajectory's names.
import { ConfigError, rnnConfig } from './config';
import type { OptimizerConfig } from './engine';
import { createOptimizer } from './optim';
import { rnnBackward, rnnForward } from './reference/rnn';
import { type FloatTensor, type Tensor, type TensorMap, formatShape, toFloat, toNumbers } from './tensor';

export interface SeedCase {
  readonly vocabSize: number;
  readonly contextSize: number;
  readonly hiddenSize: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerConfig;
  /** PyTorch's per-epoch mean losses, when the case records them. */
  readonly referenceLosses?: readonly number[];
}

export function parseSeedCase(json: unknown): SeedCase {
  const o = (json ?? {}) as Record<string, unknown>;
  const need = (key: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !(v > 0)) throw new ConfigError(`case.json: "${key}" must be a positive number`);
    return v;
  };
  if (!Array.isArray(o.vocab)) throw new ConfigError('case.json: "vocab" must be the list of words');
  const kind = String(o.optimizer ?? 'sgd');
  if (kind !== 'sgd' && kind !== 'adam') throw new ConfigError(`case.json: optimizer "${kind}" is not sgd or adam`);
  if (o.shuffle === true) throw new ConfigError('case.json: shuffled batches cannot be replayed exactly (shuffle must be false)');
  return {
    vocabSize: o.vocab.length,
    contextSize: need('context_size'),
    hiddenSize: need('hidden_size'),
    epochs: need('epochs'),
    batchSize: need('batch_size'),
    optimizer: { kind, lr: need('lr') },
    referenceLosses: Array.isArray(o.epoch_losses) ? (o.epoch_losses as number[]) : undefined,
  };
}

export interface SeedEpoch {
  readonly epoch: number;
  readonly meanLoss: number;
  /** `epoch{e}.lstm.<name>`, `epoch{e}.fc.weight`, `epoch{e}.fc.bias`. */
  readonly snapshot: TensorMap;
}

function required(map: TensorMap, name: string, file: string): Tensor {
  const t = map.get(name);
  if (!t) throw new ConfigError(`${file}: no tensor named "${name}"`);
  return t;
}

/** Runs every epoch; calls onEpoch after each with the mean batch loss and the weights. */
export function runSeedExperiment(c: SeedCase, init: TensorMap, data: TensorMap, onEpoch: (e: SeedEpoch) => void): void {
  const cfg = rnnConfig({ module: 'LSTM', inputSize: c.vocabSize, hiddenSize: c.hiddenSize, dtype: 'float64' });
  const params = new Map<string, FloatTensor>();
  for (const key of [...init.keys()]) {
    const t = toFloat(init.get(key)!, 'float64');
    params.set(key, { ...t, data: t.data.slice() });
  }
  const lstmParams = (): TensorMap => {
    const m: TensorMap = new Map();
    for (const [k, t] of params) if (k.startsWith('lstm.')) m.set(k.slice(5), t);
    return m;
  };
  const fcW = required(params, 'fc.weight', 'init.safetensors') as FloatTensor;
  const fcB = required(params, 'fc.bias', 'init.safetensors') as FloatTensor;
  if (fcW.shape[0] !== 1 || fcW.shape[1] !== c.hiddenSize) {
    throw new ConfigError(`init.safetensors: fc.weight is ${formatShape(fcW.shape)}, expected [1, ${c.hiddenSize}]`);
  }
  const contextsT = required(data, 'contexts', 'data.safetensors');
  const contexts = toNumbers(contextsT);
  const targets = toNumbers(required(data, 'targets', 'data.safetensors'));
  const n = targets.length, L = c.contextSize, V = c.vocabSize, H = c.hiddenSize;
  if (contextsT.shape.length !== 2 || contextsT.shape[0] !== n || contextsT.shape[1] !== L) {
    throw new ConfigError(`data.safetensors: contexts is ${formatShape(contextsT.shape)}, expected [${n}, ${L}]`);
  }
  if (contexts.some((id) => !(id >= 0 && id < V))) throw new ConfigError(`data.safetensors: a word id is outside the vocabulary of ${V}`);
  const optimizer = createOptimizer(c.optimizer);

  for (let epoch = 1; epoch <= c.epochs; epoch++) {
    let total = 0, batches = 0;
    for (let start = 0; start < n; start += c.batchSize) {
      const N = Math.min(c.batchSize, n - start);
      const x = new Float64Array(L * N * V); // one-hot, time-major [L, N, V]
      for (let b = 0; b < N; b++) for (let t = 0; t < L; t++) x[(t * N + b) * V + contexts[(start + b) * L + t]] = 1;
      const fwd = rnnForward(cfg, lstmParams(), { x: { dtype: 'float64', shape: [L, N, V], data: x } }, { forBackward: true });
      // logits = fc(h_n[-1]); BCEWithLogits: max(z, 0) − z y + log(1 + e^{−|z|}), mean over the batch.
      const dHN = new Float64Array(N * H);
      const dW = new Float64Array(H), dB = new Float64Array(1);
      let loss = 0;
      for (let b = 0; b < N; b++) {
        const h = fwd.hN.data.subarray(b * H, (b + 1) * H);
        let z = fcB.data[0];
        for (let k = 0; k < H; k++) z += fcW.data[k] * h[k];
        const y = targets[start + b];
        loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
        const dz = (1 / (1 + Math.exp(-z)) - y) / N;
        dB[0] += dz;
        for (let k = 0; k < H; k++) {
          dW[k] += dz * h[k];
          dHN[b * H + k] = dz * fcW.data[k];
        }
      }
      const g = rnnBackward(fwd, { dHN: { dtype: 'float64', shape: [1, N, H], data: dHN } });
      const grads = new Map<string, FloatTensor>();
      for (const [k, t] of g.grads) grads.set(`lstm.${k}`, t as FloatTensor);
      grads.set('fc.weight', { dtype: 'float64', shape: [1, H], data: dW });
      grads.set('fc.bias', { dtype: 'float64', shape: [1], data: dB });
      optimizer.step(params, grads);
      total += loss / N;
      batches++;
    }
    const snapshot: TensorMap = new Map();
    for (const [k, t] of params) snapshot.set(`epoch${epoch}.${k}`, { ...t, data: t.data.slice() });
    onEpoch({ epoch, meanLoss: total / batches, snapshot });
  }
}
