// The compute worker (worker_threads entry, bundled to dist/worker.js): trains, samples, traces, parses
// model files and compares engines off the host's thread. One training run at a time; traces stay in
// memory until disposed. The extension starts two: one for training, one for everything else, each with a
// heap limit (src/worker/client.ts), so a hostile file can take down only the worker that reads it; the
// loaders' budgets for data outside the heap come in the environment the client gives it.
import { parentPort } from 'node:worker_threads';
import type { HostRequest, ModelData, ModelOnWire, TraceReadyResult, WorkerErrorKind, WorkerMessage, WorkerResult } from '../protocol/worker';
import { FormatError } from '../core/formats/safetensors';
import { TrainingDivergedError } from '../core/train/events';
import { DataTooSmallError } from '../core/train/session';
import { UnsupportedModelError } from '../core/train/stepper';
import { EngineUnavailableError, sampleFast } from '../engines/index';
import { TrainInputError, trainToFile } from '../node/trainRun';
import { TextSourceError } from '../node/textSources';
import { ModelFileError, readModelFile } from '../node/modelFile';
import { loadTensorFileAt } from '../node/loadModelFile';
import { tokenText, vocabularySize } from '../core/data/tokenizer';
import { GATES } from '../core/config';
import { taskOf } from '../core/model';
import { type DocumentTrace, createDocumentTrace, encodeDocument } from './documentTrace';
import { readModel } from './modelFiles';
import { compareEngines } from './engineCompare';
import { SaliencyUnsupportedError, saliencyUnsupportedReason } from '../core/saliency';
import { KernelSaliency, documentSaliency } from '../core/saliencyFast';
import { checkedModelParameters } from '../core/reference/model';
import type { FloatTensor } from '../core/tensor';
import { createNativeFastKernels, nativeAvailability } from '../engines/native/index';
import { wasmAvailability } from '../engines/wasm';
import { createWasmKernels } from '../engines/wasm/wasmKernels';
import { KeptKeys } from './keptModels';

const port = parentPort;
if (!port) throw new Error('src/worker/main.ts must run in a worker thread');

class CancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

const traces = new Map<number, DocumentTrace>();
/** A trace's model and tokens for saliency requests; weights and kernels made at the first one. */
const saliencySources = new Map<number, { model: ModelData; ids: Int32Array; weights?: Map<string, FloatTensor>; kernels?: KernelSaliency | null }>();
const dropSaliency = (traceId: number): void => {
  saliencySources.get(traceId)?.kernels?.dispose();
  saliencySources.delete(traceId);
};

/** The backward's products: native (float32), else WASM SIMD, else (null) the JS loops. */
function saliencyKernels(source: { model: ModelData; weights?: Map<string, FloatTensor> }): KernelSaliency | null {
  if (source.model.config.rnn.dtype !== 'float32') return null;
  const wasm = nativeAvailability().available ? undefined : wasmAvailability();
  const kernels = wasm === undefined ? createNativeFastKernels(1) : wasm.available ? createWasmKernels(wasm.variant!, 1) : undefined;
  return kernels ? new KernelSaliency(kernels, source.model.config, source.weights!) : null;
}
let nextTraceId = 1;
let training: { id: number; flag: Int32Array } | null = null;
/** prepareTrace requests in progress -> cancelled yet. */
const preparing = new Map<number, boolean>();
/** Traces still preparing -> their prepareTrace request. */
const preparingTraces = new Map<number, number>();

const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const yieldToEvents = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function errorKind(e: unknown): WorkerErrorKind {
  if (e instanceof TrainingDivergedError) return 'diverged';
  if (e instanceof CancelledError) return 'cancelled';
  const input = [TrainInputError, TextSourceError, ModelFileError, FormatError, DataTooSmallError, EngineUnavailableError, UnsupportedModelError, RangeError];
  return input.some((C) => e instanceof C) ? 'input' : 'internal';
}

/** Models the host sent, by key: the same KEPT_MODELS the client counts on (src/worker/keptModels.ts). */
const keptModels = new Map<number, ModelData>();
const keptKeys = new KeptKeys();

/** Called as a request arrives, before anything awaits: the uses happen in the order the client made them. */
function resolveModel(model: ModelOnWire): ModelData {
  if (typeof model === 'string') return readModelFile(model);
  if (model.data) keptModels.set(model.key, model.data);
  const data = keptModels.get(model.key);
  const dropped = keptKeys.use(model.key);
  if (dropped !== undefined) keptModels.delete(dropped);
  if (!data) throw new Error(`model ${model.key} is not kept in the worker (a request sent it by key only)`);
  return data;
}

async function handle(m: HostRequest): Promise<{ result: WorkerResult; transfer?: ArrayBuffer[] } | null> {
  switch (m.type) {
    case 'train': {
      if (training) throw new TrainInputError('a training run is already in progress');
      const flag = new Int32Array(m.cancelFlag);
      training = { id: m.id, flag };
      try {
        let engine = '';
        let last: WorkerResult | null = null;
        for await (const event of trainToFile(m.request, () => Atomics.load(flag, 0) === 1)) {
          send({ type: 'trainEvent', id: m.id, event });
          if (event.kind === 'start') engine = event.engine;
          if (event.kind === 'done') last = { kind: 'trained', reason: event.reason, step: event.step, path: event.path, engine };
        }
        return { result: last! };
      } finally {
        training = null;
      }
    }
    case 'cancel':
      if (training?.id === m.id) Atomics.store(training.flag, 0, 1);
      if (preparing.has(m.id)) preparing.set(m.id, true);
      return null;
    case 'sample': {
      const model = resolveModel(m.model);
      await yieldToEvents();
      const r = sampleFast(model.config, model.params, model.vocab, m.options);
      return { result: { kind: 'sampled', prime: r.prime, text: r.generated } };
    }
    case 'prepareTrace': {
      const model = resolveModel(m.model);
      const doc = 'text' in m.input ? encodeDocument(model.vocab, m.input.text) : { ids: m.input.ids, offsets: new Int32Array(0), unknown: 0 };
      const previous = m.resumeFrom === undefined ? undefined : traces.get(m.resumeFrom);
      const trace = createDocumentTrace(model, doc.ids, m.checkpointEvery, previous);
      // The trace is usable at once: windows the sweep has passed are answered between its slices.
      const traceId = nextTraceId++;
      traces.set(traceId, trace);
      saliencySources.set(traceId, { model, ids: doc.ids });
      preparing.set(m.id, false);
      preparingTraces.set(traceId, m.id);
      const { rnn } = model.config;
      const ready: TraceReadyResult = {
        kind: 'traceReady', traceId, tokens: trace.length, offsets: doc.offsets, unknown: doc.unknown, checkpointEvery: trace.checkpointEvery,
        vocabulary: Array.from({ length: vocabularySize(model.vocab) }, (_, i) => tokenText(model.vocab, i)),
        module: rnn.module, hiddenSize: rnn.hiddenSize, numLayers: rnn.numLayers, gates: GATES[rnn.module], task: taskOf(model.config),
        ...(trace.resumed ? { resumed: trace.resumed } : {}),
      };
      send({ type: 'traceStarted', id: m.id, ready });
      send({ type: 'traceProgress', id: m.id, done: trace.resumed?.tokens ?? 0, total: trace.work, available: trace.available });
      try {
        for (const done of trace.prepare()) {
          send({ type: 'traceProgress', id: m.id, done, total: trace.work, available: trace.available });
          await yieldToEvents(); // lets cancel and window requests in between slices
          if (preparing.get(m.id)) throw new CancelledError();
        }
      } catch (e) {
        trace.dispose();
        traces.delete(traceId);
        dropSaliency(traceId);
        throw e;
      } finally {
        preparing.delete(m.id);
        preparingTraces.delete(traceId);
      }
      const prediction = trace.prediction()?.slice(); // a copy: the trace keeps its own
      return {
        result: { ...ready, kind: 'tracePrepared', ...(prediction ? { prediction } : {}) },
        ...(prediction ? { transfer: [prediction.buffer as ArrayBuffer] } : {}),
      };
    }
    case 'traceWindow': {
      const trace = traces.get(m.traceId);
      if (!trace) throw new RangeError(`trace ${m.traceId} does not exist (disposed?)`);
      const w = trace.window(m.start, m.end);
      const transfer = [...new Set([...w.tensors.values()].map((t) => t.data.buffer as ArrayBuffer)), w.topIds.buffer as ArrayBuffer, w.topProbs.buffer as ArrayBuffer];
      return { result: { kind: 'traceWindow', start: w.start, end: w.end, tensors: w.tensors, topIds: w.topIds, topProbs: w.topProbs }, transfer };
    }
    case 'saliency': {
      const trace = traces.get(m.traceId), source = saliencySources.get(m.traceId);
      if (!trace || !source) throw new RangeError(`trace ${m.traceId} does not exist (disposed?)`);
      const t0 = performance.now();
      const { config } = source.model;
      const empty = { kind: 'saliency', position: m.position, start: m.position, scores: new Float32Array(0), predicted: -1, objective: 'log_prob' } as const;
      const why = saliencyUnsupportedReason(config);
      if (why) return { result: { ...empty, computeMs: 0, unsupported: why } };
      source.weights ??= checkedModelParameters(config, source.model.params);
      if (source.kernels === undefined) source.kernels = saliencyKernels(source);
      try {
        const s = documentSaliency(config, source.weights, source.ids.subarray(0, trace.length), m.position, m.window,
          (from, to) => trace.window(from, to).tensors, source.kernels ?? undefined);
        const scores = Float32Array.from(s.scores);
        return { result: { kind: 'saliency', position: s.position, start: s.start, scores, predicted: s.predicted, objective: s.objective, computeMs: performance.now() - t0 }, transfer: [scores.buffer] };
      } catch (e) {
        if (e instanceof SaliencyUnsupportedError) return { result: { ...empty, computeMs: 0, unsupported: e.message } };
        throw e;
      }
    }
    case 'disposeTrace': {
      const request = preparingTraces.get(m.traceId);
      if (request !== undefined) preparing.set(request, true);
      traces.get(m.traceId)?.dispose();
      dropSaliency(m.traceId);
      traces.delete(m.traceId);
      return { result: { kind: 'disposed' } };
    }
    case 'loadModel':
      return { result: { kind: 'loaded', model: await readModel(m.path, m.options) } };
    case 'readTensors':
      // Copied, not transferred: a tensor may be a view of a buffer the reader shares (Node's pool).
      return { result: { kind: 'tensors', tensors: loadTensorFileAt(m.path) } };
    case 'compareEngines':
      return { result: { kind: 'compared', comparison: await compareEngines(resolveModel(m.model), m.engines, m.steps) } };
    case 'dispose':
      if (training) Atomics.store(training.flag, 0, 1);
      for (const id of preparing.keys()) preparing.set(id, true);
      for (const t of traces.values()) t.dispose();
      for (const id of saliencySources.keys()) dropSaliency(id);
      traces.clear();
      return { result: { kind: 'disposed' } };
    default: {
      const never: never = m;
      throw new Error(`unknown request ${JSON.stringify(never)}`);
    }
  }
}

port.on('message', (m: HostRequest) => {
  handle(m).then(
    (r) => { if (r) send({ type: 'result', id: m.id, result: r.result }, r.transfer); },
    (e: unknown) => send({ type: 'error', id: m.id, kind: errorKind(e), message: e instanceof Error ? e.message : String(e) }),
  );
});
