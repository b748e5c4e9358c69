// "gatescope.exportTestState" (hidden from the palette): writes buildTestState's JSON to the path given
// as the first argument. Optionally hovers first ({ hover: { uri, offset } }) so tests can assert on
// a real hover without moving a mouse.
import * as vscode from 'vscode';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Gatescope } from '../context';
import { taskOf } from '../../core/model';
import { buildTestState } from '../logic/testState';
import { modelDetails } from '../services/modelStore';

/** Extension-host event-loop delay since activation (or the last reset): proof that nothing blocks it. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

interface ExportOptions {
  readonly path?: string;
  /** Start a fresh event-loop delay measurement after this export. */
  readonly resetEventLoop?: boolean;
  /** Hover this document offset first; `file` is a workspace-relative path or absolute path, `uri` a URI. */
  readonly hover?: { readonly uri?: string; readonly file?: string; readonly offset: number };
}

/** Accepts (path, options) from executeCommand, or one object {path, hover} from a keybinding's args. */
export async function exportTestState(g: Gatescope, first?: unknown, second?: unknown): Promise<Record<string, unknown>> {
  const o: ExportOptions = typeof first === 'object' && first !== null ? first as ExportOptions : { path: first as string, ...(typeof second === 'object' && second !== null ? second as ExportOptions : {}) };
  const path = o.path;
  if (typeof path !== 'string' || !path) throw new Error('gatescope.exportTestState needs an output path (first argument, or {path} in an object)');
  if (o.hover) {
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = o.hover.uri ? vscode.Uri.parse(o.hover.uri)
      : o.hover.file && ws && !o.hover.file.startsWith('/') ? vscode.Uri.joinPath(ws, o.hover.file) : vscode.Uri.file(o.hover.file ?? '');
    const doc = await vscode.workspace.openTextDocument(uri);
    await g.hover.hoverAt(doc, o.hover.offset);
  }
  const m = g.models.current;
  const rnn = m?.data?.config.rnn ?? m?.imported?.config;
  const run = g.training.latest;
  const colouring = g.decorations.current;
  const state = buildTestState({
    backend: g.backend.description,
    ...(m ? {
      currentModel: {
        id: m.id, label: m.label, ...(m.path ? { path: m.path } : {}),
        ...(rnn ? { module: rnn.module, hiddenSize: rnn.hiddenSize, numLayers: rnn.numLayers } : {}),
        ...(m.data ? { vocabSize: m.data.config.vocabSize, task: taskOf(m.data.config), ...modelDetails(m) } : {}),
      },
    } : {}),
    models: g.models.models.map((x) => ({ id: x.id, label: x.label, ...(x.path ? { path: x.path } : {}) })),
    ...(run ? {
      run: {
        runId: run.runId, label: run.label, status: run.status, ...(run.engine ? { engine: run.engine } : {}),
        ...(run.checkpointPath ? { checkpointPath: run.checkpointPath } : {}), ...(run.error ? { error: run.error } : {}),
        steps: run.train.steps(), losses: run.train.values(), validationSteps: run.validation.steps(), validationLosses: run.validation.values(),
        samples: run.samples, accuracies: run.accuracy.values(), validationAccuracies: run.validationAccuracy.values(),
      },
    } : {}),
    runs: g.training.runs.map((r) => ({
      runId: r.runId, label: r.label, status: r.status, ...(r.checkpointPath ? { checkpointPath: r.checkpointPath } : {}),
      ...(r.error ? { error: r.error } : {}), ...(r.lastStep ? { lastStep: r.lastStep.step } : {}),
    })),
    ...(g.hover.lastHover ? { lastHover: g.hover.lastHover } : {}),
    panels: g.panels.openPanels(),
    traces: g.traces.all.map((d) => ({ uri: d.key, traceId: d.traceId, length: d.length, modelId: d.modelId })),
    ...(colouring ? { unitColouring: { uri: colouring.uri, unit: colouring.unit, layer: colouring.selector.layer, tensor: colouring.selector.tensor } } : {}),
  });
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  state.eventLoop = { maxDelayMs: ms(loopDelay.max), p99DelayMs: ms(loopDelay.percentile(99)), meanDelayMs: ms(loopDelay.mean) };
  if (o.resetEventLoop) loopDelay.reset();
  await vscode.workspace.fs.writeFile(vscode.Uri.file(path), new TextEncoder().encode(JSON.stringify(state, null, 2)));
  return state;
}
