// Plain tensor files by content (with the extension as a tie-breaker): safetensors, torch.save
// (zip or legacy), .npy and .npz. Model files with a framework layout (Keras, tfjs, ONNX) are read by
// ./model; this entry gives their raw tensors where that makes sense. Every failure is a FormatError
// naming the file; the budgets of ./limits apply (pass limits to override the installed ones).
import type { TensorMap } from '../tensor';
import { FormatError, guardRead } from './errors';
import { parseSafetensors } from './safetensors';
import { modulesOf, parsePtLegacy, parsePtZip, ptPickleName, tensorsOf } from './pt';
import type { TorchModuleInfo } from './torchModules';
import { isNpy, npzEntries, parseNpy } from './npz';
import type { LoadLimits } from './limits';
import { ZipArchive, isZip } from './zip';

export type TensorFileFormat = 'safetensors' | 'pt-zip' | 'pt-legacy' | 'npy' | 'npz';

export interface TensorFile {
  readonly format: TensorFileFormat;
  readonly tensors: TensorMap;
  readonly metadata: Record<string, string>;
  /** A whole pickled model's module tree (torch.save(model)), when the file holds one. */
  readonly modules?: readonly TorchModuleInfo[];
  /** String arrays (numpy `<U` / `|S`, e.g. min-char-rnn's `chars`), one-dimensional, by name. */
  readonly strings?: ReadonlyMap<string, readonly string[]>;
}

/** The tensors of an unpickled torch.save object, and its module tree when it is (or holds) a whole model. */
function ptTensorFile(format: 'pt-zip' | 'pt-legacy', object: unknown, fileName: string): TensorFile {
  const modules = modulesOf(object, fileName);
  return { format, tensors: tensorsOf(object, '', new Map(), fileName), metadata: {}, ...(modules.length ? { modules } : {}) };
}

/**
 * A safetensors file by its whole header: an 8-byte length that fits the file, a JSON object in those bytes
 * (`{` first, `}` last before the format's space padding). One byte decides nothing: a header length whose
 * low byte is 0x80 starts like a pickle.
 */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const len = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (!(len >= 2n && len <= BigInt(bytes.length - 8))) return false;
  if (bytes[8] !== 0x7b) return false; // '{'
  let end = 8 + Number(len) - 1;
  while (end > 8 && bytes[end] === 0x20) end--;
  return bytes[end] === 0x7d; // '}'
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
  if (looksLikeSafetensors(bytes)) {
    const f = parseSafetensors(bytes, fileName, limits);
    return { format: 'safetensors', tensors: f.tensors, metadata: f.metadata };
  }
  // Any other pickle stream is read as a legacy torch.save (which names what is missing, e.g. the magic).
  if (bytes[0] === 0x80) return ptTensorFile('pt-legacy', parsePtLegacy(bytes, fileName, limits).object, fileName);
  if (isHdf5(bytes)) throw new FormatError(`${fileName}: an HDF5 (Keras) file holds a model, not plain tensors; import it as a model`);
  const ext = fileName.toLowerCase().split('.').pop();
  throw new FormatError(`${fileName}: unrecognised tensor file${ext ? ` (.${ext} content does not match safetensors, .pt, .npy or .npz)` : ''}`);
}

/** The tensors of an opened torch.save or .npz archive. */
export function readTensorZip(zip: ZipArchive, fileName: string): TensorFile {
  const names = zip.names;
  if (ptPickleName(names)) return ptTensorFile('pt-zip', parsePtZip(zip, fileName).object, fileName);
  if (names.some((n) => n.endsWith('.npy'))) {
    const strings = new Map<string, string[]>();
    const tensors = npzEntries(zip, fileName, strings);
    // gatescope convert records the model in one-element string arrays (gatescope_config, ...), as
    // safetensors does in its metadata: they are metadata, not a vocabulary.
    const metadata: Record<string, string> = {};
    for (const [name, v] of strings) {
      if (/^gatescope_(config|model|vocabulary)$/.test(name) && v.length === 1) {
        metadata[name] = v[0];
        strings.delete(name);
      }
    }
    return { format: 'npz', tensors, metadata, ...(strings.size ? { strings } : {}) };
  }
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
