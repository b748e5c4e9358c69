// Plain tensor files by content (with the extension as a tie-breaker): safetensors, torch.save
// (zip or legacy), .npy and .npz. Model files with a framework layout (Keras, tfjs, ONNX) are read by
// src/core/import; this entry gives their raw tensors where that makes sense.
import { unzipSync } from 'fflate';
import type { TensorMap } from '../tensor';
import { FormatError, parseSafetensors } from './safetensors';
import { isZip, parsePtLegacy, parsePtZip, tensorsOf } from './pt';
import { isNpy, npzEntries, parseNpy } from './npz';

export type TensorFileFormat = 'safetensors' | 'pt-zip' | 'pt-legacy' | 'npy' | 'npz';

export interface TensorFile {
  readonly format: TensorFileFormat;
  readonly tensors: TensorMap;
  readonly metadata: Record<string, string>;
}

export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return len > 0 && len <= bytes.length - 8 && bytes[8] === 0x7b; // '{'
}

export function isHdf5(bytes: Uint8Array): boolean {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length >= 8 && sig.every((b, i) => bytes[i] === b);
}

export function readTensorFile(bytes: Uint8Array, fileName: string): TensorFile {
  if (isNpy(bytes)) return { format: 'npy', tensors: new Map([[stem(fileName), parseNpy(bytes, fileName)]]), metadata: {} };
  if (isZip(bytes)) {
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(bytes);
    } catch (e) {
      throw new FormatError(`${fileName}: not a readable zip archive (${(e as Error).message})`);
    }
    const names = Object.keys(entries);
    if (names.some((n) => n === 'data.pkl' || n.endsWith('/data.pkl'))) {
      return { format: 'pt-zip', tensors: tensorsOf(parsePtZip(entries, fileName).object), metadata: {} };
    }
    if (names.some((n) => n.endsWith('.npy'))) return { format: 'npz', tensors: npzEntries(entries, fileName), metadata: {} };
    if (names.includes('model.weights.h5')) {
      throw new FormatError(`${fileName}: a Keras .keras archive holds a model, not plain tensors; import it as a model`);
    }
    throw new FormatError(`${fileName}: zip archive is neither a torch.save file nor an .npz (entries: ${names.slice(0, 8).join(', ')})`);
  }
  if (bytes[0] === 0x80) return { format: 'pt-legacy', tensors: tensorsOf(parsePtLegacy(bytes, fileName).object), metadata: {} };
  if (looksLikeSafetensors(bytes)) {
    const f = parseSafetensors(bytes, fileName);
    return { format: 'safetensors', tensors: f.tensors, metadata: f.metadata };
  }
  if (isHdf5(bytes)) throw new FormatError(`${fileName}: an HDF5 (Keras) file holds a model, not plain tensors; import it as a model`);
  const ext = fileName.toLowerCase().split('.').pop();
  throw new FormatError(`${fileName}: unrecognised tensor file${ext ? ` (.${ext} content does not match safetensors, .pt, .npy or .npz)` : ''}`);
}

/** Named tensors of a safetensors, .pt (zip or legacy), .npy or .npz file. */
export function loadTensorFile(bytes: Uint8Array, fileName: string): TensorMap {
  return readTensorFile(bytes, fileName).tensors;
}

function stem(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  return base.replace(/\.npy$/i, '') || 'array';
}
