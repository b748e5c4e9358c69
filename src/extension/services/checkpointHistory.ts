// Reads a training run's history back from its checkpoint (the durable record of a run: loss and
// validation histories live in the safetensors metadata). Async, so a large file does not stall the host.
import { readFile } from 'node:fs/promises';
import { parseCheckpoint, type TrainingState } from '../../core/checkpoint';

/** The checkpoint's training state; throws with a readable message when the file is missing or not a checkpoint. */
export async function readTrainingState(path: string): Promise<TrainingState | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseCheckpoint(bytes, path).training;
}
