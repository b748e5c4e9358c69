// Classification data from a path the user picked: a CSV, TSV, JSON Lines, JSON array or fastText file, or
// a folder with one subfolder of .txt files per class (Keras text_dataset_from_directory; aclImdb-style
// train/ and test/ folders of class folders). Files are read in chunks, so they may exceed the longest
// string V8 can hold; what was read, skipped and inferred is reported.
import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { extname, join } from 'node:path';
import {
  type ClassFolderRecord, type ClassificationExample, type ExampleParser, type ParsedExamples, type Quoting, type ColumnRef,
  ClassificationDataError, classFolderExamples, delimitedParser, fastTextParser, jsonLinesParser, parseJsonArray,
} from '../core/data/classification';
import { decodeTextBytes } from '../core/data/text';

export type ClassificationFormat = 'csv' | 'tsv' | 'jsonl' | 'fasttext' | 'folders';

export interface ClassificationSourceOptions {
  /** Default: from the extension (and, for .txt and .json, the first bytes) or the folder layout. */
  readonly format?: ClassificationFormat;
  // CSV / TSV
  readonly header?: boolean | 'auto';
  readonly textColumn?: ColumnRef | readonly ColumnRef[];
  readonly labelColumn?: ColumnRef;
  readonly quoting?: Quoting;
  // JSON
  readonly textKey?: string | readonly string[];
  readonly labelKey?: string;
  /** A folder with train/ and test/ class folders: which one to read. Default 'train'. */
  readonly split?: 'train' | 'test';
  /** Files larger than this are refused. Default 2 GiB. */
  readonly maxBytes?: number;
}

export interface ClassificationFile {
  /** A file, or a class folder. */
  readonly path: string;
  readonly bytes: number;
  readonly examples: number;
}

export interface SkippedClassificationFile {
  readonly path: string;
  readonly reason: string;
}

export interface ClassificationSource {
  readonly format: ClassificationFormat;
  readonly examples: ClassificationExample[];
  /** The file read, or the folder whose class folders were read (e.g. `aclImdb/train`). */
  readonly root: string;
  readonly columns?: ParsedExamples['columns'];
  readonly sources: readonly ClassificationFile[];
  readonly skipped: readonly SkippedClassificationFile[];
  /** What was inferred (header, columns, which split), in words. */
  readonly notes: readonly string[];
}

export const MAX_CLASSIFICATION_BYTES = 2 * 1024 ** 3;
const CHUNK_BYTES = 16 * 1024 * 1024;

const hidden = (name: string): boolean => name.startsWith('.') || name === '__MACOSX';
const isDir = (p: string): boolean => { try { return statSync(p).isDirectory(); } catch { return false; } };
const isTxt = (name: string): boolean => extname(name).toLowerCase() === '.txt';
const gb = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(1)} GB`;

/** What kind of classification source `path` is, or undefined when it looks like none. */
export function detectClassificationSource(path: string): ClassificationFormat | undefined {
  let st;
  try { st = statSync(path); } catch { return undefined; }
  if (st.isDirectory()) return folderLayout(path) ? 'folders' : undefined;
  switch (extname(path).toLowerCase()) {
    case '.csv': return 'csv';
    case '.tsv': case '.tab': return 'tsv';
    case '.jsonl': case '.ndjson': return 'jsonl';
    case '.json': return /^\s*[[{]/.test(head(path)) ? 'jsonl' : undefined;
    case '.txt': case '.ft': return /^\s*__label__\S/.test(head(path)) ? 'fasttext' : undefined;
    default: return undefined;
  }
}

/** The first few KiB of a file as text (BOM dropped), '' when unreadable. */
function head(path: string, bytes = 4096): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return new TextDecoder('utf-8').decode(buf.subarray(0, n));
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads a classification source (see the module comment); throws ClassificationDataError when unusable. */
export function readClassificationSource(path: string, options: ClassificationSourceOptions = {}): ClassificationSource {
  let st;
  try { st = statSync(path); } catch (e) {
    throw new ClassificationDataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const format = options.format ?? detectClassificationSource(path);
  if (!format) {
    throw new ClassificationDataError(st.isDirectory()
      ? `${path}: not a classification folder (expected one subfolder of .txt files per class, or train/ and test/ folders of them)`
      : `${path}: not a classification file (expected .csv, .tsv, .jsonl, .json, or a fastText .txt with __label__ lines)`);
  }
  if (format === 'folders') {
    if (!st.isDirectory()) throw new ClassificationDataError(`${path}: is a file, not a folder of class folders`);
    return readFolders(path, options);
  }
  if (st.isDirectory()) throw new ClassificationDataError(`${path}: is a folder, not a ${format} file`);
  const maxBytes = options.maxBytes ?? MAX_CLASSIFICATION_BYTES;
  if (st.size > maxBytes) {
    throw new ClassificationDataError(`${path}: is ${gb(st.size)}; files over ${gb(maxBytes)} are refused (split or sample it first)`);
  }
  if (st.size === 0) throw new ClassificationDataError(`${path}: is empty`);
  let parsed: ParsedExamples;
  if (format === 'jsonl' && /^\s*\[/.test(head(path))) {
    if (st.size > bufferConstants.MAX_STRING_LENGTH) {
      throw new ClassificationDataError(`${path}: a JSON array this large cannot be read at once; convert it to JSON Lines (one object per line)`);
    }
    const verdict = decodeTextBytes(readFileSync(path));
    if (verdict.binary) throw new ClassificationDataError(`${path}: ${verdict.reason}`);
    parsed = parseJsonArray(verdict.text, { textKey: options.textKey, labelKey: options.labelKey, source: path });
  } else {
    const parser = fileParser(format, path, options);
    readTextChunks(path, (chunk) => parser.push(chunk));
    parsed = parser.end();
  }
  return {
    format,
    examples: parsed.examples,
    root: path,
    columns: parsed.columns,
    sources: [{ path, bytes: st.size, examples: parsed.examples.length }],
    skipped: [],
    notes: parsed.notes,
  };
}

function fileParser(format: Exclude<ClassificationFormat, 'folders'>, source: string, o: ClassificationSourceOptions): ExampleParser {
  switch (format) {
    case 'csv': case 'tsv':
      return delimitedParser({
        delimiter: format === 'csv' ? ',' : '\t', header: o.header, textColumn: o.textColumn, labelColumn: o.labelColumn,
        quoting: o.quoting, source,
      });
    case 'jsonl': return jsonLinesParser({ textKey: o.textKey, labelKey: o.labelKey, source });
    case 'fasttext': return fastTextParser({ source });
  }
}

/** Decodes a file as UTF-8 in chunks (a multi-byte character may straddle two reads); refuses binary. */
function readTextChunks(path: string, onChunk: (text: string) => void): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let offset = 0;
    const decode = (bytes?: Uint8Array): string => {
      try { return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode(); } catch {
        throw new ClassificationDataError(`${path}: is not valid UTF-8 (within bytes ${offset}..${offset + (bytes?.length ?? 0)})`);
      }
    };
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (!n) break;
      const bytes = buf.subarray(0, n);
      const nul = bytes.indexOf(0);
      if (nul >= 0) throw new ClassificationDataError(`${path}: looks binary (a NUL byte at offset ${offset + nul})`);
      onChunk(decode(bytes));
      offset += n;
    }
    const rest = decode();
    if (rest) onChunk(rest);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Folders

/** Unlabelled folder names that sit beside the class folders (aclImdb's train/unsup). */
const UNLABELLED = new Set(['unsup']);

interface FolderLayout {
  readonly root: string;
  readonly classes: readonly string[];
  readonly notes: readonly string[];
  readonly unlabelled: readonly string[];
}

/** Does a folder (or anything under it) hold a .txt file? */
function holdsText(dir: string): boolean {
  let names: string[];
  try { names = readdirSync(dir); } catch { return false; }
  for (const name of names) {
    if (hidden(name)) continue;
    const p = join(dir, name);
    if (isDir(p) ? holdsText(p) : isTxt(name)) return true;
  }
  return false;
}

function classFolders(dir: string): { classes: string[]; unlabelled: string[] } {
  let names: string[];
  try { names = readdirSync(dir).sort(); } catch { return { classes: [], unlabelled: [] }; }
  const dirs = names.filter((n) => !hidden(n) && isDir(join(dir, n)) && holdsText(join(dir, n)));
  return { classes: dirs.filter((n) => !UNLABELLED.has(n)), unlabelled: dirs.filter((n) => UNLABELLED.has(n)) };
}

/** Where the class folders are: `dir` itself, or its train/ (or test/) when it has train/ and test/. */
function folderLayout(dir: string, split: 'train' | 'test' = 'train'): FolderLayout | undefined {
  const splitDir = join(dir, split);
  const other = split === 'train' ? 'test' : 'train';
  if (isDir(splitDir)) {
    const inner = classFolders(splitDir);
    if (inner.classes.length >= 2) {
      const notes = isDir(join(dir, other))
        ? [`reading ${split}/ (${other}/ is there too: choose split '${other}' to read it)`]
        : [`reading ${split}/`];
      return { root: splitDir, classes: inner.classes, unlabelled: inner.unlabelled, notes };
    }
  }
  if (split === 'test') return undefined;
  const top = classFolders(dir);
  return top.classes.length >= 2 ? { root: dir, classes: top.classes, unlabelled: top.unlabelled, notes: [] } : undefined;
}

function readFolders(dir: string, options: ClassificationSourceOptions): ClassificationSource {
  const layout = folderLayout(dir, options.split ?? 'train');
  if (!layout) {
    const found = classFolders(dir).classes;
    throw new ClassificationDataError(options.split === 'test' && !isDir(join(dir, 'test'))
      ? `${dir}: has no test/ folder`
      : `${dir}: needs two or more class folders holding .txt files${found.length ? ` (found only ${found.map((c) => JSON.stringify(c)).join(', ')})` : ''}`);
  }
  const maxBytes = options.maxBytes ?? MAX_CLASSIFICATION_BYTES;
  const records: ClassFolderRecord[] = [];
  const sources: ClassificationFile[] = [];
  const skipped: SkippedClassificationFile[] = [];
  for (const u of layout.unlabelled) skipped.push({ path: join(layout.root, u), reason: 'unlabelled examples (aclImdb unsup/), ignored' });
  const loose = readdirSync(layout.root).filter((n) => !hidden(n) && !isDir(join(layout.root, n)));
  if (loose.length) {
    skipped.push({ path: layout.root, reason: `${loose.length} file${loose.length > 1 ? 's' : ''} beside the class folders ignored (${loose.slice(0, 5).join(', ')}${loose.length > 5 ? ', …' : ''})` });
  }
  for (const className of layout.classes) {
    const classDir = join(layout.root, className);
    let bytes = 0;
    let count = 0;
    let notText = 0;
    const walk = (d: string): void => {
      for (const name of readdirSync(d).sort()) {
        if (hidden(name)) continue;
        const p = join(d, name);
        if (isDir(p)) { walk(p); continue; }
        if (!isTxt(name)) { notText++; continue; }
        const size = statSync(p).size;
        if (size > maxBytes) { skipped.push({ path: p, reason: `is ${gb(size)}, over ${gb(maxBytes)}` }); continue; }
        const verdict = decodeTextBytes(readFileSync(p));
        if (verdict.binary) { skipped.push({ path: p, reason: `binary: ${verdict.reason}` }); continue; }
        if (!verdict.text.trim()) { skipped.push({ path: p, reason: 'is empty' }); continue; }
        records.push({ className, text: verdict.text });
        bytes += size;
        count++;
      }
    };
    walk(classDir);
    if (notText) skipped.push({ path: classDir, reason: `${notText} file${notText > 1 ? 's' : ''} without the .txt extension ignored` });
    sources.push({ path: classDir, bytes, examples: count });
  }
  const parsed = classFolderExamples(records, layout.root);
  return {
    format: 'folders',
    examples: parsed.examples,
    root: layout.root,
    columns: parsed.columns,
    sources,
    skipped,
    notes: [...layout.notes, `classes from folder names: ${layout.classes.map((c) => JSON.stringify(c)).join(', ')}`],
  };
}
