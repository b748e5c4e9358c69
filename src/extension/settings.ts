// The `gatescope.*` settings, read fresh each time (users change them while the extension runs).
import * as vscode from 'vscode';

/** torch: PyTorch in a trainer process (python/gatescope/trainer.py), started with `pythonPath`. */
export type EngineSetting = 'auto' | 'reference' | 'native' | 'wasm' | 'js' | 'tfjs' | 'torch';

export interface GatescopeSettings {
  readonly engine: EngineSetting;
  /** The Python that has torch, for the torch engine ('' : python3 on PATH). */
  readonly pythonPath: string;
  readonly model: 'LSTM' | 'GRU' | 'RNN';
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly sequenceLength: number;
  readonly batchSize: number;
  readonly steps: number;
  readonly learningRate: number;
  readonly checkpointFolder: string;
  readonly maxTraceLength: number;
  readonly traceCheckpointInterval: number;
  /** Trace an edited document again by itself once typing pauses. */
  readonly followEdits: boolean;
  readonly sampleTemperatures: readonly number[];
  readonly sampleLength: number;
  readonly hoverEnabled: boolean;
  readonly hoverLayer: number; // 1-based; 0: the top layer
  readonly hoverTopUnits: number;
  /** The hover's "depends on" (input saliency) line and editor highlight. */
  readonly saliencyEnabled: boolean;
  /** Tokens before the hovered one that the saliency covers. */
  readonly saliencyWindow: number;
  /** 0: automatic (see logic/workerLimits.ts). */
  readonly workerMemoryLimitMb: number;
}

/** The torch engine's launch options of a train request (none for the other engines). */
export function torchOptions(engine: string, s: Pick<GatescopeSettings, 'pythonPath'>): { torch?: { python?: string } } {
  return engine === 'torch' ? { torch: s.pythonPath ? { python: s.pythonPath } : {} } : {};
}

const positive = (v: number, dflt: number): number => (Number.isFinite(v) && v > 0 ? v : dflt);

export function readSettings(): GatescopeSettings {
  const c = vscode.workspace.getConfiguration('gatescope');
  const temps = c.get<number[]>('sampleTemperatures', [0.5, 0.8, 1.0]).filter((t) => typeof t === 'number' && t >= 0);
  return {
    engine: c.get<EngineSetting>('engine', 'auto'),
    pythonPath: (c.get<string>('pythonPath', '') ?? '').trim(),
    model: c.get<'LSTM' | 'GRU' | 'RNN'>('model', 'LSTM'),
    hiddenSize: Math.round(positive(c.get<number>('hiddenSize', 128), 128)),
    numLayers: Math.round(positive(c.get<number>('numLayers', 1), 1)),
    sequenceLength: Math.round(positive(c.get<number>('sequenceLength', 64), 64)),
    batchSize: Math.round(positive(c.get<number>('batchSize', 32), 32)),
    steps: Math.round(positive(c.get<number>('steps', 500), 500)),
    learningRate: positive(c.get<number>('learningRate', 0.002), 0.002),
    checkpointFolder: c.get<string>('checkpointFolder', '.gatescope') || '.gatescope',
    maxTraceLength: Math.round(positive(c.get<number>('maxTraceLength', 1_000_000), 1_000_000)),
    traceCheckpointInterval: Math.round(positive(c.get<number>('traceCheckpointInterval', 64), 64)),
    followEdits: c.get<boolean>('trace.followEdits', true),
    sampleTemperatures: temps.length ? temps : [0.5, 0.8, 1.0],
    sampleLength: Math.round(positive(c.get<number>('sampleLength', 200), 200)),
    hoverEnabled: c.get<boolean>('hover.enabled', true),
    hoverLayer: Math.max(0, Math.round(c.get<number>('hover.layer', 0))),
    hoverTopUnits: Math.round(positive(c.get<number>('hover.topUnits', 8), 8)),
    saliencyEnabled: c.get<boolean>('saliency.enabled', true),
    saliencyWindow: Math.min(4096, Math.round(positive(c.get<number>('saliency.window', 256), 256))),
    workerMemoryLimitMb: Math.round(positive(c.get<number>('workerMemoryLimitMb', 0), 0)),
  };
}
