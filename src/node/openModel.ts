// Opening a model to run it over text: a gatescope model file as it is, or any file another program wrote
// (a state_dict or a whole pickled model from torch.save, safetensors, npz, Keras .h5/.keras, TensorFlow.js
// model.json, recurrentjs' saveModel() JSON, ONNX) made into the canonical model by the one import
// (src/core/formats/model.ts), with the vocabulary the file records, one from a file the program wrote, or
// one rebuilt from its corpus by the program's rule.
import { type Checkpoint, isGatescopeModel } from '../core/checkpoint';
import type { Vocabulary } from '../core/data/tokenizer';
import { vocabularySize } from '../core/data/tokenizer';
import { decodeTextBytes } from '../core/data/text';
import { type VocabularyRule, VocabularyFileError, parseVocabularyBytes, vocabularyFromCorpus, vocabularyFromTokens } from '../core/data/vocabFile';
import type { WordTokenizer } from '../core/data/wordVocab';
import type { ModelHints } from '../core/modelFromTensors';
import { describeModel } from '../core/model';
import type { ModelImportOptions } from '../core/formats/model';
import { readModelFile } from './modelFile';
import { installEnvLoadLimits, loadModelFile, readRegularFile } from './loadModelFile';

export interface VocabularySource {
  /** A vocabulary file: JSON list or map, one token per line, or a torch.save'd vocabulary (torchtext Vocab, ...). */
  readonly file?: string;
  /** Corpus files to rebuild it from with `rule`. */
  readonly corpus?: readonly string[];
  readonly rule?: VocabularyRule;
  readonly tokenizer?: WordTokenizer;
}

/** What a file may not record about its own layout (from-scratch arrays): the import flags of diff and convert. */
export type LayoutOptions = Pick<ModelImportOptions, 'module' | 'nonlinearity' | 'recurrentActivation' | 'gateOrder' | 'orientation' | 'inputWeight' | 'gruReset' | 'epoch'>;

export interface OpenModelOptions {
  readonly vocabulary?: VocabularySource;
  readonly hints?: ModelHints;
  readonly layout?: LayoutOptions;
}

export interface OpenedModel {
  readonly model: Pick<Checkpoint, 'config' | 'params' | 'vocab' | 'labels'>;
  /** What was read and how, for the user: the model, the source's notes, the vocabulary's origin. */
  readonly notes: readonly string[];
}

export class OpenModelError extends Error {}

function readBytes(path: string): Uint8Array {
  return readRegularFile(path, (m) => new OpenModelError(m), 'cannot read (ENOENT)');
}

function text(bytes: Uint8Array, path: string): string {
  const d = decodeTextBytes(bytes);
  if (d.binary) throw new OpenModelError(`${path}: ${d.reason} (not a text file)`);
  return d.text;
}

const NO_VOCABULARY = 'has no vocabulary: give --vocab FILE, or --vocab-from CORPUS with --vocab-rule corpus|sorted-chars|basic_english (or --vocab-rule printable)';

function loadVocabulary(src: VocabularySource): { vocab: Vocabulary; note: string } {
  if (src.file && src.corpus?.length) throw new OpenModelError('give a vocabulary file or a corpus to rebuild it from, not both');
  if (src.file) {
    const tokens = parseVocabularyBytes(readBytes(src.file), src.file, (b) => text(b, src.file!));
    return { vocab: vocabularyFromTokens(tokens, src.tokenizer), note: `vocabulary: ${tokens.length} tokens from ${src.file}` };
  }
  if (src.rule === 'printable' && !src.corpus?.length) {
    return { vocab: vocabularyFromCorpus('printable', []), note: 'vocabulary: Python\'s string.printable (100 characters)' };
  }
  if (src.corpus?.length) {
    if (!src.rule) throw new OpenModelError('rebuilding a vocabulary needs its rule: --vocab-rule corpus|printable|sorted-chars|basic_english');
    const vocab = vocabularyFromCorpus(src.rule, src.corpus.map((c) => text(readBytes(c), c)));
    return { vocab, note: `vocabulary: ${vocabularySize(vocab)} tokens rebuilt from ${src.corpus.join(', ')} (${src.rule})` };
  }
  throw new OpenModelError(`this model file ${NO_VOCABULARY}`);
}

const tokensOf = (v: Vocabulary): readonly string[] => (v.kind === 'char' ? v.chars : v.words);

/**
 * A model to run over text. Throws OpenModelError / VocabularyFileError for the vocabulary, FormatError for
 * the file, and ConfigError (a ModelAmbiguityError naming the option) for what the file does not say.
 */
export async function openModel(path: string, options: OpenModelOptions = {}): Promise<OpenedModel> {
  installEnvLoadLimits();
  const bytes = readBytes(path);
  const given = options.vocabulary ? loadVocabulary(options.vocabulary) : undefined;
  if (isGatescopeModel(bytes)) {
    const ck = readModelFile(path);
    if (!given) return { model: ck, notes: [] };
    if (vocabularySize(given.vocab) !== ck.config.vocabSize) {
      throw new OpenModelError(`${path}: the vocabulary has ${vocabularySize(given.vocab)} tokens but the model takes ${ck.config.vocabSize}`);
    }
    return { model: { ...ck, vocab: given.vocab }, notes: [given.note] };
  }
  const imported = await loadModelFile(path, {
    ...options.layout, requireModel: true,
    hints: { ...options.hints, ...(given ? { vocabSize: vocabularySize(given.vocab) } : {}) },
  }, bytes);
  const model = imported.model;
  if (!model) throw new OpenModelError(`${path}: ${imported.source.modelProblem ?? 'no model around the recurrent stack'}`);
  const notes = [`model: ${describeModel(model)} (${imported.source.format}, ${imported.source.layout} layout)`, ...imported.source.notes.filter((n) => !n.startsWith('model: '))];
  let vocab: Vocabulary;
  const recorded = imported.vocabulary;
  if (given) {
    vocab = given.vocab;
    notes.push(given.note);
    if (recorded) {
      const mine = tokensOf(given.vocab);
      const k = recorded.tokens.findIndex((t, i) => t !== mine[i]);
      if (k >= 0 || recorded.tokens.length !== mine.length) {
        notes.push(`the vocabulary given differs from the one the file records (${k >= 0 ? `id ${k}: ${JSON.stringify(mine[k])} vs ${JSON.stringify(recorded.tokens[k])}` : `${mine.length} vs ${recorded.tokens.length} tokens`}); the one given is used`);
      }
    }
  } else if (recorded) {
    vocab = vocabularyFromTokens(recorded.tokens, options.vocabulary?.tokenizer);
    notes.push(recorded.note);
  } else {
    const V = model.vocabSize;
    const hint = V === 100 ? '; 100 tokens is the size of Python\'s string.printable, char-rnn.pytorch\'s vocabulary (--vocab-rule printable)' : '';
    throw new OpenModelError(`${path}: the model takes ${V} tokens and the file ${NO_VOCABULARY}${hint}`);
  }
  if (vocabularySize(vocab) !== model.vocabSize) {
    throw new VocabularyFileError(`${path}: the vocabulary has ${vocabularySize(vocab)} tokens but the model takes ${model.vocabSize}`);
  }
  return { model: { config: model, params: imported.params, vocab }, notes };
}
