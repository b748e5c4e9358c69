// The model's next-token distribution at one timestep, computed on the host from the top layer's
// hidden state and the nn.Linear head (a [V, D*H] × [D*H] product: microseconds).

export interface Prediction {
  readonly id: number;
  readonly token: string;
  readonly probability: number;
}

export interface Head {
  readonly weight: ArrayLike<number>; // [outputs, inputs] row-major
  readonly bias?: ArrayLike<number>; // [outputs]
  readonly outputs: number;
  readonly inputs: number;
}

export function headLogits(head: Head, input: ArrayLike<number>): Float64Array {
  if (input.length !== head.inputs) throw new Error(`head expects ${head.inputs} inputs, got ${input.length}`);
  const out = new Float64Array(head.outputs);
  for (let o = 0; o < head.outputs; o++) {
    let s = head.bias ? head.bias[o] : 0;
    const row = o * head.inputs;
    for (let i = 0; i < head.inputs; i++) s += head.weight[row + i] * input[i];
    out[o] = s;
  }
  return out;
}

/** Softmax over logits (max-subtracted), then the k most likely ids. */
export function topK(logits: ArrayLike<number>, k: number, tokenName: (id: number) => string): Prediction[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  const p = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  const ids = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  return ids.slice(0, Math.max(0, k)).map((id) => ({ id, token: tokenName(id), probability: p[id] / sum }));
}
