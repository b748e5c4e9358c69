// Flags that open a model written by another program for `trace MODEL --text` and `sample`: its vocabulary
// and what its weights do not record (shared so both commands accept the same).
import { VOCABULARY_RULES, type VocabularyRule } from '../core/data/vocabFile';
import { WORD_TOKENIZERS, type WordTokenizer } from '../core/data/wordVocab';
import { READOUTS, type Readout } from '../core/model';
import { type OpenModelOptions, type OpenedModel, OpenModelError, openModel } from '../node/openModel';
import { VocabularyFileError } from '../core/data/vocabFile';
import { ConfigError } from '../core/config';
import { FormatError } from '../core/formats/safetensors';
import { ModelFileError } from '../node/modelFile';
import { UsageError } from './errors';

export const OPEN_FLAG_OPTIONS = {
  vocab: { type: 'string' },
  'vocab-from': { type: 'string', multiple: true },
  'vocab-rule': { type: 'string' },
  tokenizer: { type: 'string' },
  'rnn-prefix': { type: 'string' },
  nonlinearity: { type: 'string' },
  readout: { type: 'string' },
  'head-activation': { type: 'string' },
  'embedding-name': { type: 'string' },
} as const;

export const OPEN_FLAGS_HELP = `Models written by other programs (state_dicts: torch.save, safetensors, npz):
  --vocab FILE            the vocabulary: a JSON list or token -> id map, or one token per line
  --vocab-from CORPUS...  rebuild it from the program's corpus files (in the order it reads them), with
  --vocab-rule R          corpus (word_language_model: first appearance, <eos> per line), sorted-chars,
                          basic_english; or printable alone (char-rnn.pytorch's string.printable)
  --tokenizer T           basic_english or whitespace_eos, for word vocabularies (default: from the tokens)
  --rnn-prefix P          which recurrent stack, when the file has several
  --nonlinearity N        tanh or relu, for an Elman RNN
  --readout R             last, mean or max, for a classifier
  --head-activation A     relu or tanh between the head's Linear layers (comma-separated, one per gap)
  --embedding-name NAME   which table is the embedding, when several could be
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
  if (activations?.some((a) => a !== 'relu' && a !== 'tanh')) throw new UsageError(`--head-activation takes relu or tanh per gap, got "${s('head-activation')}"`);
  const readout = oneOf(s('readout'), READOUTS.filter((r) => r !== 'per_step'), '--readout') as Readout | undefined;
  const vocabulary = s('vocab') !== undefined || corpus?.length || s('vocab-rule') !== undefined ? {
    ...(s('vocab') !== undefined ? { file: s('vocab') } : {}),
    ...(corpus?.length ? { corpus } : {}),
    ...(s('vocab-rule') !== undefined ? { rule: oneOf(s('vocab-rule'), VOCABULARY_RULES, '--vocab-rule') as VocabularyRule } : {}),
    ...(s('tokenizer') !== undefined ? { tokenizer: oneOf(s('tokenizer'), WORD_TOKENIZERS, '--tokenizer') as WordTokenizer } : {}),
  } : undefined;
  return {
    ...(vocabulary ? { vocabulary } : {}),
    hints: {
      ...(s('rnn-prefix') !== undefined ? { rnnPrefix: s('rnn-prefix') } : {}),
      ...(s('nonlinearity') !== undefined ? { nonlinearity: oneOf(s('nonlinearity'), ['tanh', 'relu'] as const, '--nonlinearity') } : {}),
      ...(readout ? { readout } : {}),
      ...(activations ? { headActivations: activations as ('relu' | 'tanh')[] } : {}),
      ...(s('embedding-name') !== undefined ? { embeddingName: s('embedding-name') } : {}),
    },
  };
}

/** openModel with its errors as one-line usage errors (exit 2). */
export function openModelForCli(path: string, values: Record<string, unknown>): OpenedModel {
  const options = openOptions(values);
  try {
    return openModel(path, options);
  } catch (e) {
    if (e instanceof OpenModelError || e instanceof VocabularyFileError || e instanceof ConfigError || e instanceof FormatError
        || e instanceof ModelFileError || e instanceof RangeError) {
      throw new UsageError(e.message);
    }
    throw e;
  }
}
