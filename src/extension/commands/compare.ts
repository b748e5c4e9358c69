// "Compare implementations / weights…": two model files (weights side by side, gate by gate), or two
// engines on the current model (same start, same batches: per-step trajectories of the difference).
import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { LmBatch } from '../../core/engine';
import { createRng } from '../../core/random';
import type { TensorMap } from '../../core/tensor';
import { availableEngines, createLmEngine, type EngineChoice } from '../../engines/index';
import type { Gatescope } from '../context';
import { diffModels, relativeError } from '../logic/tensorDiff';
import { lmParamsOf, loadModelEntry } from '../services/modelFiles';
import type { ModelEntry } from '../services/modelStore';
import type { DiffViewModel } from '../../protocol/webview';

export interface CompareOptions {
  readonly left?: string;
  readonly right?: string;
  readonly engines?: readonly [string, string];
  readonly steps?: number;
  readonly tolerance?: number;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
    const report = mode === 'files' ? await compareFiles(o) : await compareEngines(g, o);
    if (!report) return undefined;
    g.output.info(`compare: ${report.verdict}`);
    g.panels.showDiff().show(report);
    return report;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    g.output.error(`compare: ${message}`);
    void vscode.window.showErrorMessage(`gatescope: compare failed: ${message}`);
    return undefined;
  }
}

async function compareFiles(o: CompareOptions): Promise<DiffViewModel | undefined> {
  let left = o.left;
  let right = o.right;
  if (!left || !right) {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: true, openLabel: 'Compare (pick two)', title: 'Pick two model files (reference first)', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
    if (!uris) return undefined;
    if (uris.length !== 2) throw new Error(`pick exactly two files (got ${uris.length})`);
    [left, right] = uris.map((u) => u.fsPath);
  }
  const [a, b] = await Promise.all([loadModelEntry(left), loadModelEntry(right)]);
  const module = moduleOf(a);
  if (moduleOf(b) !== module) throw new Error(`${basename(left)} is ${module} but ${basename(right)} is ${moduleOf(b)}`);
  return diffModels({
    title: 'Weights', leftLabel: basename(left), rightLabel: basename(right), module,
    left: stripRnn(lmParamsOf(a)), right: stripRnn(lmParamsOf(b)), tolerance: o.tolerance ?? 1e-6,
  });
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
  for (const e of engines) if (!available.includes(e)) throw new Error(`engine "${e}" is not available here (available: ${available.join(', ')})`);
  const { config, params } = model.data;
  const steps = o.steps ?? 10;
  const left = createLmEngine(config, { engine: engines[0] as EngineChoice, params });
  const right = createLmEngine(config, { engine: engines[1] as EngineChoice, params });
  try {
    const rng = createRng(7);
    const B = 4;
    const T = 16;
    const options = { optimizer: { kind: 'adam' as const, lr: 2e-3 }, stateful: false };
    const lossL: number[] = [];
    const lossR: number[] = [];
    const paramErr: number[] = [];
    for (let s = 0; s < steps; s++) {
      const ids = Int32Array.from({ length: B * (T + 1) }, () => rng.int(config.vocabSize));
      const batch: LmBatch = {
        batchSize: B, seqLen: T,
        inputs: Int32Array.from({ length: B * T }, (_, i) => ids[Math.floor(i / T) * (T + 1) + (i % T)]),
        targets: Int32Array.from({ length: B * T }, (_, i) => ids[Math.floor(i / T) * (T + 1) + (i % T) + 1]),
      };
      lossL.push(left.trainStep(batch, options).loss);
      await yieldToEventLoop();
      lossR.push(right.trainStep(batch, options).loss);
      await yieldToEventLoop();
      const pl = left.getParameters();
      const pr = right.getParameters();
      let worst = 0;
      for (const [k, t] of pl) worst = Math.max(worst, relativeError(t.data as ArrayLike<number>, pr.get(k)!.data as ArrayLike<number>).rel);
      paramErr.push(worst);
    }
    const tol = config.rnn.dtype === 'float64' ? 1e-12 : 1e-4;
    return diffModels({
      title: `Engines after ${steps} Adam steps`, leftLabel: left.name, rightLabel: right.name, module: config.rnn.module,
      left: stripRnn(left.getParameters()), right: stripRnn(right.getParameters()), tolerance: tol,
      trajectory: {
        label: 'Per step: worst parameter relative error and the two losses',
        epochs: Array.from({ length: steps }, (_, i) => i + 1),
        series: [
          { name: 'max relative error (params)', values: paramErr.map((v) => Math.max(v, 1e-18)) },
          { name: `loss ${left.name}`, values: lossL },
          { name: `loss ${right.name}`, values: lossR },
        ],
      },
    });
  } finally {
    left.dispose();
    right.dispose();
  }
}
