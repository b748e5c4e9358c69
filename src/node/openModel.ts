// Opening a model to run it over text: a gatescope model file as it is, or a state_dict written by another
// program (torch.save, safetensors, npz) made into the canonical model by names and shapes, with the
// vocabulary from a file the program wrote or rebuilt from its corpus.
import { readFileSync } from 'node:fs';
import type { Checkpoint } from '../core/checkpoint';
import type { Vocabulary } from '../core/data/tokenizer';
import { vocabularySize } from '../core/data/tokenizer';
import { decodeTextBytes } from '../core/data/text';
import { type VocabularyRule, parseVocabularyText, vocabularyFromCorpus, vocabularyFromTokens } from '../core/data/vocabFile';
import type { WordTokenizer } from '../core/data/wordVocab';
import { type ModelHints, modelFromTensors } from '../core/modelFromTensors';
import { describeModel } from '../core/model';
import { readModelFile } from './modelFile';
import { loadTensorFileAt } from './loadModelFile';

export interface VocabularySource {
  /** A vocabulary file: JSON list or map, or one token per line. */
  readonly file?: string;
  /** Corpus files to rebuild it from with `rule`. */
  readonly corpus?: readonly string[];
  readonly rule?: VocabularyRule;
  readonly tokenizer?: WordTokenizer;
}

export interface OpenModelOptions {
  readonly vocabulary?: VocabularySource;
  readonly hints?: ModelHints;
}

export interface OpenedModel {
  readonly model: Pick<Checkpoint, 'config' | 'params' | 'vocab' | 'labels'>;
  /** What was read and how, for the user: source tensors used and ignored, the vocabulary's origin. */
  readonly notes: readonly string[];
}

export class OpenModelError extends Error {}

function isGatescopeFile(path: string): boolean {
  try {
    const bytes = readFileSync(path).subarray(0, 1 << 16);
    if (bytes.length < 8) return false;
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    return n > 0 && n <= bytes.length - 8 && new TextDecoder().decode(bytes.subarray(8, 8 + n)).includes('"gatescope"');
  } catch {
    return false;
  }
}

function readText(path: string): string {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new OpenModelError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const d = decodeTextBytes(bytes);
  if (d.binary) throw new OpenModelError(`${path}: ${d.reason} (not a text file)`);
  return d.text;
}

function loadVocabulary(src: VocabularySource): { vocab: Vocabulary; note: string } {
  if (src.file && src.corpus?.length) throw new OpenModelError('give a vocabulary file or a corpus to rebuild it from, not both');
  if (src.file) {
    const tokens = parseVocabularyText(readText(src.file), src.file);
    return { vocab: vocabularyFromTokens(tokens, src.tokenizer), note: `vocabulary: ${tokens.length} tokens from ${src.file}` };
  }
  if (src.rule === 'printable' && !src.corpus?.length) {
    return { vocab: vocabularyFromCorpus('printable', []), note: 'vocabulary: Python\'s string.printable (100 characters)' };
  }
  if (src.corpus?.length) {
    if (!src.rule) throw new OpenModelError('rebuilding a vocabulary needs its rule: --vocab-rule corpus|printable|sorted-chars|basic_english');
    const vocab = vocabularyFromCorpus(src.rule, src.corpus.map(readText));
    return { vocab, note: `vocabulary: ${vocabularySize(vocab)} tokens rebuilt from ${src.corpus.join(', ')} (${src.rule})` };
  }
  throw new OpenModelError('this model file has no vocabulary: give --vocab FILE, or --vocab-from CORPUS with --vocab-rule');
}

export function openModel(path: string, options: OpenModelOptions = {}): OpenedModel {
  if (isGatescopeFile(path)) {
    const ck = readModelFile(path);
    if (!options.vocabulary) return { model: ck, notes: [] };
    const { vocab, note } = loadVocabulary(options.vocabulary);
    if (vocabularySize(vocab) !== ck.config.vocabSize) {
      throw new OpenModelError(`${path}: the vocabulary has ${vocabularySize(vocab)} tokens but the model takes ${ck.config.vocabSize}`);
    }
    return { model: { ...ck, vocab }, notes: [note] };
  }
  const tensors = loadTensorFileAt(path);
  const { vocab, note } = loadVocabulary(options.vocabulary ?? {});
  const assembled = modelFromTensors(tensors, { ...options.hints, vocabSize: vocabularySize(vocab) }, path);
  const notes = [
    `model: ${describeModel(assembled.config)}`,
    `read ${[...assembled.renamed].filter(([a, b]) => a !== b).map(([a, b]) => `${b} as ${a}`).join(', ') || 'gatescope\'s own names'}`,
    ...(assembled.ignored.length ? [`ignored ${assembled.ignored.join(', ')}`] : []),
    note,
  ];
  return { model: { config: assembled.config, params: assembled.params, vocab }, notes };
}
