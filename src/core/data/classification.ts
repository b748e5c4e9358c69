// Sequence-classification data from the files people have: CSV/TSV with a text and a label column, JSON
// Lines, fastText `__label__` lines, and one folder per class (the node side reads the folders and hands
// records here). Then labels → class ids, token ids with a length cap, a seeded validation split, and
// length-bucketed padded batches (an LmBatch with `lengths`, the class ids as `targets`).
//
// Parsers are incremental (`push` chunks, then `end`) so the node side can feed files larger than the
// longest string V8 holds (~512 MiB); `parseDelimited` / `parseJsonLines` / ... parse one whole string.
import type { LmBatch } from '../engine';
import { createRng } from '../random';
import { buildCharVocab, charIndex, encodeChars } from './charVocab';
import { normalizeNewlines } from './text';
import type { TokenLevel, Vocabulary } from './tokenizer';
import { type WordVocabOptions, buildWordVocab, compareCodePoints, splitWords, tokenizeWords } from './wordVocab';

/** Bad classification data; the message names the file (`source`), the line and the column. */
export class ClassificationDataError extends Error {}

export interface ClassificationExample {
  readonly text: string;
  /** The label as written: a class name or an integer (JSON numbers and booleans become their text). */
  readonly label: string;
  /** 1-based line where the example starts, for files with lines. */
  readonly line?: number;
}

export interface ParsedExamples {
  readonly examples: ClassificationExample[];
  /** Where text and label came from, for the run's report: column names / indices or JSON keys. */
  readonly columns?: { readonly text: readonly string[]; readonly label: string; readonly header: boolean };
  /** What was inferred (header, column layout), in words. */
  readonly notes: readonly string[];
}

/** An incremental parser: feed the file in chunks (any split, even inside a quoted field), then `end`. */
export interface ExampleParser {
  push(chunk: string): void;
  end(): ParsedExamples;
}

function parseAll(parser: ExampleParser, text: string): ParsedExamples {
  parser.push(text);
  return parser.end();
}

const at = (source: string, line?: number): string => (line === undefined ? source : `${source}:${line}`);
const fail = (source: string, line: number | undefined, message: string): never => {
  throw new ClassificationDataError(`${at(source, line)}: ${message}`);
};
const quoteValue = (s: string, max = 30): string => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

const INTEGER = /^[+-]?\d+$/;
export const isIntegerLabel = (s: string): boolean => INTEGER.test(s.trim());

// ---------------------------------------------------------------------------------------------------------
// Column names

/** Header names (or JSON keys) that hold the text, most specific first. */
export const TEXT_NAMES = ['text', 'sentence', 'review', 'content', 'document', 'description', 'body',
  'comment', 'tweet', 'message', 'utterance', 'abstract', 'question'] as const;
/** Header names (or JSON keys) that hold the label. */
export const LABEL_NAMES = ['label', 'labels', 'class', 'class index', 'category', 'target', 'sentiment',
  'polarity', 'rating', 'stars', 'intent', 'topic', 'emotion', 'y'] as const;
/**
 * A `title` column is put in front of these (AG News: title + description; DBpedia, Amazon: title + content);
 * a `text` column is taken alone, in CSV as in JSON.
 */
const TITLE_JOINS = new Set(['description', 'content', 'body', 'abstract']);

/** `Class Index`, `class_index`, ` CLASS-INDEX ` → `class index`. */
const normalizeName = (s: string): string => s.trim().toLowerCase().replace(/[\s_-]+/g, ' ');

interface NamedColumns { readonly text?: number[]; readonly label?: number }

/** Text and label columns among `names` by the usual names; either may be missing. */
function columnsByName(names: readonly string[]): NamedColumns {
  const norm = names.map(normalizeName);
  const find = (candidates: readonly string[]): number | undefined => {
    for (const c of candidates) {
      const i = norm.indexOf(c);
      if (i >= 0) return i;
    }
    return undefined;
  };
  const label = find(LABEL_NAMES);
  const textCol = find(TEXT_NAMES);
  const title = norm.indexOf('title');
  let text: number[] | undefined;
  if (textCol !== undefined) text = title >= 0 && TITLE_JOINS.has(norm[textCol]) ? [title, textCol] : [textCol];
  else if (title >= 0) text = [title];
  return { text: text?.filter((i) => i !== label), label };
}

// ---------------------------------------------------------------------------------------------------------
// RFC 4180 records

export interface DelimitedRecord {
  readonly fields: readonly string[];
  /** 1-based line where the record starts. */
  readonly line: number;
}

export type Quoting = 'auto' | 'rfc4180' | 'none';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;

/**
 * Splits delimited text into records, chunk by chunk. RFC 4180: fields in double quotes may hold the
 * delimiter, newlines and doubled quotes (`""` → `"`); records end at LF, CRLF or a lone CR; a quote inside
 * an unquoted field is literal, and text after a closing quote is kept (as Python's csv does). Records whose
 * fields are all blank (empty lines, Excel's `,,,`) are skipped. With quoting 'none' quotes are plain text;
 * 'auto' is rfc4180 for commas and, for tabs, 'none' except that a whole field written as `"..."` with its
 * inner quotes doubled is unwrapped (what pandas' to_csv(sep='\t') writes) — tab-separated files usually
 * contain bare quotes in their text.
 */
export class DelimitedReader {
  readonly records: DelimitedRecord[] = [];
  private readonly delimiter: number;
  private readonly quoted: boolean;
  private readonly unwrap: boolean;
  private state = FIELD_START;
  private fields: string[] = [];
  private carry = '';
  private line = 1;
  private recordLine = 1;
  private quoteLine = 1;
  private crPending = false;
  private skipLF = false;

  constructor(delimiter: ',' | '\t', quoting: Quoting = 'auto', private readonly source = 'input') {
    this.delimiter = delimiter.charCodeAt(0);
    this.quoted = quoting === 'rfc4180' || (quoting === 'auto' && delimiter === ',');
    this.unwrap = quoting === 'auto' && delimiter === '\t';
  }

  push(chunk: string): void {
    const d = this.delimiter;
    let seg = 0; // start of the current field's text within this chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === LF) { if (!this.crPending) this.line++; } else if (c === CR) this.line++;
      this.crPending = c === CR;
      if (this.skipLF) {
        this.skipLF = false;
        if (c === LF) { seg = i + 1; continue; }
      }
      if (this.state === FIELD_START) {
        if (this.quoted && c === QUOTE) {
          this.state = QUOTED;
          this.quoteLine = this.line;
          seg = i + 1;
          continue;
        }
        this.state = UNQUOTED;
        seg = i;
      }
      switch (this.state) {
        case UNQUOTED:
          if (c === d) this.endField(this.carry + chunk.slice(seg, i));
          else if (c === LF || c === CR) this.endRecord(this.carry + chunk.slice(seg, i), c === CR);
          break;
        case QUOTED:
          if (c === QUOTE) {
            this.carry += chunk.slice(seg, i);
            this.state = QUOTE_IN_QUOTED;
          }
          break;
        case QUOTE_IN_QUOTED:
          if (c === QUOTE) { this.carry += '"'; this.state = QUOTED; seg = i + 1; }
          else if (c === d) this.endField(this.carry);
          else if (c === LF || c === CR) this.endRecord(this.carry, c === CR);
          else { this.state = UNQUOTED; seg = i; } // `"ab"cd` → `abcd`
          break;
      }
    }
    if (this.state === UNQUOTED || this.state === QUOTED) this.carry += chunk.slice(seg);
  }

  end(): DelimitedRecord[] {
    if (this.state === QUOTED) fail(this.source, this.quoteLine, 'a quoted field opened here is never closed (missing ")');
    if (this.state !== FIELD_START || this.fields.length) this.endRecord(this.carry, false);
    return this.records;
  }

  private endField(value: string): void {
    this.fields.push(this.unwrap ? unwrapQuotes(value) : value);
    this.carry = '';
    this.state = FIELD_START;
  }

  private endRecord(value: string, cr: boolean): void {
    this.endField(value);
    if (this.fields.some((f) => f.trim() !== '')) this.records.push({ fields: this.fields, line: this.recordLine });
    this.fields = [];
    this.recordLine = this.line;
    this.skipLF = cr;
  }
}

function unwrapQuotes(v: string): string {
  if (v.length < 2 || v.charCodeAt(0) !== QUOTE || v.charCodeAt(v.length - 1) !== QUOTE) return v;
  const inner = v.slice(1, -1);
  return inner.replace(/""/g, '').includes('"') ? v : inner.replace(/""/g, '"');
}

// ---------------------------------------------------------------------------------------------------------
// CSV / TSV

export type ColumnRef = string | number;

export interface DelimitedOptions {
  readonly delimiter: ',' | '\t';
  /** true: the first row names the columns; 'auto' (default): guessed (see `detectHeader`). */
  readonly header?: boolean | 'auto';
  /** A name (header), a 0-based index, or several (joined with a space, e.g. title + description). */
  readonly textColumn?: ColumnRef | readonly ColumnRef[];
  readonly labelColumn?: ColumnRef;
  readonly quoting?: Quoting;
  /** File name for messages. */
  readonly source?: string;
}

/** Rows looked at to guess the header and the column layout. */
const SAMPLE_ROWS = 1000;

/** Parses a whole CSV/TSV text; see `delimitedParser`. */
export function parseDelimited(text: string, options: DelimitedOptions): ParsedExamples {
  return parseAll(delimitedParser(options), text);
}

/**
 * CSV/TSV examples. Columns: the options' names or indices; else by header names (text/sentence/review/…,
 * label/class/category/…; `title` + `description`/`content` are joined); else, without a header, two
 * columns are (label, text) or (text, label) by which one looks like labels (integers, or fewer distinct and
 * shorter values), and three or more columns whose first is an integer are label + text columns joined (the
 * headerless layout of AG News, DBpedia, Yelp, Amazon and Yahoo Answers CSVs, Zhang et al. 2015).
 */
export function delimitedParser(options: DelimitedOptions): ExampleParser {
  const source = options.source ?? 'input';
  const reader = new DelimitedReader(options.delimiter, options.quoting ?? 'auto', source);
  return {
    push: (chunk) => reader.push(chunk),
    end: () => delimitedExamples(reader.end(), options),
  };
}

export function delimitedExamples(records: readonly DelimitedRecord[], options: DelimitedOptions): ParsedExamples {
  const source = options.source ?? 'input';
  if (!records.length) fail(source, undefined, 'is empty (no rows)');
  const notes: string[] = [];
  const first = records[0].fields;
  const textRefs = options.textColumn === undefined ? undefined
    : Array.isArray(options.textColumn) ? options.textColumn as readonly ColumnRef[] : [options.textColumn as ColumnRef];
  const refs = [...(textRefs ?? []), ...(options.labelColumn === undefined ? [] : [options.labelColumn])];
  const namesAColumn = refs.some((r) => typeof r === 'string' && !INTEGER.test(r.trim()));
  let header: boolean;
  if (options.header === true || options.header === false) header = options.header;
  else {
    header = namesAColumn || detectHeader(records);
    if (header) notes.push(`the first row is a header: ${first.map((f) => quoteValue(f)).join(', ')}`);
  }
  if (header && records.length < 2) fail(source, undefined, 'has a header row but no data rows');
  const names = header ? first.map((f) => f.trim()) : undefined;
  const rows = header ? records.slice(1) : records;
  const width = Math.max(...rows.slice(0, SAMPLE_ROWS).map((r) => r.fields.length));
  const describe = (): string => names
    ? `columns: ${names.map((n) => JSON.stringify(n)).join(', ')}`
    : `${width} column${width === 1 ? '' : 's'}, no header; row 1: ${first.map((f) => quoteValue(f)).join(', ')}`;

  const resolve = (ref: ColumnRef, what: string): number => {
    if (typeof ref === 'number') {
      if (!(Number.isInteger(ref) && ref >= 0)) fail(source, undefined, `${what} column ${ref} is not a 0-based index`);
      if (ref >= width) fail(source, undefined, `${what} column ${ref} does not exist (${describe()})`);
      return ref;
    }
    if (names) {
      const i = names.findIndex((n) => n === ref.trim());
      if (i >= 0) return i;
      const j = names.findIndex((n) => normalizeName(n) === normalizeName(ref));
      if (j >= 0) return j;
    }
    if (INTEGER.test(ref.trim())) return resolve(Number(ref.trim()), what);
    return fail(source, undefined, `no ${what} column named ${JSON.stringify(ref)} (${describe()})`);
  };

  let text = textRefs?.map((r) => resolve(r, 'text'));
  let label = options.labelColumn === undefined ? undefined : resolve(options.labelColumn, 'label');
  if (names && (!text || label === undefined)) {
    const byName = columnsByName(names);
    text ??= byName.text?.filter((i) => i !== label);
    if (label === undefined && byName.label !== undefined && !text?.includes(byName.label)) label = byName.label;
    if (text?.length === 0) text = undefined;
  }
  if (!text || label === undefined) {
    const inferred = inferColumns(rows, width, !names, text, label);
    if (!inferred) {
      const missing = !text && label === undefined ? 'the text and the label' : !text ? 'the text' : 'the label';
      return fail(source, undefined, `cannot tell which column holds ${missing} (${describe()}); name them with the text/label column options`);
    }
    if (inferred.why) notes.push(inferred.why);
    text = inferred.text;
    label = inferred.label;
  }
  if (text.includes(label)) fail(source, undefined, `the label column is also a text column (${describe()})`);
  const colName = (i: number): string => (names ? JSON.stringify(names[i]) : `column ${i}`);

  const need = Math.max(label, ...text) + 1;
  const examples: ClassificationExample[] = [];
  for (const r of rows) {
    const f = r.fields;
    if (f.length < need) {
      fail(source, r.line, `has ${f.length} field${f.length === 1 ? '' : 's'}, but ${colName(need - 1)} is needed (${describe()})`);
    }
    const lab = f[label].trim();
    if (!lab) fail(source, r.line, `empty label in ${colName(label)}`);
    const txt = text.length === 1 ? f[text[0]].trim() : text.map((i) => f[i].trim()).filter((s) => s).join(' ');
    examples.push({ text: txt, label: lab, line: r.line });
  }
  return {
    examples,
    columns: { text: text.map(colName), label: colName(label), header },
    notes,
  };
}

/**
 * Is the first row a header? Yes when one of its fields is a usual column name (text, label, title, …), or
 * when some column holds integers in every sampled row below it but not in the first row (a `label` header
 * above integer labels, whatever it is called).
 */
export function detectHeader(records: readonly DelimitedRecord[]): boolean {
  if (!records.length) return false;
  const first = records[0].fields;
  const known = new Set<string>([...TEXT_NAMES, ...LABEL_NAMES, 'title']);
  if (first.some((f) => known.has(normalizeName(f)))) return true;
  const sample = records.slice(1, 1 + SAMPLE_ROWS);
  if (!sample.length) return false;
  return first.some((f, j) => !isIntegerLabel(f) && sample.every((r) => r.fields[j] !== undefined && isIntegerLabel(r.fields[j])));
}

interface Inferred { readonly text: number[]; readonly label: number; readonly why: string }

/** Column layout from the values, when names did not settle it (see `delimitedParser`). */
function inferColumns(rows: readonly DelimitedRecord[], width: number, headerless: boolean, text?: number[], label?: number): Inferred | undefined {
  const sample = rows.slice(0, SAMPLE_ROWS);
  const values = (j: number): string[] => sample.map((r) => (r.fields[j] ?? '').trim());
  const integers = (j: number): boolean => values(j).every((v) => INTEGER.test(v));
  const all = Array.from({ length: width }, (_, j) => j);
  if (label !== undefined && !text) {
    const rest = all.filter((j) => j !== label);
    return rest.length ? { text: rest, label, why: '' } : undefined;
  }
  if (text && label === undefined) {
    const rest = all.filter((j) => !text.includes(j));
    if (rest.length === 1) return { text, label: rest[0], why: '' };
    const ints = rest.filter(integers);
    return ints.length === 1 ? { text, label: ints[0], why: '' } : undefined;
  }
  if (width === 2) {
    const [i0, i1] = [integers(0), integers(1)];
    if (i0 !== i1) {
      const l = i0 ? 0 : 1;
      return { text: [1 - l], label: l, why: `no header; column ${l} holds integers: label = column ${l}, text = column ${1 - l}` };
    }
    if (i0) return undefined;
    const stats = [0, 1].map((j) => {
      const v = values(j);
      return { distinct: new Set(v).size, mean: v.reduce((s, x) => s + x.length, 0) / Math.max(1, v.length) };
    });
    const l = stats[0].distinct < stats[1].distinct && stats[0].mean < stats[1].mean ? 0
      : stats[1].distinct < stats[0].distinct && stats[1].mean < stats[0].mean ? 1 : -1;
    if (l < 0) return undefined;
    return { text: [1 - l], label: l, why: `no header; column ${l} has fewer distinct, shorter values: label = column ${l}, text = column ${1 - l}` };
  }
  if (headerless && width >= 3 && integers(0) && !all.slice(1).every(integers)) {
    return {
      text: all.slice(1),
      label: 0,
      why: `no header; ${width} columns with integer labels first (the AG News / Zhang et al. 2015 layout): label = column 0, text = columns ${all.slice(1).join(' + ')}`,
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// JSON Lines, JSON arrays, fastText

export interface JsonOptions {
  /** Default: `text`, else the first usual text key of the first record (sentence, review, …; title + content). */
  readonly textKey?: string | readonly string[];
  /** Default: `label`, else the first usual label key (class, category, …). */
  readonly labelKey?: string;
  readonly source?: string;
}

/** Parses JSON Lines, one object per line (blank lines skipped); see `jsonLinesParser`. */
export function parseJsonLines(text: string, options: JsonOptions = {}): ParsedExamples {
  return parseAll(jsonLinesParser(options), text);
}

/** Lines of a text fed in chunks; `onLine(line, number)` for each, CR before LF dropped. */
function lineSplitter(onLine: (line: string, n: number) => void): { push(chunk: string): void; end(): void } {
  let carry = '';
  let n = 0;
  return {
    push(chunk) {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        let line = carry + chunk.slice(start, nl);
        carry = '';
        if (line.endsWith('\r')) line = line.slice(0, -1);
        onLine(line, ++n);
        start = nl + 1;
      }
      carry += chunk.slice(start);
    },
    end() {
      if (carry) onLine(carry.endsWith('\r') ? carry.slice(0, -1) : carry, ++n);
      carry = '';
    },
  };
}

interface JsonKeys { readonly text: readonly string[]; readonly label: string }

/** Which keys of a first record hold the text and the label. */
function resolveJsonKeys(obj: Record<string, unknown>, options: JsonOptions, source: string, line?: number): JsonKeys {
  const keys = Object.keys(obj);
  const list = `keys: ${keys.map((k) => JSON.stringify(k)).join(', ') || 'none'}`;
  const byName = columnsByName(keys);
  const text = options.textKey === undefined
    ? (keys.includes('text') ? ['text'] : byName.text?.map((i) => keys[i]))
    : typeof options.textKey === 'string' ? [options.textKey] : options.textKey;
  const label = options.labelKey ?? (keys.includes('label') ? 'label' : byName.label === undefined ? undefined : keys[byName.label]);
  if (!text?.length) return fail(source, line, `no text key (${list}); name it with the text key option`);
  if (label === undefined) return fail(source, line, `no label key (${list}); name it with the label key option`);
  return { text, label };
}

function jsonExample(value: unknown, keys: JsonKeys, source: string, line?: number): ClassificationExample {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(source, line, 'expected an object like {"text": "...", "label": "..."}');
  }
  const obj = value as Record<string, unknown>;
  const list = (): string => `keys: ${Object.keys(obj).map((k) => JSON.stringify(k)).join(', ') || 'none'}`;
  const parts: string[] = [];
  for (const k of keys.text) {
    const v = obj[k];
    if (v === undefined) fail(source, line, `no ${JSON.stringify(k)} key (${list()})`);
    if (typeof v !== 'string') fail(source, line, `${JSON.stringify(k)} is ${v === null ? 'null' : `a ${typeof v}`}, not a string`);
    const t = (v as string).trim();
    if (t) parts.push(t);
  }
  const l = obj[keys.label];
  let label: string;
  if (l === undefined) return fail(source, line, `no ${JSON.stringify(keys.label)} key (${list()})`);
  if (typeof l === 'string') label = l.trim();
  else if (typeof l === 'number' && Number.isInteger(l)) label = String(l);
  else if (typeof l === 'boolean') label = String(l);
  else if (typeof l === 'number') return fail(source, line, `label ${l} is a fractional number; classification needs class names or integers`);
  else return fail(source, line, `label is ${l === null ? 'null' : Array.isArray(l) ? 'an array (multi-label data is not supported)' : `a ${typeof l}`}; expected a name or an integer`);
  if (!label) fail(source, line, `empty label in ${JSON.stringify(keys.label)}`);
  return { text: parts.join(' '), label, line };
}

const shortJsonError = (e: unknown): string => (e as Error).message.replace(/^JSON\.parse: /, '').split('\n')[0];

export function jsonLinesParser(options: JsonOptions = {}): ExampleParser {
  const source = options.source ?? 'input';
  const examples: ClassificationExample[] = [];
  let keys: JsonKeys | undefined;
  const lines = lineSplitter((line, n) => {
    const s = line.trim();
    if (!s) return;
    let value: unknown;
    try { value = JSON.parse(s); } catch (e) {
      fail(source, n, `not valid JSON (${shortJsonError(e)})`);
    }
    if (!keys && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      keys = resolveJsonKeys(value as Record<string, unknown>, options, source, n);
    }
    examples.push(jsonExample(value, keys ?? { text: ['text'], label: 'label' }, source, n));
  });
  return {
    push: (chunk) => lines.push(chunk),
    end: () => {
      lines.end();
      if (!examples.length) fail(source, undefined, 'is empty (no JSON lines)');
      return { examples, columns: { text: keys!.text, label: keys!.label, header: false }, notes: [] };
    },
  };
}

/** A JSON array of objects (`[{"text": ..., "label": ...}, ...]`); errors name the element index. */
export function parseJsonArray(text: string, options: JsonOptions = {}): ParsedExamples {
  const source = options.source ?? 'input';
  let value: unknown;
  try { value = JSON.parse(text); } catch (e) { return fail(source, undefined, `not valid JSON (${shortJsonError(e)})`); }
  if (!Array.isArray(value)) return fail(source, undefined, 'expected a JSON array of {"text", "label"} objects');
  if (!value.length) return fail(source, undefined, 'is an empty JSON array');
  const first = value[0];
  if (typeof first !== 'object' || first === null || Array.isArray(first)) fail(`${source}[0]`, undefined, 'expected an object like {"text": "...", "label": "..."}');
  const keys = resolveJsonKeys(first as Record<string, unknown>, options, `${source}[0]`);
  const examples = value.map((v, i) => jsonExample(v, keys, `${source}[${i}]`));
  return { examples, columns: { text: keys.text, label: keys.label, header: false }, notes: [] };
}

export interface FastTextOptions {
  readonly labelPrefix?: string; // default '__label__'
  readonly source?: string;
}

/** fastText supervised format: `__label__pos some text` per line. */
export function parseFastText(text: string, options: FastTextOptions = {}): ParsedExamples {
  return parseAll(fastTextParser(options), text);
}

export function fastTextParser(options: FastTextOptions = {}): ExampleParser {
  const source = options.source ?? 'input';
  const prefix = options.labelPrefix ?? '__label__';
  const examples: ClassificationExample[] = [];
  const lines = lineSplitter((line, n) => {
    const s = line.trim();
    if (!s) return;
    const words = s.split(/\s+/);
    const labels = words.filter((w) => w.startsWith(prefix));
    if (!labels.length) fail(source, n, `no ${prefix} label`);
    if (labels.length > 1) fail(source, n, `has ${labels.length} labels (${labels.join(' ')}); multi-label data is not supported`);
    const label = labels[0].slice(prefix.length);
    if (!label) fail(source, n, `empty label after ${prefix}`);
    examples.push({ text: words.filter((w) => !w.startsWith(prefix)).join(' '), label, line: n });
  });
  return {
    push: (chunk) => lines.push(chunk),
    end: () => {
      lines.end();
      if (!examples.length) fail(source, undefined, 'is empty (no labelled lines)');
      return { examples, columns: { text: ['words'], label: prefix, header: false }, notes: [] };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// One folder per class

export interface ClassFolderRecord {
  /** The folder's name: the label. */
  readonly className: string;
  readonly text: string;
}

/** Examples from one-folder-per-class files (Keras text_dataset_from_directory, torchtext/aclImdb). */
export function classFolderExamples(records: readonly ClassFolderRecord[], source = 'input'): ParsedExamples {
  if (!records.length) fail(source, undefined, 'holds no text files in class folders');
  const classes = new Set(records.map((r) => r.className));
  if (classes.size < 2) {
    fail(source, undefined, `has only one class folder (${[...classes].map((c) => JSON.stringify(c)).join('')}); classification needs two or more`);
  }
  return {
    examples: records.map((r) => ({ text: r.text.trim(), label: r.className })),
    columns: { text: ['file contents'], label: 'folder name', header: false },
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Labels

export interface LabelSet {
  /** Class id → label name; saved with the model. */
  readonly names: readonly string[];
  /** 'integer': every label was an integer; 'name': any other text. */
  readonly kind: 'integer' | 'name';
  /** Examples per class (of the examples the set was made from). */
  readonly counts: readonly number[];
  /** How labels were mapped, when it is not the obvious (e.g. 1-based integers). */
  readonly note?: string;
}

export interface LabelSetOptions {
  /** The class names a model was trained with: labels map to them, and any other label is an error. */
  readonly names?: readonly string[];
  readonly source?: string;
}

const canonicalInteger = (s: string): string => String(Number.parseInt(s.trim(), 10));

/**
 * The classes of a data set. Integer labels keep their meaning: 0-based ones (min 0, max < 2 × the number
 * of distinct values) are classes 0..max named "0".."max", so label k is class k even when some class is
 * absent from this file; other integers (1-based like AG News, Yelp and Amazon stars, or sparse) map to
 * classes in sorted numeric order, and `note` says so. Any other labels are names: classes in sorted (code
 * point) order, not order of appearance, so the same data gives the same ids however the rows are ordered
 * and shuffled — as sklearn's LabelEncoder and Keras' class folders (alphanumeric) do.
 */
export function labelSet(examples: readonly ClassificationExample[], options: LabelSetOptions = {}): LabelSet {
  const source = options.source ?? 'input';
  const raw = new Map<string, number>();
  for (const e of examples) raw.set(e.label, (raw.get(e.label) ?? 0) + 1);
  if (options.names) {
    const set: LabelSet = {
      names: options.names,
      kind: options.names.every(isIntegerLabel) ? 'integer' : 'name',
      counts: options.names.map(() => 0),
    };
    const counts = set.counts as number[];
    for (const e of examples) {
      const c = classOf(set, e.label);
      if (c === undefined) {
        fail(source, e.line, `label ${JSON.stringify(e.label)} is not one of the model's classes (${options.names.map((n) => JSON.stringify(n)).join(', ')})`);
      }
      counts[c!]++;
    }
    return set;
  }
  if (raw.size === 0) fail(source, undefined, 'has no examples');
  const labels = [...raw.keys()];
  if (labels.every(isIntegerLabel)) {
    const byValue = new Map<number, number>();
    for (const [l, c] of raw) {
      const v = Number.parseInt(l.trim(), 10);
      byValue.set(v, (byValue.get(v) ?? 0) + c);
    }
    const values = [...byValue.keys()].sort((a, b) => a - b);
    if (values.length < 2) fail(source, undefined, `has only one class (label ${values[0]}); classification needs two or more`);
    const min = values[0];
    const max = values[values.length - 1];
    if (min === 0 && max < 2 * values.length) {
      const names = Array.from({ length: max + 1 }, (_, i) => String(i));
      const counts = names.map((_, i) => byValue.get(i) ?? 0);
      const absent = names.filter((_, i) => !counts[i]);
      return {
        names, kind: 'integer', counts,
        note: absent.length ? `integer labels 0..${max}; class${absent.length > 1 ? 'es' : ''} ${absent.join(', ')} never occur` : undefined,
      };
    }
    const names = values.map(String);
    const contiguous = max - min + 1 === values.length;
    const note = min === 1 && contiguous
      ? `integer labels 1..${max} are 1-based (as in AG News): label k is class k-1`
      : `integer labels ${names.join(', ')} are not 0..K-1: they map to classes 0..${values.length - 1} in sorted order`;
    return { names, kind: 'integer', counts: values.map((v) => byValue.get(v)!), note };
  }
  const names = labels.sort(compareCodePoints);
  if (names.length < 2) fail(source, undefined, `has only one class (${JSON.stringify(names[0])}); classification needs two or more`);
  return { names, kind: 'name', counts: names.map((n) => raw.get(n)!) };
}

/** Class id of a label, or undefined when it is not in the set (integers match as numbers: "01" is "1"). */
export function classOf(set: LabelSet, label: string): number | undefined {
  const i = set.names.indexOf(label);
  if (i >= 0) return i;
  if (set.kind === 'integer' && isIntegerLabel(label)) {
    const j = set.names.indexOf(canonicalInteger(label));
    if (j >= 0) return j;
  }
  const t = label.trim();
  return t !== label ? classOf(set, t) : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Vocabulary and token ids

export interface ClassificationVocabulary {
  readonly vocab: Vocabulary;
  /** The id padding positions hold. Word level: `<pad>`; char level: 0 (never read, see `lengths`). */
  readonly paddingId: number;
  /** For nn.Embedding's padding_idx: `<pad>`'s id at word level; null at char level (id 0 is a real char). */
  readonly paddingIdx: number | null;
}

/**
 * A vocabulary from (training) texts, without joining them into one string (which may exceed V8's longest).
 * Word level uses specials ['<unk>', '<pad>'] unless given others.
 */
export function buildClassificationVocabulary(texts: Iterable<string>, level: TokenLevel, wordOptions: WordVocabOptions = {}): ClassificationVocabulary {
  if (level === 'char') {
    const seen = new Set<string>();
    for (const t of texts) for (const ch of normalizeNewlines(t)) seen.add(ch);
    return { vocab: buildCharVocab([...seen].join('')), paddingId: 0, paddingIdx: null };
  }
  const specials = wordOptions.specials ?? ['<unk>', '<pad>'];
  const vocab = buildWordVocab((function* () { for (const t of texts) yield* tokenizeWords(normalizeNewlines(t)); })(), { ...wordOptions, specials });
  const pad = vocab.words.indexOf('<pad>');
  return { vocab, paddingId: pad >= 0 ? pad : vocab.unkId ?? 0, paddingIdx: pad >= 0 ? pad : null };
}

/** One text → ids, with the vocabulary's index built once (encodeText rebuilds it on every call). */
export function textEncoder(vocab: Vocabulary): (text: string) => { ids: Int32Array; unknown: number } {
  if (vocab.kind === 'char') {
    const index = charIndex(vocab);
    return (text) => {
      const e = encodeChars(vocab, normalizeNewlines(text), index);
      return { ids: e.ids, unknown: e.unknown };
    };
  }
  const index = new Map(vocab.words.map((w, i) => [w, i]));
  return (text) => {
    const words = splitWords(vocab.tokenizer, normalizeNewlines(text)).tokens;
    const ids = new Int32Array(words.length);
    let unknown = 0;
    for (let i = 0; i < words.length; i++) {
      const id = index.get(words[i]);
      if (id === undefined) {
        if (vocab.unkId === null) throw new ClassificationDataError(`the word ${JSON.stringify(words[i])} is not in the vocabulary, which has no <unk>`);
        unknown++;
      }
      ids[i] = id ?? vocab.unkId!;
    }
    return { ids, unknown };
  };
}

export interface EncodeOptions {
  /** Longest sequence kept, in tokens; longer texts are truncated (counted). Default: no cap. */
  readonly maxLength?: number;
  /** Which end to keep when truncating: 'head' (default, the first tokens) or 'tail' (the last). */
  readonly keep?: 'head' | 'tail';
  /** Default: labelSet(examples). Pass the training set's (or the model's) to encode validation data. */
  readonly labels?: LabelSet;
  readonly source?: string;
}

export interface EncodedExamples {
  readonly sequences: Int32Array[];
  /** Class id of each sequence. */
  readonly labels: Int32Array;
  /** Index in `examples` of each sequence (empty texts are left out). */
  readonly indices: Int32Array;
  readonly labelSet: LabelSet;
  readonly maxLength: number;
  /** Examples cut to maxLength, and the longest before cutting. */
  readonly truncated: number;
  readonly longest: number;
  /** Examples with no tokens, dropped; the lines of the first few. */
  readonly empty: number;
  readonly emptyLines: readonly number[];
  /** Tokens kept, and how many of them were unknown (char fallback / <unk>). */
  readonly tokens: number;
  readonly unknownTokens: number;
}

export function encodeExamples(examples: readonly ClassificationExample[], vocab: Vocabulary, options: EncodeOptions = {}): EncodedExamples {
  const maxLength = options.maxLength ?? Infinity;
  if (!(maxLength >= 1)) throw new RangeError(`maxLength must be at least 1, got ${maxLength}`);
  const set = options.labels ?? labelSet(examples, { source: options.source });
  const encode = textEncoder(vocab);
  const classes = new Map<string, number | undefined>();
  const sequences: Int32Array[] = [];
  const labels: number[] = [];
  const indices: number[] = [];
  const emptyLines: number[] = [];
  let truncated = 0; let longest = 0; let empty = 0; let tokens = 0; let unknownTokens = 0;
  examples.forEach((e, i) => {
    let c = classes.get(e.label);
    if (c === undefined && !classes.has(e.label)) classes.set(e.label, c = classOf(set, e.label));
    if (c === undefined) fail(options.source ?? 'input', e.line, `label ${JSON.stringify(e.label)} is not one of the classes (${set.names.map((n) => JSON.stringify(n)).join(', ')})`);
    const { ids, unknown } = encode(e.text);
    if (!ids.length) {
      empty++;
      if (e.line !== undefined && emptyLines.length < 10) emptyLines.push(e.line);
      return;
    }
    longest = Math.max(longest, ids.length);
    let kept = ids;
    let unk = unknown;
    if (ids.length > maxLength) {
      truncated++;
      kept = options.keep === 'tail' ? ids.slice(ids.length - maxLength) : ids.slice(0, maxLength);
      if (unknown) unk = countUnknown(vocab, kept);
    }
    sequences.push(kept);
    labels.push(c!);
    indices.push(i);
    tokens += kept.length;
    unknownTokens += unk;
  });
  return {
    sequences, labels: Int32Array.from(labels), indices: Int32Array.from(indices), labelSet: set, maxLength,
    truncated, longest, empty, emptyLines, tokens, unknownTokens,
  };
}

/** Unknown tokens among ids: <unk> at word level; at char level the fallback id can't be told apart, so 0. */
function countUnknown(vocab: Vocabulary, ids: Int32Array): number {
  if (vocab.kind === 'char') return 0;
  let n = 0;
  for (const id of ids) if (id === vocab.unkId) n++;
  return n;
}

/** What encoding did, in sentences for the run's log (truncation always said). */
export function describeEncoding(enc: EncodedExamples): string[] {
  const n = enc.sequences.length + enc.empty;
  const lines = [`${enc.sequences.length} examples, ${enc.labelSet.names.length} classes, ${enc.tokens} tokens`];
  if (enc.truncated) lines.push(`truncated ${enc.truncated} of ${n} examples to ${enc.maxLength} tokens (longest had ${enc.longest})`);
  if (enc.empty) lines.push(`dropped ${enc.empty} empty example${enc.empty > 1 ? 's' : ''}${enc.emptyLines.length ? ` (line ${enc.emptyLines.join(', ')}${enc.empty > enc.emptyLines.length ? ', …' : ''})` : ''}`);
  if (enc.unknownTokens) lines.push(`${(100 * enc.unknownTokens / Math.max(1, enc.tokens)).toFixed(1)}% of tokens are unknown to the vocabulary`);
  if (enc.labelSet.note) lines.push(enc.labelSet.note);
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// Validation split

export interface ExampleSplit {
  /** Indices into the examples, ascending. */
  readonly train: number[];
  readonly validation: number[];
}

/**
 * A seeded random split (not stratified): floor(n × fraction) examples, at least one when the fraction is
 * positive, go to validation.
 */
export function splitExamples(n: number, validationFraction = 0.1, seed = 0): ExampleSplit {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`validation fraction must be in [0, 1), got ${validationFraction}`);
  }
  const nVal = validationFraction > 0 ? Math.max(1, Math.floor(n * validationFraction)) : 0;
  if (n - nVal < 1) throw new ClassificationDataError(`${n} example${n === 1 ? '' : 's'} cannot be split into training and validation`);
  const perm = permutation(n, createRng(seed));
  const byIndex = (a: number, b: number): number => a - b;
  return { train: perm.slice(nVal).sort(byIndex), validation: perm.slice(0, nVal).sort(byIndex) };
}

function permutation(n: number, rng: ReturnType<typeof createRng>): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Bucketed batches

export interface BucketOptions {
  readonly batchSize: number;
  /** Value of padding positions (never read by the model: `lengths`). Default 0. */
  readonly paddingId?: number;
  readonly seed?: number;
  /** Default true. False: all sequences sorted by length, in that order (for evaluation: least padding). */
  readonly shuffle?: boolean;
  /** Reshuffles: each epoch gets its own order from (seed, epoch). Default 0. */
  readonly epoch?: number;
  /** Batches per sorting pool. Default 50. */
  readonly poolBatches?: number;
}

/**
 * Which sequences go in which batch ("sortish" bucketing, as torchtext's BucketIterator and fastai's
 * SortishSampler): shuffle, cut into pools of `poolBatches` batches, sort each pool by length, cut it into
 * batches, shuffle the batch order. Neighbours in a batch have similar lengths, so padding stays small, and
 * each epoch still sees different batches. Every sequence is in exactly one batch; only a pool's last batch
 * may be smaller (and only the final pool's, when the pool size is a multiple of the batch size).
 */
export function bucketIndices(lengths: ArrayLike<number>, options: BucketOptions): number[][] {
  const { batchSize } = options;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const n = lengths.length;
  const byLength = (a: number, b: number): number => lengths[a] - lengths[b]; // stable: ties keep their order
  const cut = (order: number[]): number[][] => {
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
    return out;
  };
  if (options.shuffle === false) return cut(Array.from({ length: n }, (_, i) => i).sort(byLength));
  const rng = createRng((((options.seed ?? 0) >>> 0) + Math.imul((options.epoch ?? 0) >>> 0, 0x9e3779b9)) >>> 0);
  const perm = permutation(n, rng);
  const pool = batchSize * Math.max(1, Math.floor(options.poolBatches ?? 50));
  const batches: number[][] = [];
  for (let i = 0; i < n; i += pool) batches.push(...cut(perm.slice(i, i + pool).sort(byLength)));
  for (let i = batches.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = batches[i]; batches[i] = batches[j]; batches[j] = t;
  }
  return batches;
}

/** One padded batch: row-major [B, T] with T the longest member, targets the class ids, lengths. */
export function classificationBatch(sequences: readonly ArrayLike<number>[], labels: ArrayLike<number>, indices: readonly number[], paddingId = 0): LmBatch {
  const B = indices.length;
  if (!B) throw new RangeError('a batch needs at least one sequence');
  const lengths = Int32Array.from(indices, (i) => sequences[i].length);
  const T = Math.max(...lengths);
  if (lengths.some((l) => l < 1)) throw new RangeError('every sequence needs at least one token');
  const inputs = new Int32Array(B * T).fill(paddingId);
  const targets = new Int32Array(B);
  indices.forEach((i, b) => {
    const s = sequences[i];
    if (s instanceof Int32Array) inputs.set(s, b * T);
    else for (let t = 0; t < s.length; t++) inputs[b * T + t] = s[t];
    targets[b] = labels[i];
  });
  return { batchSize: B, seqLen: T, inputs, targets, lengths };
}

/** All batches of one epoch (see `bucketIndices`). */
export function bucketBatches(sequences: readonly ArrayLike<number>[], labels: ArrayLike<number>, options: BucketOptions): LmBatch[] {
  if (sequences.length !== labels.length) throw new RangeError(`${sequences.length} sequences but ${labels.length} labels`);
  const lengths = sequences.map((s) => s.length);
  return bucketIndices(lengths, options).map((idx) => classificationBatch(sequences, labels, idx, options.paddingId ?? 0));
}

/** Fraction of the batches' B × T positions that are padding. */
export function paddingFraction(batches: readonly LmBatch[]): number {
  let total = 0;
  let real = 0;
  for (const b of batches) {
    total += b.batchSize * b.seqLen;
    if (b.lengths) for (const l of b.lengths) real += l;
    else real += b.batchSize * b.seqLen;
  }
  return total ? 1 - real / total : 0;
}
