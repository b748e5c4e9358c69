// Opening a model to run it over text: a gatescope model file as it is, or any file another program wrote
// (a state_dict or a whole pickled model from torch.save, safetensors, npz, Keras .h5/.keras, TensorFlow.js
// model.json, recurrentjs' saveModel() JSON, ONNX) made into the canonical model by the one import
// (src/core/formats/model.ts), with the vocabulary the file records, one from a file the program wrote, or
// one rebuilt from its corpus by the program's rule.
import { type Checkpoint, isGatescopeModel, parseCheckpoint } from '../core/checkpoint';
import { ConfigError } from '../core/config';
import { FormatError, guardRead } from '../core/formats/errors';
import { WORD_TOKENIZERS } from '../core/data/wordVocab';
import type { Vocabulary } from '../core/data/tokenizer';
import { vocabularySize } from '../core/data/tokenizer';
import { decodeTextBytes } from '../core/data/text';
import { VOCABULARY_RULES, type VocabularyRule, VocabularyFileError, parseVocabularyBytes, vocabularyFromCorpus, vocabularyFromTokens } from '../core/data/vocabFile';
import type { WordTokenizer } from '../core/data/wordVocab';
import { type ModelHints, ModelAmbiguityError } from '../core/modelFromTensors';
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

/**
 * What a file leaves open, as data for a quick pick: the CLI flag that answers it (`--gate-order`,
 * `--vocab`, ...), the answers when they are one of a few, and the loader's message. The answer goes
 * back as that flag's value (src/node/flagOptions.ts maps flags to OpenModelOptions).
 */
export interface OpenQuestion {
  readonly flag: string;
  readonly choices?: readonly string[];
  readonly message: string;
}

export class OpenModelError extends Error {
  constructor(message: string, readonly question?: OpenQuestion) {
    super(message);
  }
}

/** The answers of flags whose loader messages do not list them. */
const FLAG_CHOICES: Readonly<Record<string, readonly string[]>> = {
  '--module': ['LSTM', 'GRU', 'RNN'],
  '--recurrent-activation': ['sigmoid', 'hard_sigmoid'],
  '--nonlinearity': ['tanh', 'relu'],
  '--orientation': ['out-in', 'in-out'],
  '--input-weight': ['W', 'U'],
  '--gru-reset': ['after', 'before'],
  '--readout': ['last', 'mean', 'max'],
  '--gate-order': ['i,f,g,o', 'i,f,c,o', 'i,f,o,g'],
  '--vocab-rule': VOCABULARY_RULES,
  '--tokenizer': WORD_TOKENIZERS,
};

/** Flags a question may name: the ones openOptions (and the import flags) understand. */
const QUESTION_FLAGS = new Set([...Object.keys(FLAG_CHOICES), '--vocab', '--vocab-from', '--rnn-prefix', '--head-activation', '--embedding-name', '--epoch']);

/** Candidates a message lists: quoted prefixes ("rnn.", "(no prefix)") or a parenthesised name list. */
function listedChoices(flag: string, message: string): string[] | undefined {
  const head = message.split('; ')[0];
  if (flag === '--rnn-prefix') {
    const xs = [...head.matchAll(/"([^"]*)"/g)].map((m) => (/^\((none|no prefix)\)$/.test(m[1]) ? '' : m[1]));
    return xs.length ? xs : undefined;
  }
  if (flag === '--embedding-name') {
    const m = /\(([^()]+)\)\s*$/.exec(head);
    return m ? m[1].split(/,\s*/) : undefined;
  }
  return undefined;
}

/**
 * The question an open error asks, if it asks one: a ModelAmbiguityError (a model around the stack the
 * weights do not pin down), a layout the file does not record ("pass --gate-order"), a missing vocabulary.
 */
export function questionOf(e: unknown): OpenQuestion | undefined {
  if (!(e instanceof Error)) return undefined;
  if (e instanceof OpenModelError) return e.question;
  let flag: string | undefined;
  let choices: readonly string[] | undefined;
  if (e instanceof ModelAmbiguityError) ({ flag, choices } = e.question);
  else if (e instanceof FormatError || e instanceof ConfigError) flag = /\b(?:pass|give) (--[a-z-]+)/.exec(e.message)?.[1];
  if (!flag || !QUESTION_FLAGS.has(flag)) return undefined;
  choices ??= FLAG_CHOICES[flag] ?? listedChoices(flag, e.message);
  return { flag, ...(choices ? { choices } : {}), message: e.message };
}

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
    if (!src.rule) {
      const message = 'rebuilding a vocabulary needs its rule: --vocab-rule corpus|printable|sorted-chars|basic_english';
      throw new OpenModelError(message, { flag: '--vocab-rule', choices: VOCABULARY_RULES, message });
    }
    const vocab = vocabularyFromCorpus(src.rule, src.corpus.map((c) => text(readBytes(c), c)));
    return { vocab, note: `vocabulary: ${vocabularySize(vocab)} tokens rebuilt from ${src.corpus.join(', ')} (${src.rule})` };
  }
  throw new OpenModelError(`this model file ${NO_VOCABULARY}`, { flag: '--vocab', message: `this model file ${NO_VOCABULARY}` });
}

const tokensOf = (v: Vocabulary): readonly string[] => (v.kind === 'char' ? v.chars : v.words);

/**
 * A model to run over text. Throws OpenModelError / VocabularyFileError for the vocabulary, FormatError for
 * the file, and ConfigError (a ModelAmbiguityError naming the option) for what the file does not say.
 */
export async function openModel(path: string, options: OpenModelOptions = {}, fileBytes?: Uint8Array): Promise<OpenedModel> {
  installEnvLoadLimits();
  const bytes = fileBytes ?? readBytes(path);
  const given = options.vocabulary ? loadVocabulary(options.vocabulary) : undefined;
  if (isGatescopeModel(bytes)) {
    const ck = fileBytes ? guardRead(path, () => parseCheckpoint(fileBytes, path)) : readModelFile(path);
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
    const message = `${path}: the model takes ${V} tokens and the file ${NO_VOCABULARY}${hint}`;
    throw new OpenModelError(message, { flag: '--vocab', message });
  }
  if (vocabularySize(vocab) !== model.vocabSize) {
    throw new VocabularyFileError(`${path}: the vocabulary has ${vocabularySize(vocab)} tokens but the model takes ${model.vocabSize}`);
  }
  return { model: { config: model, params: imported.params, vocab }, notes };
}
