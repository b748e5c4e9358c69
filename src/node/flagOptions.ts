// The one mapping from what a user answers — as the CLI's flags (`--gate-order i,f,o,g`, `--vocab FILE`) or
// the extension's quick picks, which answer the same questions (OpenQuestion names the flag) — to the
// loaders' options. Shared by the CLI (src/cli/importFlags.ts, src/cli/openFlags.ts: bad values are usage
// errors there) and the compute worker (src/worker/modelFiles.ts), so every front end accepts the same.
import type { ModelImportOptions } from '../core/formats/model';
import type { RnnModule } from '../core/config';
import { VOCABULARY_RULES, type VocabularyRule } from '../core/data/vocabFile';
import { WORD_TOKENIZERS, type WordTokenizer } from '../core/data/wordVocab';
import { READOUTS, type Readout } from '../core/model';
import { HEAD_ACTIVATIONS, type HeadActivation } from '../core/modelFromTensors';
import type { OpenModelOptions } from './openModel';

/** Flag values by flag name without the dashes, as node:util parseArgs gives them. */
export type FlagValues = Readonly<Record<string, unknown>>;
/** Makes the error a bad value raises (the CLI's UsageError, exit 2). */
export type FlagError = (message: string) => Error;

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], flag: string, fail: FlagError): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw fail(`${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** What a file does not record about its own layout: the import flags of diff, convert and open. */
export function importOptionsFrom(values: FlagValues, fail: FlagError): ModelImportOptions {
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const epoch = s('epoch');
  if (epoch !== undefined && !/^\d+$/.test(epoch)) throw fail(`--epoch must be a non-negative integer, got "${epoch}"`);
  return {
    gateOrder: s('gate-order'),
    orientation: oneOf(s('orientation'), ['out-in', 'in-out'] as const, '--orientation', fail),
    inputWeight: oneOf(s('input-weight')?.toUpperCase(), ['W', 'U'] as const, '--input-weight', fail),
    nonlinearity: oneOf(s('nonlinearity'), ['tanh', 'relu'] as const, '--nonlinearity', fail),
    recurrentActivation: oneOf(s('recurrent-activation'), ['sigmoid', 'hard_sigmoid'] as const, '--recurrent-activation', fail),
    gruReset: oneOf(s('gru-reset'), ['after', 'before'] as const, '--gru-reset', fail),
    module: oneOf(s('module')?.toUpperCase(), ['LSTM', 'GRU', 'RNN'] as const, '--module', fail) as RnnModule | undefined,
    ...(epoch !== undefined ? { epoch: Number(epoch) } : {}),
  };
}

/** Opening a model to run over text: its vocabulary, the model around the stack, and the import flags. */
export function openOptionsFrom(values: FlagValues, fail: FlagError): OpenModelOptions {
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const corpus = values['vocab-from'] as string[] | undefined;
  const activations = s('head-activation')?.split(',').map((a) => a.trim().toLowerCase());
  if (activations?.some((a) => !HEAD_ACTIVATIONS.includes(a as HeadActivation))) throw fail(`--head-activation takes relu, tanh or none per gap, got "${s('head-activation')}"`);
  const readout = oneOf(s('readout'), READOUTS.filter((r) => r !== 'per_step'), '--readout', fail) as Readout | undefined;
  const vocabulary = s('vocab') !== undefined || corpus?.length || s('vocab-rule') !== undefined ? {
    ...(s('vocab') !== undefined ? { file: s('vocab') } : {}),
    ...(corpus?.length ? { corpus } : {}),
    ...(s('vocab-rule') !== undefined ? { rule: oneOf(s('vocab-rule'), VOCABULARY_RULES, '--vocab-rule', fail) as VocabularyRule } : {}),
    ...(s('tokenizer') !== undefined ? { tokenizer: oneOf(s('tokenizer'), WORD_TOKENIZERS, '--tokenizer', fail) as WordTokenizer } : {}),
  } : undefined;
  const layout = Object.fromEntries(Object.entries(importOptionsFrom(values, fail)).filter(([, v]) => v !== undefined));
  return {
    ...(vocabulary ? { vocabulary } : {}),
    layout,
    hints: {
      ...(s('rnn-prefix') !== undefined ? { rnnPrefix: s('rnn-prefix') } : {}),
      ...(s('nonlinearity') !== undefined ? { nonlinearity: oneOf(s('nonlinearity'), ['tanh', 'relu'] as const, '--nonlinearity', fail) } : {}),
      ...(readout ? { readout } : {}),
      ...(activations ? { headActivations: activations as HeadActivation[] } : {}),
      ...(s('embedding-name') !== undefined ? { embeddingName: s('embedding-name') } : {}),
    },
  };
}
