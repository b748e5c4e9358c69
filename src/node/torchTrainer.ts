// The torch engine: an LmEngine whose every call is a request to a PyTorch trainer process
// (python/gatescope/trainer.py, started by src/node/torchProcess.ts). TrainSession keeps the one training
// loop — data, batch order, schedule, evaluation, gate statistics, samples, checkpoints, events, resume —
// and the trainer holds the model (the README's GatescopeModel), the torch.optim optimizer and the carried
// state, on the CPU or CUDA, in one process or N (torch.distributed.run + DistributedDataParallel, each
// batch's rows split across the ranks). Weights, optimizer state and carried state come back in
// gatescope's names, so its checkpoints are those of every other engine and a run resumes on any engine.
import type { Evaluation, LmBatch, LmEngine, LmStepResult, LmTrainOptions } from '../core/engine';
import { type ModelConfig, modelToJson } from '../core/model';
import { checkedModelParameters } from '../core/reference/model';
import type { Tensor, TensorMap } from '../core/tensor';
import { TorchProcess, type TorchLaunchOptions, TorchUnavailableError } from './torchProcess';

export { TorchProcess, TorchTrainerError, TorchUnavailableError, type TorchDevice, type TorchLaunchOptions } from './torchProcess';

export interface TorchEngineOptions extends TorchLaunchOptions {
  /** Initial weights (gatescope names); the trainer's model starts from exactly these. */
  readonly params: TensorMap;
  /** Seeds torch's generator (dropout masks), one stream per rank. */
  readonly seed?: number;
  /** A trainer already launched (TorchProcess.launch) instead of a new one; the engine owns it from here. */
  readonly process?: TorchProcess;
}

/** Why PyTorch's modules cannot compute this model, or null when they can. */
export function torchUnsupportedReason(cfg: ModelConfig): string | null {
  if (cfg.rnn.recurrentActivation !== 'sigmoid') return `${cfg.rnn.recurrentActivation} gates (nn.${cfg.rnn.module} uses sigmoid)`;
  if (cfg.rnn.module === 'GRU' && cfg.rnn.gruReset !== 'after') return 'a GRU that resets before the recurrent product (nn.GRU resets after it)';
  return null;
}

const copy = (m: TensorMap): TensorMap => new Map([...m].map(([k, t]) => [k, { ...t, shape: [...t.shape], data: t.data.slice() }]));

const number = (v: unknown): number => (typeof v === 'number' ? v : v === null ? NaN : Number(v));

function batchTensors(batch: LmBatch): [string, Tensor][] {
  const out: [string, Tensor][] = [
    ['inputs', { dtype: 'int32', shape: [batch.inputs.length], data: batch.inputs }],
    ['targets', { dtype: 'int32', shape: [batch.targets.length], data: batch.targets }],
  ];
  if (batch.lengths) out.push(['lengths', { dtype: 'int32', shape: [batch.lengths.length], data: batch.lengths }]);
  return out;
}

class TorchLmEngine implements LmEngine {
  readonly name: string;
  readonly dtype;
  /** What the trainer last said, valid until the next call that changes it. */
  private params: TensorMap | null = null;
  private optimizer: TensorMap | null = null;
  private carried: TensorMap | null = null;
  private disposed = false;
  /** The last step's time inside the trainer (s): the round trip minus this is what the channel adds. */
  lastTrainerSeconds = NaN;

  constructor(readonly config: ModelConfig, private readonly proc: TorchProcess, params: TensorMap, seed: number) {
    const { nproc, device } = proc.options;
    this.dtype = config.rnn.dtype;
    this.name = `torch-${device}${nproc > 1 ? `-${nproc}p` : ''}`;
    proc.request({ op: 'init', model: modelToJson(config), seed }, checkedModelParameters(config, params));
  }

  /** torch.__version__ of the trainer. */
  get torchVersion(): string {
    return String(this.proc.hello.torch ?? '');
  }

  trainStep(batch: LmBatch, options: LmTrainOptions): LmStepResult {
    this.params = this.optimizer = this.carried = null;
    const { header } = this.proc.request({
      op: 'step', batchSize: batch.batchSize, seqLen: batch.seqLen, optimizer: options.optimizer,
      clip: options.clip ?? {}, stateful: options.stateful,
    }, batchTensors(batch));
    this.lastTrainerSeconds = number(header.seconds);
    return {
      loss: number(header.loss), gradNorm: number(header.gradNorm),
      ...(header.accuracy !== undefined ? { accuracy: number(header.accuracy) } : {}),
    };
  }

  evaluate(batch: LmBatch, stateful: boolean): Evaluation {
    const { header } = this.proc.request({ op: 'evaluate', batchSize: batch.batchSize, seqLen: batch.seqLen, stateful }, batchTensors(batch));
    return { loss: number(header.loss), ...(header.accuracy !== undefined ? { accuracy: number(header.accuracy) } : {}) };
  }

  resetState(): void {
    this.carried = null;
    this.proc.request({ op: 'reset_state' });
  }

  getCarriedState(): TensorMap {
    this.carried ??= this.proc.request({ op: 'get_carried' }).tensors;
    return copy(this.carried);
  }

  setCarriedState(state: TensorMap): void {
    this.carried = null;
    const pick = (k: string): [string, Tensor][] => (state.has(k) ? [[k, state.get(k)!]] : []);
    this.proc.request({ op: 'set_carried' }, [...pick('h'), ...pick('c')]);
  }

  resetEvaluationState(): void {
    this.proc.request({ op: 'reset_eval_state' });
  }

  getParameters(): TensorMap {
    this.params ??= this.proc.request({ op: 'get_params' }).tensors;
    return copy(this.params);
  }

  setParameters(params: TensorMap): void {
    this.params = null;
    this.proc.request({ op: 'set_params' }, checkedModelParameters(this.config, params));
  }

  getOptimizerState(): TensorMap {
    this.optimizer ??= this.proc.request({ op: 'get_optimizer' }).tensors;
    return copy(this.optimizer);
  }

  setOptimizerState(state: TensorMap): void {
    this.optimizer = null;
    this.proc.request({ op: 'set_optimizer' }, state);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      this.proc.request({ op: 'close' });
    } catch {
      // Already gone: nothing to close.
    }
    this.proc.close();
  }
}

/**
 * Starts a trainer (`options.python`, default python3; `nproc` ranks on `device`), or takes
 * `options.process`, gives it the model and `options.params`, and returns the engine. Throws
 * TorchUnavailableError, with the reason in one line, when it cannot start.
 */
export function createTorchLmEngine(cfg: ModelConfig, options: TorchEngineOptions): LmEngine & { readonly torchVersion: string; readonly lastTrainerSeconds: number } {
  const why = torchUnsupportedReason(cfg);
  if (why) {
    options.process?.close(0);
    throw new TorchUnavailableError(`the torch engine does not support ${why}; use the reference engine`);
  }
  const proc = options.process ?? TorchProcess.launch(options);
  try {
    proc.waitReady();
    return new TorchLmEngine(cfg, proc, options.params, options.seed ?? 0);
  } catch (e) {
    proc.close(0);
    throw e;
  }
}
