// Windowed tracing on the fast engines (WASM SIMD for float32, the JS engine for float64): one pass
// over the document keeps the recurrent state every K tokens; a window is recomputed forward from the
// nearest kept state with the engine's traceWindow. Blocks are always K steps (the last one padded), so
// the engine's workspace keeps one shape.
import { GATES } from '../../core/config';
import type { LmConfig } from '../../core/engine';
import type { FastLmEngine } from '../../core/fast/lmDriver';
import type { FloatArray, TensorMap } from '../../core/tensor';
import { fastUnsupportedReason } from '../../core/fast/lmDriver';
import { wasmAvailability, createWasmLmEngine } from '../../engines/wasm';
import { createJsLmEngine } from '../../engines/js';
import { CancelledError, type ModelData, type PrepareOptions, type RemoteTrace } from './backend';

type State = { readonly h: FloatArray; readonly c?: FloatArray };

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Longest stretch of work between yields while preparing (keeps a host thread responsive). */
const SLICE_MS = 20;

export function fastTraceSupported(cfg: LmConfig): boolean {
  return fastUnsupportedReason(cfg) === undefined;
}

function createEngine(model: ModelData): FastLmEngine {
  const useWasm = model.config.rnn.dtype === 'float32' && wasmAvailability().available;
  return useWasm ? createWasmLmEngine(model.config, model.params) : createJsLmEngine(model.config, model.params);
}

export async function prepareFastTrace(model: ModelData, ids: Int32Array, K: number, options: PrepareOptions = {}): Promise<RemoteTrace> {
  const engine = createEngine(model);
  try {
    const states: State[] = [];
    const block = new Int32Array(K);
    let sliceStart = performance.now();
    for (let a = 0; a < ids.length; a += K) {
      states.push(a === 0 ? zeroState(model.config) : engine.traceState());
      if (a + K >= ids.length) break; // the state after the last block is never a window's start
      block.set(ids.subarray(a, a + K));
      engine.traceWindow(block, 1, K, a === 0 ? 'zero' : 'carry');
      if (performance.now() - sliceStart > SLICE_MS) {
        options.onProgress?.(a + K, ids.length);
        await yieldToEventLoop();
        if (options.isCancelled?.()) throw new CancelledError();
        sliceStart = performance.now();
      }
    }
    options.onProgress?.(ids.length, ids.length);
    return new FastCheckpointedTrace(model.config, engine, ids, K, states);
  } catch (err) {
    engine.dispose();
    throw err;
  }
}

function zeroState(cfg: LmConfig): State {
  const n = cfg.rnn.numLayers * cfg.rnn.hiddenSize;
  const make = (): FloatArray => (cfg.rnn.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
  return cfg.rnn.module === 'LSTM' ? { h: make(), c: make() } : { h: make() };
}

class FastCheckpointedTrace implements RemoteTrace {
  private disposed = false;

  constructor(
    private readonly cfg: LmConfig,
    private readonly engine: FastLmEngine,
    private readonly ids: Int32Array,
    private readonly K: number,
    private readonly states: State[],
  ) {}

  get length(): number {
    return this.ids.length;
  }

  async window(start: number, end: number): Promise<TensorMap> {
    if (this.disposed) throw new Error('this trace was closed');
    if (!(start >= 0 && end <= this.ids.length && end > start)) throw new Error(`window ${start}..${end} is outside 0..${this.ids.length}`);
    await yieldToEventLoop(); // several blocks requested together are computed one per turn
    const out: TensorMap = new Map();
    const H = this.cfg.rnn.hiddenSize;
    const gates = GATES[this.cfg.rnn.module];
    const G = gates.length;
    const dtype = this.cfg.rnn.dtype;
    const parts = new Map<string, FloatArray[]>();
    for (let a = Math.floor(start / this.K) * this.K; a < end; a += this.K) {
      const block = new Int32Array(this.K);
      block.set(this.ids.subarray(a, Math.min(a + this.K, this.ids.length)));
      const w = this.engine.traceWindow(block, 1, this.K, this.states[a / this.K]);
      const from = Math.max(start, a) - a;
      const to = Math.min(end, a + this.K) - a;
      w.layers.forEach((layer, l) => {
        const push = (name: string, data: FloatArray): void => {
          const list = parts.get(name) ?? [];
          list.push(data);
          parts.set(name, list);
        };
        push(`trace_l${l}_h`, layer.h.slice(from * H, to * H));
        if (layer.c) push(`trace_l${l}_c`, layer.c.slice(from * H, to * H));
        if (G > 0) {
          for (let g = 0; g < G; g++) {
            const data = dtype === 'float64' ? new Float64Array((to - from) * H) : new Float32Array((to - from) * H);
            for (let t = from; t < to; t++) data.set(layer.gates.subarray((t * G + g) * H, (t * G + g + 1) * H), (t - from) * H);
            push(`trace_l${l}_gate_${gates[g]}`, data);
          }
        }
      });
    }
    for (const [name, list] of parts) {
      const total = list.reduce((s, d) => s + d.length, 0);
      const data = dtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
      let at = 0;
      for (const d of list) {
        data.set(d, at);
        at += d.length;
      }
      out.set(name, { dtype, shape: [end - start, 1, H], data });
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.dispose();
    this.states.length = 0;
  }
}
