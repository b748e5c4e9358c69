// gatescope trace MODEL.safetensors --text FILE --out TRACE.safetensors: the whole per-timestep trace of
// a trained model reading a document (h, c and every gate per layer, [T, H]; the token ids, their UTF-16
// offsets in the text, and the top-5 next-token predictions). src/cli/trace.ts dispatches here when its
// first argument is a model file rather than a flag.
import type { TensorMap } from '../core/tensor';
import { serializeSafetensors, FormatError } from '../core/formats/safetensors';
import { decodeTextBytes } from '../core/data/text';
import { UnsupportedModelError } from '../core/train/stepper';
import { tokenText, vocabularySize } from '../core/data/tokenizer';
import { toTorchConfig } from '../core/config';
import { ModelFileError, readModelFile } from '../node/modelFile';
import { DocumentTrace, TOP_K } from '../worker/documentTrace';
import { parseCli } from './args';
import { UsageError } from './errors';
import { readInput, writeOutput } from './io';
import type { CommandOutput } from './train';

const HELP = `usage: gatescope trace MODEL.safetensors --text FILE --out TRACE.safetensors
  Runs a model trained with "gatescope train" over FILE and writes, per layer l:
  trace_l{l}_h, trace_l{l}_c (LSTM), trace_l{l}_gate_{i,f,g,o | r,z,n}: [T, H] float32,
  plus tokens [T] and offsets [T+1] (int32, UTF-16 offsets), top_ids / top_probs [T, ${TOP_K}].
`;

/** Output size limit: the trace is built in memory before the atomic write. */
const MAX_BYTES = 2 ** 31;

export async function traceDocument(args: string[], io?: CommandOutput): Promise<number> {
  const write = io?.out ?? ((s: string) => process.stdout.write(s));
  const { values, positionals } = parseCli(args, { text: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) {
    write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('give exactly one MODEL.safetensors');
  if (!values.text) throw new UsageError('missing --text FILE');
  if (!values.out) throw new UsageError('missing --out TRACE.safetensors');
  const modelPath = positionals[0];
  let ck;
  try {
    ck = readModelFile(modelPath);
  } catch (e) {
    if (e instanceof ModelFileError || e instanceof FormatError) throw new UsageError(e.message);
    throw e;
  }
  const decoded = decodeTextBytes(readInput(values.text));
  if (decoded.binary) throw new UsageError(`${values.text}: ${decoded.reason} (binary file?)`);
  if (!decoded.text.length) throw new UsageError(`${values.text}: is empty`);
  let doc: DocumentTrace;
  try {
    doc = new DocumentTrace(ck, decoded.text);
  } catch (e) {
    if (e instanceof UnsupportedModelError) throw new UsageError(`${modelPath}: ${e.message}`);
    throw e;
  }
  const T = doc.length;
  const { numLayers: L, hiddenSize: H } = ck.config.rnn;
  const perLayer = doc.window(0, Math.min(T, 1)).layers[0];
  const tensorsPerLayer = 1 + (perLayer.c ? 1 : 0) + Object.keys(perLayer.gates).length;
  if (T * H * L * tensorsPerLayer * 4 > MAX_BYTES) {
    throw new UsageError(`${values.text}: a trace of ${T} tokens would exceed 2 GiB; trace a smaller file`);
  }
  const out: TensorMap = new Map();
  const f32 = (name: string): Float32Array => {
    const data = new Float32Array(T * H);
    out.set(name, { dtype: 'float32', shape: [T, H], data });
    return data;
  };
  const layers = Array.from({ length: L }, (_, l) => ({
    h: f32(`trace_l${l}_h`), c: perLayer.c ? f32(`trace_l${l}_c`) : null,
    gates: Object.fromEntries(Object.keys(perLayer.gates).map((g) => [g, f32(`trace_l${l}_gate_${g}`)])),
  }));
  const topIds = new Int32Array(T * TOP_K), topProbs = new Float32Array(T * TOP_K);
  for (const _ of doc.prepare()) { /* checkpoints only; the chunks below recompute from them */ }
  const CHUNK = 4096;
  for (let s = 0; s < T; s += CHUNK) {
    const w = doc.window(s, Math.min(T, s + CHUNK));
    w.layers.forEach((lw, l) => {
      layers[l].h.set(lw.h, s * H);
      if (lw.c) layers[l].c!.set(lw.c, s * H);
      for (const [g, a] of Object.entries(lw.gates)) layers[l].gates[g].set(a, s * H);
    });
    topIds.set(w.topIds, s * TOP_K);
    topProbs.set(w.topProbs, s * TOP_K);
  }
  out.set('tokens', { dtype: 'int32', shape: [T], data: doc.ids });
  if (doc.offsets.length) out.set('offsets', { dtype: 'int32', shape: [T + 1], data: doc.offsets });
  out.set('top_ids', { dtype: 'int32', shape: [T, TOP_K], data: topIds });
  out.set('top_probs', { dtype: 'float32', shape: [T, TOP_K], data: topProbs });
  const vocabulary = Array.from({ length: vocabularySize(ck.vocab) }, (_, i) => tokenText(ck.vocab, i));
  writeOutput(values.out, serializeSafetensors(out, {
    producer: 'gatescope trace', model: modelPath, config: JSON.stringify(toTorchConfig(ck.config.rnn)), vocabulary: JSON.stringify(vocabulary),
    trace_layout: 'trace_l{layer}_{h|c|gate_*}: [T, H]; row t is the state after reading token t',
  }));
  write(`wrote ${values.out}: ${T} tokens x ${L} layer(s) x ${H} units` + (doc.unknown ? ` (${doc.unknown} unknown characters read as the fallback)` : '') + '\n');
  return 0;
}
