// "Compare implementations / weights…": two model files (whether they compute the same model, as
// `gatescope diff` judges it: EQUIVALENT or DIFFERENT, which side to change and how), or two engines on the
// current model (same start, same batches: per-step trajectories of the difference). Each file is read in
// the compute worker as diff reads it (src/node/compareFiles.ts); the comparison is core/diff's, shaped for
// the webview by logic/diffView. A failed comparison replaces the view's last result with its error.
import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { TensorMap } from '../../core/tensor';
import { availableEngines } from '../../engines/index';
import type { Gatescope } from '../context';
import { diffErrorView, diffView } from '../logic/diffView';
import { askOpenQuestion, flagKey, MODEL_FILTERS } from './modelCommands';
import type { DiffViewModel } from '../../protocol/webview';
import type { ComparableFile } from '../../protocol/worker';
import { isWorkerCrash } from '../services/workerBackend';

export interface CompareOptions {
  readonly left?: string;
  readonly right?: string;
  readonly engines?: readonly [string, string];
  readonly steps?: number;
  /** rtol: largest relative error ‖a−b‖/‖a‖ counted as equal (default: 1e-12 float64, else 1e-5). */
  readonly tolerance?: number;
  /** Tensors only one side holds make the verdict DIFFERENT too (`gatescope diff --strict`). */
  readonly strict?: boolean;
  /** Answers to what the files do not record, as diff's import flags (`{ 'gate-order': 'i,f,o,g' }`). */
  readonly answers?: Readonly<Record<string, string>>;
}

export async function compare(g: Gatescope, args?: unknown): Promise<DiffViewModel | undefined> {
  const o: CompareOptions = args && typeof args === 'object' ? args as CompareOptions : {};
  let mode: 'files' | 'engines' | undefined = o.left && o.right ? 'files' : o.engines ? 'engines' : undefined;
  if (!mode) {
    const pick = await vscode.window.showQuickPick([
      { label: '$(files) Two model files…', description: 'do they compute the same model? what to change, gate by gate', mode: 'files' as const },
      { label: '$(server-process) Two engines on the current model', description: 'same start, same batches, per-step divergence', mode: 'engines' as const },
    ], { title: 'Compare implementations / weights' });
    mode = pick?.mode;
  }
  if (!mode) return undefined;
  let files: { left: string; right: string } | undefined;
  try {
    let report: DiffViewModel | undefined;
    if (mode === 'files') {
      files = await pickFiles(o);
      if (!files) return undefined;
      report = await compareFiles(g, files.left, files.right, o);
    } else {
      report = await compareEngines(g, o);
    }
    if (!report) return undefined;
    g.output.info(`compare: ${report.verdict}`);
    for (const c of report.changes ?? []) for (const item of c.items) g.output.info(`compare: change in ${c.label}: ${item}`);
    g.panels.showDiff().show(report);
    return report;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    g.output.error(`compare: ${message}`);
    // The view must not keep showing the previous pair's verdict as if it were this one's.
    const l = files ? basename(files.left) : 'A';
    const r = files ? basename(files.right) : 'B';
    g.panels.showDiff().show(diffErrorView(mode === 'files' ? 'Weights' : 'Engines', l, r, message));
    if (!isWorkerCrash(err)) void vscode.window.showErrorMessage(`gatescope: compare failed: ${message}`);
    return undefined;
  }
}

async function pickFiles(o: CompareOptions): Promise<{ left: string; right: string } | undefined> {
  // One dialog per file: the reference is unambiguous, and VS Code's own (web/remote) file dialog picks one.
  const left = o.left ?? await pickModelFile('Compare: the reference model file (1 of 2)', 'Use as reference');
  if (!left) return undefined;
  const right = o.right ?? await pickModelFile(`Compare: the model file to compare with ${basename(left)} (2 of 2)`, 'Compare');
  return right ? { left, right } : undefined;
}

/**
 * Reads both sides in the worker, asking (quick picks) what a file does not record — its gate order, which
 * of U/W is the input weight, ... — with the answer applied to both sides, as diff's import flags are.
 */
async function compareFiles(g: Gatescope, left: string, right: string, o: CompareOptions): Promise<DiffViewModel | undefined> {
  const answers: Record<string, string | string[]> = { ...o.answers };
  const read = async (path: string, side: 'A' | 'B'): Promise<ComparableFile | undefined> => {
    for (;;) {
      const m = await g.backend.loadModel(path, { answers, compareAs: side });
      if (m.comparable) return m.comparable;
      const q = m.question;
      if (!q) throw new Error(`${basename(path)}: nothing to compare`);
      if (answers[flagKey(q.flag)] !== undefined) throw new Error(q.message); // answered, and still open
      const a = await askOpenQuestion(q, path, { vocabulary: false });
      if (!a || a === 'weights') return undefined;
      Object.assign(answers, a);
    }
  };
  const a = await read(left, 'A');
  if (!a) return undefined;
  const b = await read(right, 'B');
  if (!b) return undefined;
  return diffView({
    title: 'Weights', leftLabel: basename(left), rightLabel: basename(right), left: a.tensors, right: b.tensors,
    leftInfo: a.info, rightInfo: b.info, rtol: o.tolerance, strict: o.strict,
    notes: [`A: ${a.description}`, `B: ${b.description}`, ...a.notes.map((n) => `A: ${n}`), ...b.notes.map((n) => `B: ${n}`)],
  });
}

async function pickModelFile(title: string, openLabel: string): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false, title, openLabel, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    filters: MODEL_FILTERS,
  });
  return uris?.[0]?.fsPath;
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
