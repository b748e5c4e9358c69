// The compute worker (worker_threads entry, bundled to dist/worker.js): trains, samples and traces off
// the host's thread. One training run at a time; traces stay in memory until disposed.
import { parentPort } from 'node:worker_threads';
import type { HostRequest, WorkerErrorKind, WorkerMessage, WorkerResult } from '../protocol/worker';
import { sampleText } from '../core/sample';
import { FormatError } from '../core/formats/safetensors';
import { TrainingDivergedError } from '../core/train/events';
import { DataTooSmallError } from '../core/train/session';
import { UnsupportedModelError } from '../core/train/stepper';
import { EngineUnavailableError } from '../engines/index';
import { TrainInputError, trainToFile } from '../node/trainRun';
import { TextSourceError } from '../node/textSources';
import { ModelFileError, readModelFile } from '../node/modelFile';
import { tokenText, vocabularySize } from '../core/data/tokenizer';
import { GATES } from '../core/config';
import { DocumentTrace } from './documentTrace';

const port = parentPort;
if (!port) throw new Error('src/worker/main.ts must run in a worker thread');

const traces = new Map<number, DocumentTrace>();
let nextTraceId = 1;
let training: { id: number; flag: Int32Array } | null = null;

const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const yieldToEvents = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function errorKind(e: unknown): WorkerErrorKind {
  if (e instanceof TrainingDivergedError) return 'diverged';
  const input = [TrainInputError, TextSourceError, ModelFileError, FormatError, DataTooSmallError, EngineUnavailableError, UnsupportedModelError, RangeError];
  return input.some((C) => e instanceof C) ? 'input' : 'internal';
}

async function handle(m: HostRequest): Promise<{ result: WorkerResult; transfer?: ArrayBuffer[] } | null> {
  switch (m.type) {
    case 'train': {
      if (training) throw new TrainInputError('a training run is already in progress');
      const flag = new Int32Array(m.cancelFlag);
      training = { id: m.id, flag };
      try {
        let last: WorkerResult | null = null;
        for await (const event of trainToFile(m.request, () => Atomics.load(flag, 0) === 1)) {
          send({ type: 'trainEvent', id: m.id, event });
          if (event.kind === 'done') last = { kind: 'trained', reason: event.reason, step: event.step, path: event.path };
        }
        return { result: last! };
      } finally {
        training = null;
      }
    }
    case 'cancel':
      if (training?.id === m.id) Atomics.store(training.flag, 0, 1);
      return null;
    case 'sample': {
      const ck = readModelFile(m.modelPath);
      const r = sampleText(ck.config, ck.params, ck.vocab, m.options);
      return { result: { kind: 'sampled', prime: r.prime, text: r.generated } };
    }
    case 'prepareTrace': {
      const ck = readModelFile(m.modelPath);
      const trace = new DocumentTrace(ck, m.text, m.checkpointEvery);
      const traceId = nextTraceId++;
      traces.set(traceId, trace);
      for (const done of trace.prepare()) {
        send({ type: 'traceProgress', id: m.id, done, total: trace.length });
        await yieldToEvents(); // windows of the swept part can be served meanwhile
      }
      const offsets = trace.offsets.slice().buffer;
      return {
        result: {
          kind: 'traceReady', traceId, tokens: trace.length, offsets, unknown: trace.unknown, checkpointEvery: trace.checkpointEvery,
          vocabulary: Array.from({ length: vocabularySize(ck.vocab) }, (_, i) => tokenText(ck.vocab, i)),
          module: ck.config.rnn.module, hiddenSize: ck.config.rnn.hiddenSize, numLayers: ck.config.rnn.numLayers, gates: GATES[ck.config.rnn.module],
        },
        transfer: [offsets],
      };
    }
    case 'traceWindow': {
      const trace = traces.get(m.traceId);
      if (!trace) throw new RangeError(`trace ${m.traceId} does not exist (disposed?)`);
      const w = trace.window(m.start, m.end);
      const transfer: ArrayBuffer[] = [];
      const buf = (a: Float32Array | Int32Array): ArrayBuffer => {
        transfer.push(a.buffer as ArrayBuffer);
        return a.buffer as ArrayBuffer;
      };
      const layers = w.layers.map((l) => ({
        layer: l.layer, h: buf(l.h), ...(l.c ? { c: buf(l.c) } : {}),
        gates: Object.fromEntries(Object.entries(l.gates).map(([g, a]) => [g, buf(a)])),
      }));
      return { result: { kind: 'traceWindow', start: w.start, end: w.end, hiddenSize: w.hiddenSize, layers, topIds: buf(w.topIds), topProbs: buf(w.topProbs) }, transfer };
    }
    case 'disposeTrace':
      traces.delete(m.traceId);
      return { result: { kind: 'disposed' } };
    case 'dispose':
      if (training) Atomics.store(training.flag, 0, 1);
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
