// Whether the chosen files can be trained on at all, decided from their size and first bytes before any
// prompt (the worker still reads them whole and reports what it used and skipped): a user who picked an
// empty or binary file hears it at once, not after answering cell, size and steps.
import { decodeTextBytes } from '../../core/data/text';

/** A file's size and its first bytes (HEAD_BYTES, or all of it when smaller). */
export interface FileHead {
  readonly name: string;
  readonly size: number;
  readonly head: Uint8Array;
}

export const HEAD_BYTES = 64 * 1024;

export const ACCEPTED_SOURCES = 'Train on UTF-8 text files, or on labelled examples: a CSV, TSV, JSON Lines or fastText file, or a folder of class folders.';

/** Why this file cannot be trained on ("is empty", "looks binary: …"), or undefined when it may be text. */
export function unusableReason(f: FileHead): string | undefined {
  if (f.size === 0) return 'is empty';
  // A cut-off head may end inside a multi-byte character: only judge the complete part.
  const judged = f.head.length < f.size ? f.head.subarray(0, Math.max(0, f.head.length - 3)) : f.head;
  const verdict = decodeTextBytes(judged);
  if (verdict.binary) return `looks binary (it ${verdict.reason})`;
  if (f.head.length >= f.size && !/\S/.test(verdict.text)) return 'holds only white space';
  return undefined;
}

/** The message refusing these files when none of them can be trained on (one line, each file named once); else undefined. */
export function unusableSourceMessage(files: readonly FileHead[]): string | undefined {
  if (!files.length) return undefined;
  const reasons = files.map((f) => ({ name: f.name, reason: unusableReason(f) }));
  if (reasons.some((r) => r.reason === undefined)) return undefined;
  const what = reasons.map((r) => `${r.name} ${r.reason}`).join('; ');
  const lead = files.length === 1 ? `${what}: nothing to train on.` : `none of the ${files.length} files can be trained on: ${what}.`;
  return `${lead} ${ACCEPTED_SOURCES}`;
}
