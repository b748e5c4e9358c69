// "Open model…", "Sample text", "Use this model".
import * as vscode from 'vscode';
import type { Gatescope } from '../context';
import { basename } from 'node:path';
import { taskOf } from '../../core/model';
import { describeModel, type ModelEntry, openedEntry } from '../services/modelStore';
import { readSettings } from '../settings';
import { modelIdOf } from '../tree/modelsTree';
import { isWorkerCrash } from '../services/workerBackend';

export const MODEL_FILTERS: Record<string, string[]> = {
  'Models': ['safetensors', 'pt', 'pth', 'bin', 'h5', 'keras', 'onnx', 'json', 'npz', 'npy'],
  'All files': ['*'],
};

export async function openModel(g: Gatescope, arg?: unknown): Promise<string | undefined> {
  let path: string | undefined;
  if (arg instanceof vscode.Uri) path = arg.fsPath;
  else if (typeof arg === 'string') path = arg;
  else {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: MODEL_FILTERS, openLabel: 'Open model', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
    path = uris?.[0]?.fsPath;
  }
  if (!path) return undefined;
  let entry: ModelEntry;
  try {
    entry = openedEntry(path, basename(path), await g.backend.loadModel(path));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    g.output.error(`open model: ${message}`);
    // A worker crash (e.g. out of memory) was announced already, naming the file.
    if (!isWorkerCrash(err)) void vscode.window.showErrorMessage(`gatescope: cannot open ${path}: ${message}`);
    return undefined;
  }
  g.models.add(entry);
  g.traces.removeModel(entry.id);
  const traceable = entry.data ? '' : ' (no vocabulary: comparisons only)';
  g.output.info(`opened ${path}: ${describeModel(entry)}${traceable}`);
  void vscode.window.setStatusBarMessage(`gatescope: ${entry.label} — ${describeModel(entry)}${traceable}`, 5000);
  return entry.id;
}

export function useModel(g: Gatescope, arg?: unknown): void {
  const id = modelIdOf(arg);
  if (id) g.models.setCurrent(id);
}

/**
 * The current model when it can be traced (a gatescope model: language model or classifier); otherwise
 * explains what to do, returns undefined.
 */
export async function requireTraceableModel(g: Gatescope, action: string): Promise<ModelEntry | undefined> {
  const m = g.models.current;
  if (m?.data) return m;
  const why = m ? `${m.label} has no vocabulary (imported weights)` : 'there is no model yet';
  const pick = await vscode.window.showWarningMessage(`gatescope: to ${action}, ${why}. Train one or open a gatescope checkpoint.`, 'Train char LSTM', 'Open model…');
  if (pick === 'Train char LSTM') await vscode.commands.executeCommand('gatescope.trainCharLstm');
  if (pick === 'Open model…') await vscode.commands.executeCommand('gatescope.openModel');
  return undefined;
}

export interface SampleCommandOptions {
  readonly prime?: string;
  readonly length?: number;
  readonly temperature?: number;
  readonly seed?: number;
  /** Do not open an editor with the result (tests). */
  readonly quiet?: boolean;
}

/** The current model when it can generate text; a classifier is refused with what it can do instead. */
export async function requireLanguageModel(g: Gatescope, action: string): Promise<ModelEntry | undefined> {
  const m = await requireTraceableModel(g, action);
  if (!m?.data || taskOf(m.data.config) === 'lm') return m;
  const pick = await vscode.window.showErrorMessage(
    `gatescope: ${m.label} is a sequence classifier (${describeModel(m)}): it labels a text, it cannot generate one. `
    + 'Trace a document to see its prediction, or make a language model current.', 'Trace active document');
  if (pick === 'Trace active document') await vscode.commands.executeCommand('gatescope.traceActiveDocument');
  return undefined;
}

export async function sampleTextCommand(g: Gatescope, args?: unknown): Promise<string | undefined> {
  const model = await requireLanguageModel(g, 'sample text');
  if (!model?.data) return undefined;
  const s = readSettings();
  const o: SampleCommandOptions = args && typeof args === 'object' ? args as SampleCommandOptions : {};
  const scripted = o.temperature !== undefined || o.prime !== undefined;
  const prime = scripted ? o.prime ?? '' : await vscode.window.showInputBox({ title: 'Sample text: prime (may be empty)', value: '' });
  if (prime === undefined) return undefined;
  let temperature = o.temperature;
  if (temperature === undefined) {
    const pick = await vscode.window.showQuickPick(s.sampleTemperatures.map((t) => ({ label: String(t), description: t < 0.7 ? 'conservative' : t > 0.9 ? 'adventurous' : '' })), { title: 'Sample text: temperature' });
    if (!pick) return undefined;
    temperature = Number(pick.label);
  }
  const text = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'gatescope: sampling' }, () =>
    g.backend.sample(model.data!, { prime, length: o.length ?? s.sampleLength, temperature: temperature!, seed: o.seed ?? Date.now() % 100_000 }));
  const full = prime + text;
  g.output.info(`sample (T=${temperature}) from ${model.label}: ${JSON.stringify(full.slice(0, 200))}`);
  if (!o.quiet) {
    const doc = await vscode.workspace.openTextDocument({ content: full, language: 'plaintext' });
    await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }
  return full;
}
