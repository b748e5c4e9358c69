// Two engines on the same model, same start, same batches: the parameters after each Adam step and the
// losses, for the diff view's per-step trajectory. Runs in the compute worker.
import type { LmBatch } from '../core/engine';
import { createRng } from '../core/random';
import { availableEngines, createLmEngine, type EngineChoice, EngineUnavailableError, initTfjsBackend } from '../engines/index';
import { relativeError } from '../core/diff/metrics';
import type { EngineComparison, ModelData } from '../protocol/worker';

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function compareEngines(model: ModelData, engines: readonly [string, string], steps: number): Promise<EngineComparison> {
  const available = availableEngines();
  for (const e of engines) if (!available.includes(e)) throw new EngineUnavailableError(`engine "${e}" is not available here (available: ${available.join(', ')})`);
  if (engines.includes('tfjs')) await initTfjsBackend(); // WASM backend when its binaries ship with us
  const { config, params } = model;
  const left = createLmEngine(config, { engine: engines[0] as EngineChoice, params });
  const right = createLmEngine(config, { engine: engines[1] as EngineChoice, params });
  try {
    const rng = createRng(7);
    const B = 4;
    const T = 16;
    const options = { optimizer: { kind: 'adam' as const, lr: 2e-3 }, stateful: false };
    const leftLosses: number[] = [];
    const rightLosses: number[] = [];
    const paramError: number[] = [];
    for (let s = 0; s < steps; s++) {
      const ids = Int32Array.from({ length: B * (T + 1) }, () => rng.int(config.vocabSize));
      const batch: LmBatch = {
        batchSize: B, seqLen: T,
        inputs: Int32Array.from({ length: B * T }, (_, i) => ids[Math.floor(i / T) * (T + 1) + (i % T)]),
        targets: Int32Array.from({ length: B * T }, (_, i) => ids[Math.floor(i / T) * (T + 1) + (i % T) + 1]),
      };
      leftLosses.push(left.trainStep(batch, options).loss);
      await yieldToEventLoop();
      rightLosses.push(right.trainStep(batch, options).loss);
      await yieldToEventLoop();
      const pl = left.getParameters();
      const pr = right.getParameters();
      let worst = 0;
      for (const [k, t] of pl) worst = Math.max(worst, relativeError(t.data as ArrayLike<number>, pr.get(k)!.data as ArrayLike<number>));
      paramError.push(worst);
    }
    return { leftName: left.name, rightName: right.name, left: left.getParameters(), right: right.getParameters(), leftLosses, rightLosses, paramError };
  } finally {
    left.dispose();
    right.dispose();
  }
}
