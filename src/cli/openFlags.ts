// Flags that open a model written by another program for `trace MODEL --text` and `sample`: its vocabulary,
// what its weights do not record about the model around the stack, and the import flags diff and convert
// take for what a file does not record about its own layout (shared so every command accepts the same).
import { VOCABULARY_RULES, type VocabularyRule } from '../core/data/vocabFile';
import { WORD_TOKENIZERS, type WordTokenizer } from '../core/data/wordVocab';
import { READOUTS, type Readout } from '../core/model';
import { HEAD_ACTIVATIONS, type HeadActivation } from '../core/modelFromTensors';
import { type OpenModelOptions, type OpenedModel, OpenModelError, openModel } from '../node/openModel';
import { VocabularyFileError } from '../core/data/vocabFile';
import { ConfigError } from '../core/config';
import { FormatError } from '../core/formats/errors';
import { ModelFileError } from '../node/modelFile';
import { UsageError } from './errors';
import { IMPORT_FLAGS_HELP, IMPORT_FLAG_OPTIONS, importOptions } from './importFlags';

export const OPEN_FLAG_OPTIONS = {
  vocab: { type: 'string' },
  'vocab-from': { type: 'string', multiple: true },
  'vocab-rule': { type: 'string' },
  tokenizer: { type: 'string' },
  'rnn-prefix': { type: 'string' },
  readout: { type: 'string' },
  'head-activation': { type: 'string' },
  'embedding-name': { type: 'string' },
  ...IMPORT_FLAG_OPTIONS,
} as const;

export const OPEN_FLAGS_HELP = `Models written by other programs (state_dicts and whole models from torch.save, safetensors, npz,
Keras .h5/.keras, TensorFlow.js model.json, recurrentjs JSON, ONNX): what the file does not record.
  --vocab FILE            the vocabulary: a JSON list or token -> id map, one token per line, or a
                          torch.save'd vocabulary (torchtext Vocab, word_language_model's Dictionary)
                          (min-char-rnn's npz and recurrentjs' JSON hold their own)
  --vocab-from CORPUS...  rebuild it from the program's corpus files (in the order it reads them), with
  --vocab-rule R          corpus (word_language_model: first appearance, <eos> per line), sorted-chars,
                          basic_english; or printable alone (char-rnn.pytorch's string.printable)
  --tokenizer T           basic_english or whitespace_eos, for word vocabularies (default: from the tokens)
  --rnn-prefix P          which recurrent stack, when the file has several
  --readout R             last, mean or max, for a classifier
  --head-activation A     relu, tanh or none between the head's Linear layers (comma-separated, one per gap)
  --embedding-name NAME   which table is the embedding, when several could be
${IMPORT_FLAGS_HELP}
`;

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

export function openOptions(values: Record<string, unknown>): OpenModelOptions {
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const corpus = values['vocab-from'] as string[] | undefined;
  const activations = s('head-activation')?.split(',').map((a) => a.trim().toLowerCase());
  if (activations?.some((a) => !HEAD_ACTIVATIONS.includes(a as HeadActivation))) throw new UsageError(`--head-activation takes relu, tanh or none per gap, got "${s('head-activation')}"`);
  const readout = oneOf(s('readout'), READOUTS.filter((r) => r !== 'per_step'), '--readout') as Readout | undefined;
  const vocabulary = s('vocab') !== undefined || corpus?.length || s('vocab-rule') !== undefined ? {
    ...(s('vocab') !== undefined ? { file: s('vocab') } : {}),
    ...(corpus?.length ? { corpus } : {}),
    ...(s('vocab-rule') !== undefined ? { rule: oneOf(s('vocab-rule'), VOCABULARY_RULES, '--vocab-rule') as VocabularyRule } : {}),
    ...(s('tokenizer') !== undefined ? { tokenizer: oneOf(s('tokenizer'), WORD_TOKENIZERS, '--tokenizer') as WordTokenizer } : {}),
  } : undefined;
  const layout = Object.fromEntries(Object.entries(importOptions(values)).filter(([, v]) => v !== undefined));
  return {
    ...(vocabulary ? { vocabulary } : {}),
    layout,
    hints: {
      ...(s('rnn-prefix') !== undefined ? { rnnPrefix: s('rnn-prefix') } : {}),
      ...(s('nonlinearity') !== undefined ? { nonlinearity: oneOf(s('nonlinearity'), ['tanh', 'relu'] as const, '--nonlinearity') } : {}),
      ...(readout ? { readout } : {}),
      ...(activations ? { headActivations: activations as HeadActivation[] } : {}),
      ...(s('embedding-name') !== undefined ? { embeddingName: s('embedding-name') } : {}),
    },
  };
}

/** openModel with its errors as one-line usage errors (exit 2). */
export async function openModelForCli(path: string, values: Record<string, unknown>): Promise<OpenedModel> {
  const options = openOptions(values);
  try {
    return await openModel(path, options);
  } catch (e) {
    if (e instanceof OpenModelError || e instanceof VocabularyFileError || e instanceof ConfigError || e instanceof FormatError
        || e instanceof ModelFileError || e instanceof RangeError) {
      throw new UsageError(e.message);
    }
    throw e;
  }
}
