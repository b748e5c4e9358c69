// Reads a training run's history back from its checkpoint (the durable record of a run: loss and
// validation histories live in the safetensors metadata). Only the header is read: the tensors (weights,
// optimizer state; tens of MB for a large model) are not needed to draw curves, and decoding them would
// stall the extension host when a dashboard restores.
import { open } from 'node:fs/promises';
import { CHECKPOINT_FORMAT_VERSION, type TrainingState } from '../../core/checkpoint';

/** A checkpoint header holds the metadata (loss histories included) and the tensor index: 100 MB is plenty. */
const MAX_HEADER_BYTES = 100_000_000;

/** The training state in a checkpoint's safetensors header (undefined when the model records none). */
export function trainingStateOfHeader(header: Uint8Array, source: string): TrainingState | undefined {
  let parsed: { __metadata__?: { gatescope?: unknown } };
  try {
    parsed = JSON.parse(new TextDecoder().decode(header)) as typeof parsed;
  } catch {
    throw new Error(`${source}: header is not valid JSON (not a safetensors file?)`);
  }
  const raw = parsed.__metadata__?.gatescope;
  if (typeof raw !== 'string') throw new Error(`${source}: not a gatescope model (no "gatescope" metadata in the safetensors header)`);
  let meta: { formatVersion?: unknown; training?: TrainingState };
  try {
    meta = JSON.parse(raw) as typeof meta;
  } catch {
    throw new Error(`${source}: gatescope metadata is not valid JSON`);
  }
  if (meta.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new Error(`${source}: model format version ${String(meta.formatVersion)} is not supported (expected ${CHECKPOINT_FORMAT_VERSION})`);
  }
  return meta.training;
}

/** The checkpoint's training state; throws with a readable message when the file is missing or not a checkpoint. */
export async function readTrainingState(path: string): Promise<TrainingState | undefined> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const { size } = await file.stat();
    const prefix = new Uint8Array(8);
    if (size < 8 || (await file.read(prefix, 0, 8, 0)).bytesRead < 8) throw new Error(`${path}: too short to be a safetensors file`);
    const headerLength = Number(new DataView(prefix.buffer).getBigUint64(0, true));
    if (headerLength > size - 8) throw new Error(`${path}: not a safetensors file (header length ${headerLength} exceeds the file size)`);
    // Read on the extension host: a header is small (metadata and a tensor index); never allocate a huge one.
    if (headerLength > MAX_HEADER_BYTES) throw new Error(`${path}: header of ${headerLength} bytes is larger than a gatescope checkpoint's (at most ${MAX_HEADER_BYTES})`);
    const header = new Uint8Array(headerLength);
    const { bytesRead } = await file.read(header, 0, headerLength, 8);
    if (bytesRead < headerLength) throw new Error(`${path}: the header ends early`);
    return trainingStateOfHeader(header, path);
  } finally {
    await file.close();
  }
}
