// The "Models and runs" tree in the gatescope activity-bar container: runs (status, loss, actions)
// and models (current one marked; trace / sample / make current).
import * as vscode from 'vscode';
import { Disposable, Emitter, type IDisposable, MutableDisposable } from '../lifecycle';
import type { ModelEntry, ModelStore } from '../services/modelStore';
import { describeModel, modelDetails } from '../services/modelStore';
import type { TrainingRun } from '../services/trainingRun';
import type { TrainingService } from '../services/trainingService';
import { tooltipMarkdown } from '../logic/markdown';
import { untrustedMarkdown } from '../providers/markdownString';

type Node =
  | { readonly kind: 'group'; readonly group: 'runs' | 'models' }
  | { readonly kind: 'run'; readonly run: TrainingRun }
  | { readonly kind: 'model'; readonly model: ModelEntry };

export class ModelsTreeProvider extends Disposable implements vscode.TreeDataProvider<Node> {
  private readonly onDidChangeTreeDataEmitter = this.register(new Emitter<Node | undefined>());
  readonly onDidChangeTreeData = this.onDidChangeTreeDataEmitter.event;
  private lastRefresh = 0;
  /** One node per run, so a live update can name just that row (VS Code matches rows by element). */
  private readonly runNodes = new WeakMap<TrainingRun, Node>();

  constructor(private readonly models: ModelStore, private readonly training: TrainingService) {
    super();
    this.register(models.onDidChange(() => this.refresh(true)));
    this.register(training.onDidChangeRuns(() => this.refresh(true)));
    const runListener = this.register(new MutableDisposable<IDisposable>());
    this.register(training.onDidStartRun((run) => {
      // Live loss in the run's description, at most twice a second: that row only. Re-rendering every row
      // re-registered every row's click command, and a click landing meanwhile ran a command id just dropped.
      runListener.value = run.onDidEvent((e) => { if (e.kind === 'step') this.refresh(false, this.runNode(run)); });
    }));
  }

  private refresh(force: boolean, node?: Node): void {
    const now = Date.now();
    if (!force && now - this.lastRefresh < 500) return;
    this.lastRefresh = now;
    this.onDidChangeTreeDataEmitter.fire(node);
  }

  private runNode(run: TrainingRun): Node {
    let node = this.runNodes.get(run);
    if (!node) this.runNodes.set(run, node = { kind: 'run', run });
    return node;
  }

  getChildren(node?: Node): Node[] {
    // Nothing yet: no rows, so that the view shows its welcome content (package.json viewsWelcome).
    if (!node) return this.training.runs.length || this.models.models.length ? [{ kind: 'group', group: 'runs' }, { kind: 'group', group: 'models' }] : [];
    if (node.kind !== 'group') return [];
    return node.group === 'runs'
      ? [...this.training.runs].reverse().map((run) => this.runNode(run))
      : this.models.models.map((model) => ({ kind: 'model' as const, model }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'group': {
        const count = node.group === 'runs' ? this.training.runs.length : this.models.models.length;
        const item = new vscode.TreeItem(node.group === 'runs' ? 'Training runs' : 'Models', vscode.TreeItemCollapsibleState.Expanded);
        item.description = String(count);
        item.contextValue = `gatescope.group.${node.group}`;
        return item;
      }
      case 'run': {
        const r = node.run;
        const item = new vscode.TreeItem(r.label, vscode.TreeItemCollapsibleState.None);
        const loss = r.train.last();
        // Status first and short (a narrow view cuts the end of the line): the step only while training.
        const step = r.status === 'training' && r.lastStep ? `${Math.floor((100 * r.lastStep.step) / Math.max(1, r.lastStep.totalSteps))}%` : '';
        item.description = [r.status, step, loss !== undefined ? `loss ${loss.toFixed(3)}` : ''].filter(Boolean).join(' · ');
        const summary = r.summary();
        item.tooltip = tooltip(r.label, undefined, [
          `status: ${r.status}${r.lastStep ? ` at step ${r.lastStep.step} of ${r.lastStep.totalSteps}` : ''}`, summary.model ?? '', summary.classes ? `classes: ${summary.classes.join(', ')}` : '',
          r.engine ? `engine: ${r.engine}` : '', r.checkpointPath ? `checkpoint: ${r.checkpointPath}` : '', r.error ? `error: ${r.error}` : '',
        ]);
        item.iconPath = new vscode.ThemeIcon(r.status === 'training' ? 'sync~spin' : r.status === 'done' ? 'check' : r.status === 'cancelled' ? 'circle-slash' : 'error');
        item.contextValue = `gatescope.run.${r.status}`;
        item.command = { command: 'gatescope.showDashboard', title: 'Show training dashboard', arguments: [r.runId] };
        item.id = `run:${r.runId}`;
        return item;
      }
      case 'model': {
        const m = node.model;
        const current = this.models.current?.id === m.id;
        const item = new vscode.TreeItem(m.label, vscode.TreeItemCollapsibleState.None);
        item.description = `${current ? '● ' : ''}${describeModel(m)}${m.loss !== undefined ? ` · loss ${m.loss.toFixed(3)}` : ''}`;
        const details = modelDetails(m);
        item.tooltip = tooltip(m.label, current ? ' (current)' : undefined, [
          details.description, details.classes ? `classes: ${details.classes.join(', ')}` : '', m.path ?? '', m.engine ? `engine: ${m.engine}` : '',
        ]);
        item.iconPath = new vscode.ThemeIcon(current ? 'pass-filled' : 'circuit-board');
        // Classifiers cannot be sampled: their context menu has no "Sample text".
        item.contextValue = details.classes ? 'gatescope.model.classifier' : 'gatescope.model';
        item.command = { command: 'gatescope.useModel', title: 'Use this model', arguments: [m.id] };
        item.id = `model:${m.id}`;
        return item;
      }
    }
  }
}

/**
 * A tree item's tooltip: the title in bold, then one paragraph per line. Names, paths, engine strings, errors
 * and class names come from files and data, so they go in as text (logic/markdown.ts escapes them).
 */
function tooltip(title: string, suffix: string | undefined, lines: readonly string[]): vscode.MarkdownString {
  return untrustedMarkdown(tooltipMarkdown(title, suffix, lines));
}

/** A run's id in a command argument: the id itself (an item's click), or the tree node (its context menu). */
export function runIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && 'run' in arg) return (arg as { run: TrainingRun }).run.runId;
  return undefined;
}

/** Tree nodes arrive as command arguments from the context menu; this finds the model id in one. */
export function modelIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && 'model' in arg) return (arg as { model: ModelEntry }).model.id;
  return undefined;
}
