// Model files: gatescope checkpoints (with vocabulary: traceable and sampleable) first, then any format
// the import helper's loadModelFile understands (PyTorch, Keras, ONNX, tfjs, npz). Runs in the compute
// worker (the importers are large and parsing big files takes time); the host only gets the result.
// The file is read once, as a regular file within the load budgets (a FIFO or a device is refused).
import { isGatescopeModel, parseCheckpoint } from '../core/checkpoint';
import { guardRead } from '../core/formats/errors';
import { installEnvLoadLimits, loadModelFile, readRegularFile } from '../node/loadModelFile';
import type { LoadedModel } from '../protocol/worker';

export async function readModel(path: string): Promise<LoadedModel> {
  installEnvLoadLimits();
  const bytes = readRegularFile(path);
  if (isGatescopeModel(bytes)) {
    const ck = guardRead(path, () => parseCheckpoint(bytes, path));
    const loss = ck.training?.lossHistory.at(-1)?.loss;
    return {
      engine: ck.engine, data: { config: ck.config, params: ck.params, vocab: ck.vocab, ...(ck.labels ? { labels: ck.labels } : {}) },
      ...(loss !== undefined ? { loss } : {}),
    };
  }
  return { imported: await loadModelFile(path, {}, bytes) };
}
