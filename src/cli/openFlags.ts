// Flags that open a model written by another program for `trace MODEL --text` and `sample`: its vocabulary,
// what its weights do not record about the model around the stack, and the import flags diff and convert
// take for what a file does not record about its own layout (shared so every command accepts the same).
import { type OpenModelOptions, type OpenedModel, OpenModelError, openModel } from '../node/openModel';
import { VocabularyFileError } from '../core/data/vocabFile';
import { ConfigError } from '../core/config';
import { FormatError } from '../core/formats/errors';
import { ModelFileError } from '../node/modelFile';
import { UsageError } from './errors';
import { IMPORT_FLAGS_HELP, IMPORT_FLAG_OPTIONS } from './importFlags';
import { openOptionsFrom } from '../node/flagOptions';

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

export function openOptions(values: Record<string, unknown>): OpenModelOptions {
  return openOptionsFrom(values, (m) => new UsageError(m));
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
