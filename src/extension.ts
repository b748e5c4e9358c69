// gatescope's VS Code entry point: builds the services, registers commands, views, providers and
// panel serializers, all owned by the extension context's subscriptions (nothing outlives deactivate).
import * as vscode from 'vscode';
import type { Gatescope } from './extension/context';
import { compare } from './extension/commands/compare';
import { exportTestState } from './extension/commands/exportTestState';
import { openModel, sampleTextCommand, useModel } from './extension/commands/modelCommands';
import { colourByUnit, retraceEdited, traceActiveDocument } from './extension/commands/traceCommands';
import { trainCharLstm } from './extension/commands/trainCharLstm';
import { Runs, openPythonTerminal, openRun } from './extension/commands/openRun';
import { DisposableStore } from './extension/lifecycle';
import { PanelManager } from './extension/panels/panelManager';
import { GateHoverProvider } from './extension/providers/gateHoverProvider';
import { SaliencyDecorations } from './extension/providers/saliencyDecorations';
import { UnitDecorations } from './extension/providers/unitDecorations';
import { createBackend } from './extension/services/createBackend';
import { isWorkerCrash } from './extension/services/workerBackend';
import { MEMORY_SETTING, crashNotice } from './extension/logic/workerLimits';
import { requireTrust } from './extension/commands/trust';
import { ModelStore } from './extension/services/modelStore';
import { TraceService } from './extension/services/traceService';
import { TrainingService } from './extension/services/trainingService';
import { readSettings } from './extension/settings';
import { registerSelfTest } from './extension/selfTest';
import { registerHostProbe } from './extension/diagnostics/hostProbe';
import { TrainingStatusBar } from './extension/statusBar';
import { ModelsTreeProvider, runIdOf } from './extension/tree/modelsTree';
import { watchTraceEdits } from './extension/providers/traceEdits';

let services: Gatescope | undefined;

const LAST_RUN_KEY = 'gatescope.lastRun';

export function activate(context: vscode.ExtensionContext): Gatescope {
  const store = new DisposableStore();
  context.subscriptions.push(store);
  const output = store.add(vscode.window.createOutputChannel('gatescope', { log: true }));
  const backend = store.add(createBackend(vscode.Uri.joinPath(context.extensionUri, 'dist').fsPath, (m) => output.info(m),
    () => readSettings().workerMemoryLimitMb));
  const models = store.add(new ModelStore());
  const training = store.add(new TrainingService(backend, models, {
    loadCheckpoint: async (path) => {
      const m = await backend.loadModel(path);
      if (!m.data) throw new Error(`${path} is not a gatescope language model`);
      return m.data;
    },
    temperatures: () => readSettings().sampleTemperatures,
    sampleLength: () => readSettings().sampleLength,
  }));
  const traces = store.add(new TraceService());
  const decorations = store.add(new UnitDecorations());
  const panels = store.add(new PanelManager(context.extensionUri, training, traces, {
    selectUnit: (doc, selector, unit) => void decorations.show(doc, selector, unit),
    reveal: (doc, position) => void revealInEditor(doc.key, doc.encoding.offsets[position] ?? 0),
  }, () => context.workspaceState.get(LAST_RUN_KEY)));
  // The host remembers the latest run too: a webview's saved state can miss the run's last update.
  store.add(training.onDidStartRun((run) => run.onDidChangeStatus((summary) => void context.workspaceState.update(LAST_RUN_KEY, summary))));
  const hover = store.add(new GateHoverProvider(traces, store.add(new SaliencyDecorations())));
  // A worker died (a file too large or hostile for its memory limit): the editor goes on; say what happened.
  store.add(backend.onDidCrash((crash) => {
    if (crash.worker === 'training') return; // the run fails and says so, with its last checkpoint
    const lost = traces.all.length;
    for (const d of traces.all) traces.remove(d.key); // their states lived in that worker
    const notice = crashNotice(crash, lost);
    output.error(notice.message);
    const SETTING = 'Memory limit setting';
    void vscode.window.showErrorMessage(notice.message, ...(notice.offerSetting ? [SETTING] : [])).then((pick) => {
      if (pick === SETTING) void vscode.commands.executeCommand('workbench.action.openSettings', MEMORY_SETTING);
    });
  }));
  const g: Gatescope = { extension: context, output, backend, models, training, traces, panels, hover, decorations };
  services = g;

  store.add(vscode.languages.registerHoverProvider({ scheme: '*' }, hover));
  store.add(new TrainingStatusBar(training));
  const tree = store.add(new ModelsTreeProvider(models, training));
  store.add(vscode.window.createTreeView('gatescope.models', { treeDataProvider: tree, showCollapseAll: false }));
  store.add(vscode.workspace.onDidCloseTextDocument((d) => traces.remove(d.uri.toString())));
  store.add(watchTraceEdits(traces, (key) => retraceEdited(g, key)));
  // The trace view follows the cursor in its traced document (the text under the heatmap stays aligned);
  // a selection of several characters becomes its span for "Find units on over span". Trailing
  // throttle: the last selection of a burst always arrives.
  let latest: vscode.TextEditorSelectionChangeEvent | undefined;
  let followTimer: ReturnType<typeof setTimeout> | undefined;
  const follow = (): void => {
    followTimer = undefined;
    const e = latest;
    const doc = e && traces.get(e.textEditor.document.uri.toString());
    const panel = panels.tracePanel;
    if (!e || !doc || !panel || panel.current !== doc) return;
    const sel = e.selections[0];
    const text = e.textEditor.document;
    const t = doc.tokenAt(text.offsetAt(sel.active));
    if (t < 0) return;
    const a = doc.tokenAt(text.offsetAt(sel.start));
    const b = doc.tokenAt(Math.max(0, text.offsetAt(sel.end) - 1));
    panel.revealPosition(t, !sel.isEmpty && a >= 0 && b > a ? { start: a, end: b + 1 } : undefined);
  };
  store.add(vscode.window.onDidChangeTextEditorSelection((e) => {
    latest = e;
    followTimer ??= setTimeout(follow, 100);
  }));
  store.add({ dispose: () => { if (followTimer) clearTimeout(followTimer); } });
  store.add(models.onDidChange(() => {
    // A trace belongs to a model that may have gone away.
    for (const d of traces.all) if (!models.get(d.modelId)) traces.remove(d.key);
  }));

  const command = (id: string, run: (...args: unknown[]) => unknown): void => {
    store.add(vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await run(...args);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        output.error(`${id}: ${message}`);
        // A worker crash was announced already (onDidCrash), naming what it was doing.
        if (!isWorkerCrash(err)) void vscode.window.showErrorMessage(message.startsWith('gatescope: ') ? message : `gatescope: ${message}`);
        return undefined;
      }
    }));
  };
  command('gatescope.trainCharLstm', (a) => trainCharLstm(g, a));
  command('gatescope.openModel', (a) => openModel(g, a));
  command('gatescope.traceActiveDocument', (a) => traceActiveDocument(g, a));
  command('gatescope.compare', (a) => compare(g, a));
  command('gatescope.sampleText', (a) => sampleTextCommand(g, a));
  command('gatescope.exportTestState', (path, options) => (requireTrust('Exporting the test state') ? exportTestState(g, path, options) : undefined));
  command('gatescope.showDashboard', (a) => {
    const panel = g.panels.showDashboard();
    const runId = runIdOf(a); // a click on a run in the tree shows that run
    if (runId) panel.showRun(runId);
    panel.reveal();
  });
  command('gatescope.removeRun', (a) => { const runId = runIdOf(a); if (runId) training.remove(runId); });
  command('gatescope.openSample', async () => {
    // The bundled sample (the first megabyte of Tiny Shakespeare), read-only in the extension's folder.
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(context.extensionUri, 'samples', 'tinyshakespeare.txt'));
    await vscode.window.showTextDocument(doc, { preview: false });
  });
  command('gatescope.showTrace', () => { g.panels.showTrace(); });
  command('gatescope.cancelTraining', () => training.cancel());
  command('gatescope.useModel', (a) => useModel(g, a));
  command('gatescope.colourByUnit', (a) => colourByUnit(g, a));
  command('gatescope.clearUnitColouring', () => decorations.clear());
  const runs = store.add(new Runs(g));
  store.add(panels.onDidRestoreExternalRun((dir) => void runs.open(dir).catch((err: unknown) => output.error(`reopening run ${dir}: ${err instanceof Error ? err.message : String(err)}`))));
  command('gatescope.openRun', (a) => openRun(g, runs, a));
  command('gatescope.openPythonTerminal', () => { openPythonTerminal(g); });
  context.subscriptions.push(registerSelfTest()); // only with GATESCOPE_SELF_TEST=1 (e2e)
  context.subscriptions.push(registerHostProbe(vscode.Uri.joinPath(context.extensionUri, 'dist').fsPath)); // only with GATESCOPE_HOST_PROBE=1
  output.info(`gatescope activated (${backend.description})`);
  return g;
}

async function revealInEditor(uri: string, offset: number): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
  const editor = await vscode.window.showTextDocument(doc, { preserveFocus: false, preview: false, viewColumn: vscode.ViewColumn.One });
  const pos = doc.positionAt(offset);
  editor.selection = new vscode.Selection(pos, doc.positionAt(offset + 1));
  editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions (disposed by VS Code); drop the module reference.
  services = undefined;
}

/** For tests that run inside VS Code: the live services. */
export function currentServices(): Gatescope | undefined {
  return services;
}
