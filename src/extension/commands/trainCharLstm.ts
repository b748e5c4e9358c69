// "gatescope: Train char LSTM": text from the selection, the active editor or chosen workspace files;
// then three prompts (cell, layers × units, steps; defaults from settings); a progress notification with
// cancel; the checkpoint lands in the workspace's checkpoint folder. Tests and scripts may pass an
// options object instead of answering the prompts.
import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { Gatescope } from '../context';
import { readSettings } from '../settings';
import type { TrainSpec } from '../services/backend';
import type { TrainingRun } from '../services/trainingRun';

export interface TrainCommandOptions {
  readonly text?: string;
  readonly files?: readonly string[];
  readonly module?: 'LSTM' | 'GRU' | 'RNN';
  readonly hiddenSize?: number;
  readonly numLayers?: number;
  readonly steps?: number;
  readonly seqLen?: number;
  readonly batchSize?: number;
  readonly engine?: string;
  readonly out?: string;
  /** Resolve the command only when training ends (for tests). */
  readonly wait?: boolean;
}

interface TextChoice {
  readonly text?: string;
  readonly files?: string[];
  readonly label: string;
}

/**
 * The text, without asking when the answer is obvious: a non-empty selection, else the active editor,
 * else (or from the explorer / a files argument) chosen workspace files.
 */
async function chooseText(args: unknown): Promise<TextChoice | undefined> {
  if (args instanceof vscode.Uri) return { files: [args.fsPath], label: basename(args.fsPath) };
  if (Array.isArray(args) && args.every((a) => a instanceof vscode.Uri) && args.length) {
    const uris = args as vscode.Uri[];
    return { files: uris.map((u) => u.fsPath), label: uris.length === 1 ? basename(uris[0].fsPath) : `${uris.length} files` };
  }
  const editor = vscode.window.activeTextEditor;
  if (editor && !editor.selection.isEmpty) {
    return { text: editor.document.getText(editor.selection), label: `selection of ${basename(editor.document.fileName)}` };
  }
  if (editor && editor.document.getText().length > 0) return { text: editor.document.getText(), label: basename(editor.document.fileName) };
  const uris = await vscode.window.showOpenDialog({ canSelectMany: true, openLabel: 'Train on these', title: 'Train char model: text files', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
  if (!uris?.length) return undefined;
  return { files: uris.map((u) => u.fsPath), label: uris.length === 1 ? basename(uris[0].fsPath) : `${uris.length} files` };
}

async function chooseModel(defaultModule: 'LSTM' | 'GRU' | 'RNN'): Promise<'LSTM' | 'GRU' | 'RNN' | undefined> {
  const modules = (['LSTM', 'GRU', 'RNN'] as const).slice().sort((a, b) => (a === defaultModule ? -1 : b === defaultModule ? 1 : 0));
  const pick = await vscode.window.showQuickPick(modules.map((m) => ({ label: m, description: m === defaultModule ? 'default' : m === 'RNN' ? 'Elman tanh RNN' : undefined })), { title: 'Train char model: cell' });
  return pick?.label as 'LSTM' | 'GRU' | 'RNN' | undefined;
}

async function chooseSize(hidden: number, layers: number): Promise<{ hiddenSize: number; numLayers: number } | undefined> {
  const sizes: [number, number, string][] = [[layers, hidden, 'default (settings)'], [1, 64, 'fast'], [1, 128, ''], [2, 128, ''], [1, 256, 'slower, better'], [2, 256, 'slow'], [1, 512, 'slowest']];
  const seen = new Set<string>();
  const items = sizes.filter(([l, h]) => !seen.has(`${l}x${h}`) && seen.add(`${l}x${h}`)).map(([l, h, d]) => ({ label: `${l} × ${h}`, description: d, l, h }));
  const pick = await vscode.window.showQuickPick(items, { title: 'Train char model: layers × hidden units' });
  return pick ? { hiddenSize: pick.h, numLayers: pick.l } : undefined;
}

async function chooseSteps(dflt: number): Promise<number | undefined> {
  const v = await vscode.window.showInputBox({
    title: 'Train char model: optimizer steps', value: String(dflt),
    validateInput: (s) => (/^\d+$/.test(s.trim()) && Number(s) > 0 ? undefined : 'a positive whole number of steps'),
  });
  return v === undefined ? undefined : Number(v.trim());
}

function checkpointUri(g: Gatescope, folder: string, name: string): vscode.Uri {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
  const base = ws ? vscode.Uri.joinPath(ws, folder) : vscode.Uri.joinPath(g.extension.globalStorageUri, 'checkpoints');
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return vscode.Uri.joinPath(base, `${name.replace(/[^\w.-]+/g, '_')}-${stamp}.safetensors`);
}

export async function trainCharLstm(g: Gatescope, args?: unknown): Promise<string | undefined> {
  const s = readSettings();
  const opts: TrainCommandOptions = args && typeof args === 'object' && !(args instanceof vscode.Uri) ? args as TrainCommandOptions : {};
  const scripted = opts.text !== undefined || opts.files !== undefined;
  const source: TextChoice | undefined = scripted
    ? { ...(opts.text !== undefined ? { text: opts.text } : {}), ...(opts.files ? { files: [...opts.files] } : {}), label: opts.files?.length === 1 ? basename(opts.files[0]) : 'text' }
    : await chooseText(args);
  if (!source) return undefined;
  const module = scripted ? opts.module ?? s.model : await chooseModel(s.model);
  if (!module) return undefined;
  const size = scripted ? { hiddenSize: opts.hiddenSize ?? s.hiddenSize, numLayers: opts.numLayers ?? s.numLayers } : await chooseSize(s.hiddenSize, s.numLayers);
  if (!size) return undefined;
  const steps = scripted ? opts.steps ?? s.steps : await chooseSteps(s.steps);
  if (!steps) return undefined;
  const label = `${module} ${size.numLayers}×${size.hiddenSize} on ${source.label}`;
  const out = opts.out ? vscode.Uri.file(opts.out) : checkpointUri(g, s.checkpointFolder, `${source.label}-${module}-${size.hiddenSize}`);
  await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(out, '..'));
  const spec: TrainSpec = {
    ...(source.text !== undefined ? { text: source.text } : { textPaths: source.files }),
    out: out.fsPath,
    engine: (opts.engine ?? s.engine) as TrainSpec['engine'],
    model: { module, hiddenSize: size.hiddenSize, numLayers: size.numLayers },
    settings: {
      steps, seqLen: opts.seqLen ?? s.sequenceLength, batchSize: opts.batchSize ?? s.batchSize,
      optimizer: { kind: 'adam', lr: s.learningRate }, evalEvery: Math.max(10, Math.round(steps / 20)),
      sampleEvery: Math.max(50, Math.round(steps / 5)), sampleLength: Math.min(200, s.sampleLength),
    },
  };
  const run = g.training.start(spec, label);
  g.output.info(`training ${label} → ${out.fsPath} (${g.backend.description})`);
  g.panels.showDashboard().reveal();
  const finished = followWithProgress(g, run);
  if (opts.wait) {
    await finished;
    await run.settled;
    return run.checkpointPath;
  }
  return out.fsPath;
}

function followWithProgress(g: Gatescope, run: TrainingRun): Promise<void> {
  return Promise.resolve(vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `gatescope: training ${run.label}`, cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => run.cancel());
      let reported = 0;
      let lastMessage = 0;
      const sub = run.onDidEvent((e) => {
        if (e.kind !== 'step') return;
        const pct = (100 * e.step) / Math.max(1, e.totalSteps);
        const now = Date.now();
        if (now - lastMessage < 250 && e.step !== e.totalSteps) return;
        lastMessage = now;
        progress.report({ increment: pct - reported, message: `step ${e.step}/${e.totalSteps} · loss ${e.loss.toFixed(3)}` });
        reported = pct;
      });
      try {
        await run.finished;
      } finally {
        sub.dispose();
      }
      const s = run.summary();
      if (s.status === 'failed') {
        g.output.error(`training ${run.label} failed: ${s.error}`);
        void vscode.window.showErrorMessage(`gatescope: training failed: ${s.error}`);
      } else {
        g.output.info(`training ${run.label} ${s.status}: ${s.checkpointPath ?? ''}`);
      }
    },
  ));
}
