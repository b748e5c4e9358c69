// The JSON snapshot "gatescope.exportTestState" writes for end-to-end tests: real numbers from the
// running extension (current model, last training losses, last hover, open panels). Pure builder.

export interface TestStateInput {
  readonly currentModel?: {
    id: string; label: string; path?: string; module?: string; hiddenSize?: number; numLayers?: number; vocabSize?: number;
    task?: string; description?: string; classes?: readonly string[];
  };
  readonly models: readonly { id: string; label: string; path?: string }[];
  readonly run?: {
    runId: string; label: string; status: string; engine?: string; checkpointPath?: string; error?: string;
    steps: ArrayLike<number>; losses: ArrayLike<number>; validationSteps: ArrayLike<number>; validationLosses: ArrayLike<number>;
    samples: readonly { step: number; temperature: number; text: string }[];
    /** Classifier: per-step and per-evaluation accuracy (empty for a language model). */
    accuracies?: ArrayLike<number>; validationAccuracies?: ArrayLike<number>;
  };
  /** Every run of the session, oldest first (the Models tree's runs). */
  readonly runs?: readonly { runId: string; label: string; status: string; checkpointPath?: string; error?: string; lastStep?: number }[];
  readonly lastHover?: { uri: string; position: number; markdown: string; millis: number };
  readonly panels: readonly { view: string; title: string; visible: boolean; ready: boolean }[];
  readonly traces: readonly { uri: string; traceId: string; length: number; modelId: string }[];
  readonly unitColouring?: { uri: string; unit: number; layer: number; tensor: string };
  readonly backend: string;
}

export function buildTestState(s: TestStateInput): Record<string, unknown> {
  const r = s.run;
  const losses = r ? Array.from(r.losses) : [];
  return {
    version: 1,
    backend: s.backend,
    currentModel: s.currentModel ?? null,
    currentModelPath: s.currentModel?.path ?? null,
    models: s.models,
    training: r ? {
      runId: r.runId, label: r.label, status: r.status, engine: r.engine ?? null, checkpointPath: r.checkpointPath ?? null, error: r.error ?? null,
      steps: Array.from(r.steps), losses, firstLoss: losses[0] ?? null, lastLoss: losses.at(-1) ?? null,
      validationSteps: Array.from(r.validationSteps), validationLosses: Array.from(r.validationLosses),
      accuracies: Array.from(r.accuracies ?? []), validationAccuracies: Array.from(r.validationAccuracies ?? []),
      samples: r.samples,
    } : null,
    runs: s.runs ?? [],
    lastHover: s.lastHover ?? null,
    lastHoverText: s.lastHover?.markdown ?? null,
    panels: s.panels,
    openPanels: s.panels.map((p) => p.view),
    traces: s.traces,
    unitColouring: s.unitColouring ?? null,
  };
}
