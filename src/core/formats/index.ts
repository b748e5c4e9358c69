// Plain tensor files by content (with the extension as a tie-breaker): safetensors, torch.save
// (zip or legacy), .npy and .npz. Model files with a framework layout (Keras, tfjs, ONNX) are read by
// ./model; this entry gives their raw tensors where that makes sense. Every failure is a FormatError
// naming the file; the budgets of ./limits apply (pass limits to override the installed ones).
import type { TensorMap } from '../tensor';
import { FormatError, guardRead } from './errors';
import { parseSafetensors } from './safetensors';
import { parsePtLegacy, parsePtZip, ptPickleName, tensorsOf } from './pt';
import { isNpy, npzEntries, parseNpy } from './npz';
import type { LoadLimits } from './limits';
import { ZipArchive, isZip } from './zip';

export type TensorFileFormat = 'safetensors' | 'pt-zip' | 'pt-legacy' | 'npy' | 'npz';

export interface TensorFile {
  readonly format: TensorFileFormat;
  readonly tensors: TensorMap;
  readonly metadata: Record<string, string>;
}

export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const len = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return len > 0n && len <= BigInt(bytes.length - 8) && bytes[8] === 0x7b; // '{'
}

export function isHdf5(bytes: Uint8Array): boolean {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length >= 8 && sig.every((b, i) => bytes[i] === b);
}

export function readTensorFile(bytes: Uint8Array, fileName: string, limits?: Partial<LoadLimits>): TensorFile {
  return guardRead(fileName, () => readTensorFileUnguarded(bytes, fileName, limits));
}

function readTensorFileUnguarded(bytes: Uint8Array, fileName: string, limits?: Partial<LoadLimits>): TensorFile {
  if (isNpy(bytes)) return { format: 'npy', tensors: new Map([[stem(fileName), parseNpy(bytes, fileName, limits)]]), metadata: {} };
  if (isZip(bytes)) return readTensorZip(ZipArchive.open(bytes, fileName, limits), fileName);
  if (bytes[0] === 0x80) return { format: 'pt-legacy', tensors: tensorsOf(parsePtLegacy(bytes, fileName, limits).object, '', new Map(), fileName), metadata: {} };
  if (looksLikeSafetensors(bytes)) {
    const f = parseSafetensors(bytes, fileName, limits);
    return { format: 'safetensors', tensors: f.tensors, metadata: f.metadata };
  }
  if (isHdf5(bytes)) throw new FormatError(`${fileName}: an HDF5 (Keras) file holds a model, not plain tensors; import it as a model`);
  const ext = fileName.toLowerCase().split('.').pop();
  throw new FormatError(`${fileName}: unrecognised tensor file${ext ? ` (.${ext} content does not match safetensors, .pt, .npy or .npz)` : ''}`);
}

/** The tensors of an opened torch.save or .npz archive. */
export function readTensorZip(zip: ZipArchive, fileName: string): TensorFile {
  const names = zip.names;
  if (ptPickleName(names)) return { format: 'pt-zip', tensors: tensorsOf(parsePtZip(zip, fileName).object, '', new Map(), fileName), metadata: {} };
  if (names.some((n) => n.endsWith('.npy'))) return { format: 'npz', tensors: npzEntries(zip, fileName), metadata: {} };
  if (zip.has('model.weights.h5')) {
    throw new FormatError(`${fileName}: a Keras .keras archive holds a model, not plain tensors; import it as a model`);
  }
  const shown = names.slice(0, 8).map((n) => JSON.stringify(n.slice(0, 60))).join(', ');
  throw new FormatError(`${fileName}: zip archive is neither a torch.save file nor an .npz (entries: ${shown || 'none'})`);
}

/** Named tensors of a safetensors, .pt (zip or legacy), .npy or .npz file. */
export function loadTensorFile(bytes: Uint8Array, fileName: string, limits?: Partial<LoadLimits>): TensorMap {
  return readTensorFile(bytes, fileName, limits).tensors;
}

function stem(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  return base.replace(/\.npy$/i, '') || 'array';
}
