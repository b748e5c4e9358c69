// The models the extension knows (trained here or opened from files) and which one is current: the one
// "Trace active document" and "Sample text" use.
import { Disposable, Emitter } from '../lifecycle';
import { type ImportedModel, toLmParams } from '../../core/layouts/model';
import { describeModel as describeConfig, taskOf } from '../../core/model';
import { classNames } from '../logic/predictions';
import type { TensorMap } from '../../core/tensor';
import type { LoadedModel, ModelData } from './backend';

export interface ModelEntry {
  readonly id: string;
  readonly label: string;
  /** Where it lives on disk (checkpoint or imported file), when it does. */
  readonly path?: string;
  readonly origin: 'trained' | 'opened';
  /** A gatescope model with its vocabulary: can be traced (and sampled, a language model). */
  readonly data?: ModelData;
  /** A model imported from another framework (canonical PyTorch layout), for comparisons. */
  readonly imported?: ImportedModel;
  readonly engine?: string;
  readonly runId?: string;
  /** Last training loss (nats/token), when known. */
  readonly loss?: number;
}

/** An entry with its vocabulary: what tracing and sampling need. */
export type TraceableModel = ModelEntry & { readonly data: ModelData };

export function isTraceable(entry: ModelEntry | undefined): entry is TraceableModel {
  return entry?.data !== undefined;
}

/** An entry for a model read from `path`. */
export function openedEntry(path: string, label: string, m: LoadedModel): ModelEntry {
  return {
    id: path, label, path, origin: 'opened',
    ...(m.data ? { data: m.data } : {}), ...(m.imported ? { imported: m.imported } : {}),
    ...(m.engine ? { engine: m.engine } : {}), ...(m.loss !== undefined ? { loss: m.loss } : {}),
  };
}

/** Canonical parameters of an entry with the `rnn.` / `head.` names an LmEngine uses. */
export function lmParamsOf(entry: ModelEntry): TensorMap {
  if (entry.data) return entry.data.params;
  if (entry.imported) return toLmParams(entry.imported);
  return new Map();
}

/** A short description: `LSTM 1×128, vocab 65` or `GRU 1×64 bi classifier, 4 classes`. */
export function describeModel(entry: Pick<ModelEntry, 'data' | 'imported'>): string {
  const r = entry.data?.config.rnn ?? entry.imported?.config;
  if (!r) return 'empty model';
  const dir = r.bidirectional ? ' bi' : '';
  const cfg = entry.data?.config;
  const classifier = cfg && taskOf(cfg) === 'classify';
  const tail = !cfg ? `input ${r.inputSize}, ${entry.imported!.source.format}` : classifier ? `${cfg.outputSize} classes` : `vocab ${cfg.vocabSize}`;
  return `${r.module} ${r.numLayers}×${r.hiddenSize}${dir}${classifier ? ' classifier' : ''}, ${tail}`;
}

/**
 * What a model is, in full: the one-line model description (core/model.ts) and, for a classifier, its class
 * names. Plain text (class names come from data files): views escape it.
 */
export function modelDetails(entry: Pick<ModelEntry, 'data' | 'imported'>): { description: string; classes?: string[] } {
  const cfg = entry.data?.config;
  if (!cfg) return { description: describeModel(entry) };
  return { description: describeConfig(cfg), ...(taskOf(cfg) === 'classify' ? { classes: classNames(entry.data!.labels, cfg.outputSize) } : {}) };
}

export class ModelStore extends Disposable {
  private readonly entries: ModelEntry[] = [];
  private currentId: string | undefined;
  private readonly onDidChangeEmitter = this.register(new Emitter<void>());
  readonly onDidChange = this.onDidChangeEmitter.event;

  get models(): readonly ModelEntry[] {
    return this.entries;
  }

  get current(): ModelEntry | undefined {
    return this.entries.find((m) => m.id === this.currentId);
  }

  get(id: string): ModelEntry | undefined {
    return this.entries.find((m) => m.id === id);
  }

  /**
   * Adds (or replaces an entry with the same id) and makes it current by default, except weights that
   * cannot be traced (imported without a vocabulary) while the current model can: those are there for
   * comparisons and do not take over from a usable model.
   */
  add(entry: ModelEntry, makeCurrent?: boolean): ModelEntry {
    const current = this.current;
    const takeOver = makeCurrent ?? (entry.data !== undefined || !current?.data || current.id === entry.id);
    const i = this.entries.findIndex((m) => m.id === entry.id);
    if (i >= 0) this.entries[i] = entry;
    else this.entries.push(entry);
    if (takeOver) this.currentId = entry.id;
    this.onDidChangeEmitter.fire();
    return entry;
  }

  setCurrent(id: string): void {
    if (!this.get(id)) throw new Error(`no model with id ${id}`);
    this.currentId = id;
    this.onDidChangeEmitter.fire();
  }

  remove(id: string): void {
    const i = this.entries.findIndex((m) => m.id === id);
    if (i < 0) return;
    this.entries.splice(i, 1);
    if (this.currentId === id) this.currentId = this.entries.at(-1)?.id;
    this.onDidChangeEmitter.fire();
  }
}
