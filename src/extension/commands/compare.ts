// "Compare implementations / weights…": two model files (weights side by side, gate by gate), or two
// engines on the current model (same start, same batches: per-step trajectories of the difference).
// The comparison itself is core/diff's (as `gatescope diff`); logic/diffView shapes it for the webview.
import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { TensorMap } from '../../core/tensor';
import { availableEngines } from '../../engines/index';
import type { Gatescope } from '../context';
import { diffView } from '../logic/diffView';
import { lmParamsOf, type ModelEntry, openedEntry } from '../services/modelStore';
import { MODEL_FILTERS } from './modelCommands';
import type { DiffViewModel } from '../../protocol/webview';
import { isWorkerCrash } from '../services/workerBackend';

export interface CompareOptions {
  readonly left?: string;
  readonly right?: string;
  readonly engines?: readonly [string, string];
  readonly steps?: number;
  /** rtol: largest relative error ‖a−b‖/‖a‖ counted as equal (default: 1e-12 float64, else 1e-5). */
  readonly tolerance?: number;
}

export async function compare(g: Gatescope, args?: unknown): Promise<DiffViewModel | undefined> {
  const o: CompareOptions = args && typeof args === 'object' ? args as CompareOptions : {};
  let mode: 'files' | 'engines' | undefined = o.left && o.right ? 'files' : o.engines ? 'engines' : undefined;
  if (!mode) {
    const pick = await vscode.window.showQuickPick([
      { label: '$(files) Two model files…', description: 'weights tensor by tensor and gate by gate', mode: 'files' as const },
      { label: '$(server-process) Two engines on the current model', description: 'same start, same batches, per-step divergence', mode: 'engines' as const },
    ], { title: 'Compare implementations / weights' });
    mode = pick?.mode;
  }
  if (!mode) return undefined;
  try {
    const report = mode === 'files' ? await compareFiles(g, o) : await compareEngines(g, o);
    if (!report) return undefined;
    g.output.info(`compare: ${report.verdict}`);
    g.panels.showDiff().show(report);
    return report;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    g.output.error(`compare: ${message}`);
    if (!isWorkerCrash(err)) void vscode.window.showErrorMessage(`gatescope: compare failed: ${message}`);
    return undefined;
  }
}

async function compareFiles(g: Gatescope, o: CompareOptions): Promise<DiffViewModel | undefined> {
  let left = o.left;
  let right = o.right;
  // One dialog per file: the reference is unambiguous, and VS Code's own (web/remote) file dialog picks one.
  left ??= await pickModelFile('Compare: the reference model file (1 of 2)', 'Use as reference');
  if (!left) return undefined;
  right ??= await pickModelFile(`Compare: the model file to compare with ${basename(left)} (2 of 2)`, 'Compare');
  if (!right) return undefined;
  const [ta, tb] = await Promise.all([readTrajectory(g, left), readTrajectory(g, right)]);
  if (ta && tb) {
    return diffView({ title: 'Weight trajectories', leftLabel: basename(left), rightLabel: basename(right), left: ta, right: tb, rtol: o.tolerance });
  }
  const load = async (p: string): Promise<ModelEntry> => openedEntry(p, basename(p), await g.backend.loadModel(p));
  const [a, b] = await Promise.all([load(left), load(right)]);
  const module = moduleOf(a);
  if (moduleOf(b) !== module) throw new Error(`${basename(left)} is ${module} but ${basename(right)} is ${moduleOf(b)}`);
  return diffView({
    title: 'Weights', leftLabel: basename(left), rightLabel: basename(right),
    left: stripRnn(lmParamsOf(a)), right: stripRnn(lmParamsOf(b)), rtol: o.tolerance,
  });
}

async function pickModelFile(title: string, openLabel: string): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false, title, openLabel, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    filters: MODEL_FILTERS,
  });
  return uris?.[0]?.fsPath;
}

/** Per-epoch weights (`epochN.<name>` tensors in a safetensors file, as `gatescope fit` writes), or null. Read in the worker. */
async function readTrajectory(g: Gatescope, path: string): Promise<TensorMap | null> {
  if (!path.endsWith('.safetensors')) return null;
  try {
    const tensors = await g.backend.readTensors(path);
    return tensors.size && [...tensors.keys()].every((k) => /^epoch\d+\./.test(k)) ? tensors : null;
  } catch (err) {
    if (isWorkerCrash(err)) throw err;
    return null; // not a trajectory: compared as a model below (with that loader's error message)
  }
}

function moduleOf(e: ModelEntry): 'LSTM' | 'GRU' | 'RNN' {
  const m = e.data?.config.rnn.module ?? e.imported?.config.module;
  if (!m) throw new Error(`${e.label}: not a recurrent model`);
  return m;
}

/** Canonical names for display: rnn.weight_ih_l0 -> weight_ih_l0 (head.* kept). */
function stripRnn(p: TensorMap): TensorMap {
  return new Map([...p].map(([k, v]) => [k.startsWith('rnn.') ? k.slice(4) : k, v]));
}

async function compareEngines(g: Gatescope, o: CompareOptions): Promise<DiffViewModel | undefined> {
  const model = g.models.current;
  if (!model?.data) throw new Error('no current language model: train one or open a gatescope checkpoint first');
  const available = availableEngines();
  let engines = o.engines;
  if (!engines) {
    const picks = await vscode.window.showQuickPick(available.map((e) => ({ label: e, picked: e === 'reference' || e === available[0] })), { title: 'Pick two engines (the first is the reference)', canPickMany: true });
    if (!picks) return undefined;
    if (picks.length !== 2) throw new Error(`pick exactly two engines (got ${picks.length})`);
    engines = [picks[0].label, picks[1].label];
  }
  const { config } = model.data;
  const steps = o.steps ?? 10;
  const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `gatescope: ${engines[0]} vs ${engines[1]}, ${steps} steps` },
    () => g.backend.compareEngines(model.data!, engines!, steps));
  const tol = config.rnn.dtype === 'float64' ? 1e-12 : 1e-4;
  return diffView({
    title: `Engines after ${steps} Adam steps`, leftLabel: r.leftName, rightLabel: r.rightName,
    left: stripRnn(r.left), right: stripRnn(r.right), rtol: o.tolerance ?? tol,
    trajectory: {
      label: 'Per step: worst parameter relative error and the two losses',
      epochs: Array.from({ length: steps }, (_, i) => i + 1),
      series: [
        { name: 'max relative error (params)', values: r.paramError.map((v) => Math.max(v, 1e-18)) },
        { name: `loss ${r.leftName}`, values: r.leftLosses },
        { name: `loss ${r.rightName}`, values: r.rightLosses },
      ],
    },
  });
}
