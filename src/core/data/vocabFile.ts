// Vocabularies for models trained elsewhere: read from a file the program wrote, or rebuilt from its corpus
// the way that program builds it. The rules, each as the named program does it:
// - `corpus`: pytorch/examples word_language_model's data.Corpus: words of `line.split() + ['<eos>']` for
//   every line, in order of first appearance over the files in the order given (train, valid, test).
// - `printable`: spro/char-rnn.pytorch's `string.printable` (digits, letters, punctuation, whitespace).
// - `sorted-chars`: `sorted(set(text))`, the distinct characters in code point order (karpathy's char-rnn;
//   gatescope's own char models).
// - `basic_english`: torchtext's basic_english tokens, most frequent first, `<unk>` first (gatescope --words).
import { buildCharVocab } from './charVocab';
import { parsePt } from '../formats/pt';
import { PyObject, PyTuple } from '../formats/pickle';
import { FormatError } from '../formats/errors';
import { isZip } from '../formats/zip';
import { normalizeNewlines } from './text';
import type { Vocabulary } from './tokenizer';
import { type WordTokenizer, buildWordVocab, splitWords, tokenizeWords } from './wordVocab';

export class VocabularyFileError extends Error {}

export type VocabularyRule = 'corpus' | 'printable' | 'sorted-chars' | 'basic_english';
export const VOCABULARY_RULES: readonly VocabularyRule[] = ['corpus', 'printable', 'sorted-chars', 'basic_english'];

/** Python's string.printable, in its order. */
export const PYTHON_PRINTABLE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c';

const LIST_KEYS = ['idx2word', 'itos', 'chars', 'vocab', 'tokens', 'words', 'vocabulary', 'index_to_token'];
const MAP_KEYS = ['word2idx', 'stoi', 'char_to_ix', 'char2idx', 'token_to_index', 'word_index'];

/**
 * Token strings by id from a vocabulary file's text: a JSON list, a token → id map, an object holding one of
 * those under a usual key (`idx2word`, `itos`, `chars`, `word2idx`, `stoi`, ...), or one token per line.
 */
export function parseVocabularyText(text: string, source: string): string[] {
  const trimmed = text.trim();
  if (!trimmed) throw new VocabularyFileError(`${source}: the vocabulary file is empty`);
  if (trimmed[0] === '[' || trimmed[0] === '{') {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (e) {
      throw new VocabularyFileError(`${source}: not valid JSON (${(e as Error).message})`);
    }
    return tokensFromJson(json, source);
  }
  // One token per line; a CR before the newline is part of the line ending, not the token.
  const lines = normalizeNewlines(text).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return checkedTokens(lines, source);
}

/**
 * Token strings by id from a vocabulary file's bytes: a torch.save'd vocabulary (torchtext's Vocab, old or
 * new, a word_language_model Dictionary, a list of tokens or a token → id dict) read through the safe
 * unpickler — nothing in it runs —, or text as parseVocabularyText reads it.
 */
export function parseVocabularyBytes(bytes: Uint8Array, source: string, decodeText: (b: Uint8Array) => string): string[] {
  if (isZip(bytes) || bytes[0] === 0x80) {
    let obj: unknown;
    try {
      obj = parsePt(bytes, source).object;
    } catch (e) {
      if (e instanceof FormatError) throw new VocabularyFileError(e.message);
      throw e;
    }
    const tokens = tokensFromPickle(obj, 0, source);
    if (!tokens) throw new VocabularyFileError(`${source}: a pickled ${obj instanceof PyObject ? obj.className : 'object'} with no token list (itos, idx2word, ...) or token → id map in it`);
    return checkedTokens(tokens, source);
  }
  return parseVocabularyText(decodeText(bytes), source);
}

const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === 'string');

/** The token list inside an unpickled vocabulary object, looked for a few levels deep. */
function tokensFromPickle(obj: unknown, depth: number, source: string): string[] | undefined {
  if (depth > 4) return undefined;
  if (isStrings(obj)) return obj;
  if (obj instanceof PyTuple) {
    for (const x of obj.items) { const t = tokensFromPickle(x, depth + 1, source); if (t) return t; }
    return undefined;
  }
  if (obj instanceof PyObject) {
    // torchtext >= 0.12 keeps a C++ vocabulary whose pickled state is (version, ints, itos, tensors).
    return tokensFromPickle(obj.dict ?? obj.state, depth + 1, source);
  }
  if (!(obj instanceof Map)) return undefined;
  for (const k of LIST_KEYS) if (isStrings(obj.get(k))) return obj.get(k) as string[];
  for (const k of MAP_KEYS) {
    const m = obj.get(k);
    if (m instanceof Map && m.size) return fromMap(Object.fromEntries([...m].map(([a, b]) => [String(a), typeof b === 'bigint' ? Number(b) : b])), source);
  }
  if (obj.size && [...obj].every(([k, v]) => typeof k === 'string' && typeof v === 'number')) return fromMap(Object.fromEntries(obj) as Record<string, unknown>, source);
  for (const v of obj.values()) {
    if (v instanceof PyObject || v instanceof Map) { const t = tokensFromPickle(v, depth + 1, source); if (t) return t; }
  }
  return undefined;
}

function tokensFromJson(json: unknown, source: string): string[] {
  if (Array.isArray(json)) return checkedTokens(json, source);
  if (typeof json !== 'object' || json === null) throw new VocabularyFileError(`${source}: expected a list of tokens or a token → id map`);
  const o = json as Record<string, unknown>;
  for (const k of LIST_KEYS) if (Array.isArray(o[k])) return checkedTokens(o[k] as unknown[], source);
  for (const k of MAP_KEYS) if (o[k] && typeof o[k] === 'object' && !Array.isArray(o[k])) return fromMap(o[k] as Record<string, unknown>, source);
  return fromMap(o, source);
}

function fromMap(map: Record<string, unknown>, source: string): string[] {
  const entries = Object.entries(map);
  const tokens: string[] = new Array(entries.length);
  for (const [token, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length) {
      throw new VocabularyFileError(`${source}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; a token → id map needs the ids 0..${entries.length - 1}`);
    }
    if (tokens[id] !== undefined) throw new VocabularyFileError(`${source}: id ${id} is given to both ${JSON.stringify(tokens[id])} and ${JSON.stringify(token)}`);
    tokens[id] = token;
  }
  return tokens;
}

function checkedTokens(list: readonly unknown[], source: string): string[] {
  if (!list.length) throw new VocabularyFileError(`${source}: the vocabulary is empty`);
  const seen = new Map<string, number>();
  list.forEach((t, i) => {
    if (typeof t !== 'string') throw new VocabularyFileError(`${source}: token ${i} is ${JSON.stringify(t)}, not a string`);
    const before = seen.get(t);
    if (before !== undefined) throw new VocabularyFileError(`${source}: ${JSON.stringify(t)} is both token ${before} and ${i}`);
    seen.set(t, i);
  });
  return list as string[];
}

/**
 * A vocabulary from token strings: character-level when every token is one character, else words with
 * `tokenizer` (default: `whitespace_eos` when the tokens hold `<eos>`, as word_language_model's, else basic_english).
 */
export function vocabularyFromTokens(tokens: readonly string[], tokenizer?: WordTokenizer): Vocabulary {
  const single = tokens.every((t) => [...t].length === 1);
  if (single && tokenizer === undefined) return { kind: 'char', chars: [...tokens] };
  const unk = tokens.indexOf('<unk>');
  return {
    kind: 'word', tokenizer: tokenizer ?? (tokens.includes('<eos>') ? 'whitespace_eos' : 'basic_english'),
    words: [...tokens], unkId: unk >= 0 ? unk : null,
  };
}

/** Rebuilds a program's vocabulary from its corpus files (texts in the order the program reads them). */
export function vocabularyFromCorpus(rule: VocabularyRule, texts: readonly string[]): Vocabulary {
  switch (rule) {
    case 'corpus': {
      const seen = new Set<string>();
      const words: string[] = [];
      for (const text of texts) {
        for (const w of splitWords('whitespace_eos', normalizeNewlines(text)).tokens) {
          if (!seen.has(w)) { seen.add(w); words.push(w); }
        }
      }
      return { kind: 'word', tokenizer: 'whitespace_eos', words, unkId: seen.has('<unk>') ? words.indexOf('<unk>') : null };
    }
    case 'printable': return { kind: 'char', chars: [...PYTHON_PRINTABLE] };
    case 'sorted-chars': return buildCharVocab(texts.map(normalizeNewlines).join(''));
    case 'basic_english': return buildWordVocab(texts.flatMap((t) => tokenizeWords(normalizeNewlines(t))));
  }
}
