// Model files: gatescope checkpoints (with vocabulary: traceable and sampleable) as they are; any other file
// (PyTorch, Keras, ONNX, tfjs, npz, recurrentjs) opened as a model to run through the one open path the CLI's
// `trace MODEL --text` and `sample` use (src/node/openModel.ts), with the user's answers as its flags; what
// the file does not record comes back as a question (the weights alone, when they load, for comparisons).
// Also one side of a comparison, read as `gatescope diff` reads it (src/node/compareFiles.ts). Runs in the
// compute worker (the importers are large and parsing big files takes time); the host only gets the result.
// The file is read once, as a regular file within the load budgets (a FIFO or a device is refused).
import { isGatescopeModel, parseCheckpoint } from '../core/checkpoint';
import { guardRead } from '../core/formats/errors';
import { installEnvLoadLimits, loadModelFile, readRegularFile } from '../node/loadModelFile';
import { openModel, questionOf } from '../node/openModel';
import { readComparable } from '../node/compareFiles';
import { importOptionsFrom, openOptionsFrom } from '../node/flagOptions';
import type { ImportedModel } from '../core/layouts/model';
import type { LoadModelOptions, LoadedModel } from '../protocol/worker';

const VOCABULARY_FLAGS = ['vocab', 'vocab-from', 'vocab-rule', 'tokenizer'];

/** An answer the loaders cannot take (a typed gate order, say): the user's input, told as such. */
const badAnswer = (m: string): Error => new RangeError(m);

export async function readModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  installEnvLoadLimits();
  const answers = options.answers ?? {};
  if (options.compareAs) {
    try {
      return { comparable: await readComparable(path, options.compareAs, { import: importOptionsFrom(answers, badAnswer) }) };
    } catch (e) {
      const question = questionOf(e);
      if (!question) throw e;
      return { question };
    }
  }
  const bytes = readRegularFile(path);
  if (isGatescopeModel(bytes)) {
    const ck = guardRead(path, () => parseCheckpoint(bytes, path));
    const loss = ck.training?.lossHistory.at(-1)?.loss;
    return {
      engine: ck.engine, data: { config: ck.config, params: ck.params, vocab: ck.vocab, ...(ck.labels ? { labels: ck.labels } : {}) },
      ...(loss !== undefined ? { loss } : {}),
    };
  }
  const open = openOptionsFrom(answers, badAnswer);
  try {
    const o = await openModel(path, open, bytes);
    return { data: { config: o.model.config, params: o.model.params, vocab: o.model.vocab, ...(o.model.labels ? { labels: o.model.labels } : {}) }, notes: o.notes };
  } catch (e) {
    const question = questionOf(e);
    // A vocabulary the user gave that does not fit is their error to see, not a reason to drop to weights.
    if (!question && VOCABULARY_FLAGS.some((k) => answers[k] !== undefined)) throw e;
    // The weights alone, for comparisons: while the question is open (they may need the answer too), or
    // when they make no model to run over text (a bare recurrent module), with the reason.
    let imported: ImportedModel | undefined;
    try {
      imported = await loadModelFile(path, open.layout ?? {}, bytes);
    } catch {
      if (!question) throw e;
    }
    if (question) return { question, ...(imported ? { imported, notes: imported.source.notes } : {}) };
    return { imported, notes: [...imported!.source.notes, `not a model to run over text: ${(e as Error).message}`] };
  }
}
