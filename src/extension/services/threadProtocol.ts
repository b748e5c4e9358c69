// Messages between the extension host and its compute thread (threadBackend.ts <-> backendThread.ts).
// Structured clone carries Maps and typed arrays; tensor buffers are transferred, not copied.
import type { TensorMap } from '../../core/tensor';
import type { TrainRunEvent } from '../../node/trainRun';
import type { LoadedModel, ModelData, SampleRequest, TrainOutcome, TrainSpec } from './backend';
import type { EngineComparison } from './engineCompare';

export type ToThread =
  | { readonly type: 'train'; readonly id: number; readonly spec: TrainSpec }
  | { readonly type: 'sample'; readonly id: number; readonly model: ModelData; readonly request: SampleRequest }
  | { readonly type: 'prepareTrace'; readonly id: number; readonly model: ModelData; readonly ids: Int32Array; readonly checkpointEvery: number }
  | { readonly type: 'traceWindow'; readonly id: number; readonly traceId: number; readonly start: number; readonly end: number }
  | { readonly type: 'compareEngines'; readonly id: number; readonly model: ModelData; readonly engines: readonly [string, string]; readonly steps: number }
  | { readonly type: 'loadModel'; readonly id: number; readonly path: string }
  | { readonly type: 'disposeTrace'; readonly traceId: number }
  | { readonly type: 'cancel'; readonly id: number };

export type FromThread =
  | { readonly type: 'trainEvent'; readonly id: number; readonly event: TrainRunEvent }
  | { readonly type: 'progress'; readonly id: number; readonly done: number; readonly total: number }
  | { readonly type: 'trained'; readonly id: number; readonly outcome: TrainOutcome }
  | { readonly type: 'sampled'; readonly id: number; readonly text: string }
  | { readonly type: 'traced'; readonly id: number; readonly traceId: number; readonly length: number }
  | { readonly type: 'window'; readonly id: number; readonly tensors: TensorMap }
  | { readonly type: 'compared'; readonly id: number; readonly comparison: EngineComparison }
  | { readonly type: 'loaded'; readonly id: number; readonly model: LoadedModel }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly cancelled: boolean };
