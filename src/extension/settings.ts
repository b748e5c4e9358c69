// The `gatescope.*` settings, read fresh each time (users change them while the extension runs).
import * as vscode from 'vscode';

export type EngineSetting = 'auto' | 'reference' | 'native' | 'wasm' | 'js' | 'tfjs';

export interface GatescopeSettings {
  readonly engine: EngineSetting;
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
  readonly sampleTemperatures: readonly number[];
  readonly sampleLength: number;
  readonly hoverEnabled: boolean;
  readonly hoverLayer: number; // -1: top layer
  readonly hoverTopUnits: number;
  /** 0: automatic (see logic/workerLimits.ts). */
  readonly workerMemoryLimitMb: number;
}

const positive = (v: number, dflt: number): number => (Number.isFinite(v) && v > 0 ? v : dflt);

export function readSettings(): GatescopeSettings {
  const c = vscode.workspace.getConfiguration('gatescope');
  const temps = c.get<number[]>('sampleTemperatures', [0.5, 0.8, 1.0]).filter((t) => typeof t === 'number' && t >= 0);
  return {
    engine: c.get<EngineSetting>('engine', 'auto'),
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
    sampleTemperatures: temps.length ? temps : [0.5, 0.8, 1.0],
    sampleLength: Math.round(positive(c.get<number>('sampleLength', 200), 200)),
    hoverEnabled: c.get<boolean>('hover.enabled', true),
    hoverLayer: Math.round(c.get<number>('hover.layer', -1)),
    hoverTopUnits: Math.round(positive(c.get<number>('hover.topUnits', 8), 8)),
    workerMemoryLimitMb: Math.round(positive(c.get<number>('workerMemoryLimitMb', 0), 0)),
  };
}
