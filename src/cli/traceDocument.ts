// gatescope trace MODEL.safetensors --text FILE --out TRACE.safetensors: the whole per-timestep trace of
// a trained model reading a document (h, c and every gate per layer, [T, H]; the token ids, their UTF-16
// offsets in the text, and the top-5 next-token predictions). src/cli/trace.ts dispatches here when its
// first argument is a model file rather than a flag.
import type { TensorMap } from '../core/tensor';
import { serializeSafetensors } from '../core/formats/safetensors';
import { decodeTextBytes } from '../core/data/text';
import { tokenText, vocabularySize } from '../core/data/tokenizer';
import { directions, GATES } from '../core/config';
import { modelToJson } from '../core/model';
import { OPEN_FLAGS_HELP, OPEN_FLAG_OPTIONS, openModelForCli } from './openFlags';
import { MAX_BIDIRECTIONAL_TOKENS, TOP_K, createDocumentTrace, encodeDocument, traceableTokens } from '../worker/documentTrace';
import { parseCli } from './args';
import { UsageError } from './errors';
import { readInput, writeOutput } from './io';
import type { CommandOutput } from './train';

const HELP = `usage: gatescope trace MODEL --text FILE --out TRACE.safetensors [vocabulary and model flags]
  Runs a model trained with "gatescope train" over FILE (one sequence) and writes, per layer l and direction:
  trace_l{l}[_reverse]_h, _c (LSTM), _gate_{i,f,g,o | r,z,n}: [T, H] float32,
  plus tokens [T] and offsets [T+1] (int32, UTF-16 offsets of each token, char and word models),
  top_ids / top_probs [T, K], K = ${TOP_K} or fewer outputs: the next-token predictions after each token (language model), or a
  \`last\`-readout classifier's top classes had the text ended there; and for a classifier
  class_probs [C], its prediction for the whole text (class names in the metadata's "labels").
  MODEL is a gatescope model file, or a state_dict another program wrote (the flags below tell the rest).
${OPEN_FLAGS_HELP}`;

/** Output size limit: the trace is built in memory before the atomic write. */
const MAX_BYTES = 2 ** 31;

export async function traceDocument(args: string[], io?: CommandOutput): Promise<number> {
  const write = io?.out ?? ((s: string) => process.stdout.write(s));
  const { values, positionals } = parseCli(args, {
    text: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...OPEN_FLAG_OPTIONS,
  }, true);
  if (values.help) {
    write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('give exactly one MODEL.safetensors');
  if (!values.text) throw new UsageError('missing --text FILE');
  if (!values.out) throw new UsageError('missing --out TRACE.safetensors');
  const modelPath = positionals[0];
  const opened = await openModelForCli(modelPath, values);
  for (const note of opened.notes) (io?.err ?? ((s: string) => process.stderr.write(s)))(`${note}\n`);
  const ck = opened.model;
  const decoded = decodeTextBytes(readInput(values.text));
  if (decoded.binary) throw new UsageError(`${values.text}: ${decoded.reason} (binary file?)`);
  if (!decoded.text.length) throw new UsageError(`${values.text}: is empty`);
  const enc = encodeDocument(ck.vocab, decoded.text);
  const T = enc.ids.length;
  const { numLayers: L, hiddenSize: H, module } = ck.config.rnn;
  if (traceableTokens(ck.config, T) < T) {
    throw new UsageError(`${values.text}: ${T} tokens; this bidirectional model runs on the reference, which traces at most ${MAX_BIDIRECTIONAL_TOKENS} tokens at once`);
  }
  const tensorsPerLayer = (1 + (module === 'LSTM' ? 1 : 0) + GATES[module].length) * directions(ck.config.rnn);
  if (T * H * L * tensorsPerLayer * 4 > MAX_BYTES) {
    throw new UsageError(`${values.text}: a trace of ${T} tokens would exceed 2 GiB; trace a smaller file`);
  }
  const doc = createDocumentTrace(ck, enc.ids);
  for (const _ of doc.prepare()) { /* checkpoints only; the chunks below recompute from them */ }
  const out: TensorMap = new Map();
  const traced = new Map<string, Float32Array>(); // trace_l{l}_{h|c|gate_*}: [T, H] float32, whatever the model's dtype
  const topIds = new Int32Array(T * TOP_K), topProbs = new Float32Array(T * TOP_K);
  let stepScores = true;
  const CHUNK = 4096;
  for (let s = 0; s < T; s += CHUNK) {
    const w = doc.window(s, Math.min(T, s + CHUNK));
    for (const [name, t] of w.tensors) {
      let data = traced.get(name);
      if (!data) {
        data = new Float32Array(T * H);
        traced.set(name, data);
        out.set(name, { dtype: 'float32', shape: [T, H], data });
      }
      data.set(t.data as ArrayLike<number>, s * H);
    }
    topIds.set(w.topIds, s * TOP_K);
    topProbs.set(w.topProbs, s * TOP_K);
    stepScores &&= w.topIds.length > 0;
  }
  const prediction = doc.prediction();
  doc.dispose();
  out.set('tokens', { dtype: 'int32', shape: [T], data: enc.ids });
  if (enc.offsets.length) out.set('offsets', { dtype: 'int32', shape: [T + 1], data: enc.offsets });
  if (stepScores) {
    // A model with fewer outputs than TOP_K has no more predictions to list: the windows pad them with zeros.
    const K = Math.min(TOP_K, ck.config.outputSize);
    const columns = <A extends Int32Array | Float32Array>(a: A): A => {
      if (K === TOP_K) return a;
      const kept = new (a.constructor as new (n: number) => A)(T * K);
      for (let t = 0; t < T; t++) kept.set(a.subarray(t * TOP_K, t * TOP_K + K), t * K);
      return kept;
    };
    out.set('top_ids', { dtype: 'int32', shape: [T, K], data: columns(topIds) });
    out.set('top_probs', { dtype: 'float32', shape: [T, K], data: columns(topProbs) });
  }
  if (prediction) out.set('class_probs', { dtype: 'float32', shape: [prediction.length], data: prediction });
  const vocabulary = Array.from({ length: vocabularySize(ck.vocab) }, (_, i) => tokenText(ck.vocab, i));
  writeOutput(values.out, serializeSafetensors(out, {
    producer: 'gatescope trace', model: modelPath, config: JSON.stringify(modelToJson(ck.config)), vocabulary: JSON.stringify(vocabulary),
    ...(ck.labels ? { labels: JSON.stringify(ck.labels) } : {}),
    trace_layout: 'trace_l{layer}[_reverse]_{h|c|gate_*}: [T, H]; row t is the state after reading token t (reverse: after reading tokens T-1..t)',
  }));
  write(`wrote ${values.out}: ${T} tokens x ${L} layer(s) x ${H} units` + (enc.unknown ? ` (${enc.unknown} unknown characters read as the fallback)` : '') + '\n');
  if (prediction) write(`prediction: ${describePrediction(prediction, ck.labels)}\n`);
  return 0;
}

/** `sports 0.91, world 0.05, business 0.03`: the classes by probability. */
export function describePrediction(probs: Float32Array, labels: readonly string[] | undefined): string {
  return [...probs].map((p, k) => ({ p, name: labels?.[k] ?? String(k) })).sort((a, b) => b.p - a.p).slice(0, 5)
    .map(({ p, name }) => `${name} ${p.toFixed(3)}`).join(', ');
}
