// Two model files compared as `gatescope diff` compares them (core/diff/equivalence.ts), in two halves so
// that the reading can run where files are parsed (the CLI, the extension's compute worker) and the
// comparison where the report is shown: readComparable reads one side (canonical tensors and what the file
// records beyond them), compareComparable judges the pair.
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { type ModelDiffReport, type SideInfo, compareModels } from '../core/diff/equivalence';
import type { ModelImportOptions } from '../core/formats/model';
import type { ImportedModel } from '../core/layouts/model';
import type { TensorMap } from '../core/tensor';
import { type CanonicalFile, loadCanonical } from './loadCanonical';
import { loadModelFile, loadTensorFileAt } from './loadModelFile';

/** One side of a comparison: plain data (structured-cloneable, it crosses the worker boundary). */
export interface ComparableFile {
  readonly side: 'A' | 'B';
  readonly path: string;
  readonly tensors: TensorMap;
  /** How the file was read ("PyTorch state_dict (pytorch layout)"). */
  readonly description: string;
  readonly info: SideInfo;
  /** The importer's notes on the file (what was used, what was ignored). */
  readonly notes: readonly string[];
}

export interface ComparableOptions {
  readonly import?: ModelImportOptions;
  /** That side adds this to its LSTM forget-gate bias at run time (TF1 LSTMCell forget_bias). */
  readonly forgetBias?: number;
}

/** Files up to this size are read a second time for what they record; bigger ones are taken as they load. */
const SECOND_READ_BYTES = 256 * 2 ** 20;

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return Infinity;
  }
}

/**
 * What a file records beyond its tensors. Imported models say what they record (ImportSource.recorded);
 * the rest is assumed (a plain state_dict is nn.LSTM/GRU's: sigmoid gates, reset after). Plain files
 * with PyTorch names that can record more (gatescope's safetensors metadata, a pickled module's mode)
 * are read once more through loadModelFile, best effort; from-scratch files have their own names read,
 * so that a verdict can use them.
 */
async function sideInfo(f: CanonicalFile, path: string, side: 'A' | 'B', opts: ModelImportOptions, forgetBias: number | undefined): Promise<SideInfo> {
  const label = `file ${side} (${basename(path)})`;
  let m: ImportedModel | undefined = f.model;
  if (!m && sizeOf(path) <= SECOND_READ_BYTES) {
    try {
      m = await loadModelFile(path, opts);
    } catch {
      // not a model: a trace, a trajectory, a file with more than one reading
    }
  }
  const fb = forgetBias === undefined ? {} : { forgetBias };
  const flags = { recurrentActivation: opts.recurrentActivation, nonlinearity: opts.nonlinearity, gruReset: opts.gruReset };
  const rec = { ...(m?.source.recorded ?? {}) };
  const assumed = (['recurrentActivation', 'nonlinearity', 'gruReset'] as const).filter((k) => rec[k] === undefined && flags[k] === undefined);
  if (!m) {
    return {
      layout: 'pytorch', format: f.description, recurrentActivation: opts.recurrentActivation ?? 'sigmoid', gruReset: opts.gruReset ?? 'after',
      ...(opts.nonlinearity ? { nonlinearity: opts.nonlinearity } : {}), assumed, headActivation: 'linear', label, ...fb,
    };
  }
  const cfg = m.config;
  const layout = m.source.layout;
  const own = /^(scratch-|min-char-rnn|recurrentjs)/.test(layout);
  let rawNames: string[] | undefined;
  if (own) {
    try {
      rawNames = [...loadTensorFileAt(path).keys()];
    } catch {
      // a JSON program file (recurrentjs): its names follow the program's scheme
    }
  }
  const inputLetter = m.source.notes.some((n) => /: U is the input weight/.test(n)) ? 'U' as const : undefined;
  return {
    layout, format: m.source.format, recurrentActivation: cfg.recurrentActivation, gruReset: cfg.gruReset,
    // An Elman RNN's nonlinearity only when the file or a flag says it (a state_dict does not).
    ...(cfg.module === 'RNN' && !assumed.includes('nonlinearity') ? { nonlinearity: cfg.nonlinearity } : {}),
    assumed, headActivation: m.head?.activation ?? 'linear',
    ...(layout === 'scratch-fused' && opts.gateOrder ? { gateOrder: opts.gateOrder.split(/[\s,]+/).filter(Boolean).map((g) => g.toLowerCase()) } : {}),
    ...(rawNames ? { rawNames } : {}), ...(inputLetter ? { inputLetter } : {}),
    label, ...fb,
  };
}

/**
 * Reads one side of a comparison (loadCanonical keeps the head a stack-only import found). Throws the loaders' errors (FormatError, ConfigError, ...).
 */
export async function readComparable(path: string, side: 'A' | 'B', options: ComparableOptions = {}): Promise<ComparableFile> {
  const opts = options.import ?? {};
  const f = await loadCanonical(path, opts);
  const info = await sideInfo(f, path, side, opts, options.forgetBias);
  return { side, path, tensors: f.tensors, description: f.description, info, notes: f.model?.source.notes ?? [] };
}

/** Judges two sides read by readComparable: the report (with each side's import notes) and the sides' labels. */
export function compareComparable(a: ComparableFile, b: ComparableFile, options: { readonly rtol?: number; readonly strict?: boolean } = {}): { report: ModelDiffReport; labels: { a: string; b: string } } {
  const report = compareModels(a.tensors, b.tensors, a.info, b.info, { rtol: options.rtol, strict: !!options.strict });
  const notes = [...report.notes, ...a.notes.map((n) => `A: ${n}`), ...b.notes.map((n) => `B: ${n}`)];
  return { report: { ...report, notes }, labels: { a: a.info.label ?? 'file A', b: b.info.label ?? 'file B' } };
}
