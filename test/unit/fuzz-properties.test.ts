// Property-based fuzzing of the file readers (fast-check, fixed seed, bounded runs): valid files from the
// fixtures, mutated by truncation, bit flips, overwritten length fields (interesting 32/64-bit values at
// any offset, biased towards headers), inserted and deleted bytes, and, for the JSON parts (safetensors
// header, tfjs model.json, .npy header dict), values replaced anywhere in the tree. The property: reading
// gives a result or a one-line FormatError (never "unexpected", never another exception type), quickly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { readTensorFile } from '../../src/core/formats';
import { FormatError } from '../../src/core/formats/errors';
import { setLoadLimits, DEFAULT_LOAD_LIMITS } from '../../src/core/formats/limits';
import { importModel } from '../../src/core/formats/model';
import { kerasH5 } from '../../src/core/formats/export';
import { writeHdf5 } from '../../src/core/formats/hdf5';
import { importOnnx } from '../../src/core/formats/onnx';
import { parsePt, ptPickleName } from '../../src/core/formats/pt';
import { readMessage } from '../../src/core/formats/protobuf';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { ZipArchive } from '../../src/core/formats/zip';
import { parseNpy } from '../../src/core/formats/npz';
import { checkpointBytes, fixture, npyRaw, ptZip, safetensorsRaw, torchFixture } from './fuzz-corpus';

// GATESCOPE_FUZZ_SEED / GATESCOPE_FUZZ_SCALE run other seeds and more cases (e.g. 20× for a deeper search).
const SEED = Number(process.env.GATESCOPE_FUZZ_SEED ?? 20_240_614);
const SCALE = Number(process.env.GATESCOPE_FUZZ_SCALE ?? 1);
const MiB = 2 ** 20;
// Small budgets: a mutated length may ask for a lot; the readers must refuse or stay within these.
setLoadLimits({ maxInflateBytes: 64 * MiB, maxTensorBytes: 64 * MiB, maxExpandedBytes: 16 * MiB });
test.after(() => setLoadLimits(DEFAULT_LOAD_LIMITS));

// A hang detector, not a speed check: reads take milliseconds, so only a runaway loop reaches this on a busy machine.
const PER_RUN_MS = 30_000;
/** The mark of src/core/formats/errors.ts' safety net: a check the reader lacks. */
const UNEXPECTED = /\(unexpected( \w+)?: /;
const stats = new Map<string, { ok: number; refused: number; ms: number }>();

/** Runs one read; fails the property on anything but a result or a clean one-line FormatError. */
async function check(reader: string, read: () => unknown): Promise<void> {
  const s = stats.get(reader) ?? { ok: 0, refused: 0, ms: 0 };
  stats.set(reader, s);
  const t0 = performance.now();
  try {
    await read();
    s.ok++;
  } catch (e) {
    if (!(e instanceof FormatError)) throw new Error(`${reader}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
    if (e.message.includes('\n') || UNEXPECTED.test(e.message)) throw new Error(`${reader}: bad message ${JSON.stringify(e.message)}`);
    s.refused++;
  } finally {
    const ms = performance.now() - t0;
    s.ms += ms;
    if (ms > PER_RUN_MS) throw new Error(`${reader}: one read took ${Math.round(ms)} ms`);
  }
}

// ------------------------------------------------------------------------------------- mutations

const INTERESTING = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 40, 2 ** 53, -1, -8];

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'u32' | 'u64'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number };

/** A position: anywhere, or within the first 512 bytes (headers, where lengths live), as a fraction of the length. */
const position = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 0, max: 511 }).map((i) => -1 - i));
const at = (p: number, n: number): number => (p < 0 ? Math.min(n - 1, -1 - p) : Math.floor(p * n));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 1, arbitrary: position.map((p) => ({ kind: 'truncate' as const, at: p })) },
  { weight: 4, arbitrary: fc.record({ at: position, bit: fc.integer({ min: 0, max: 7 }) }).map((r) => ({ kind: 'flip' as const, ...r })) },
  { weight: 2, arbitrary: fc.record({ at: position, value: fc.integer({ min: 0, max: 255 }) }).map((r) => ({ kind: 'byte' as const, ...r })) },
  { weight: 3, arbitrary: fc.record({ at: position, value: fc.constantFrom(...INTERESTING), wide: fc.boolean() }).map((r) => ({ kind: r.wide ? 'u64' as const : 'u32' as const, at: r.at, value: r.value })) },
  { weight: 1, arbitrary: fc.record({ at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }).map((r) => ({ kind: 'insert' as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ at: position, length: fc.integer({ min: 1, max: 64 }) }).map((r) => ({ kind: 'delete' as const, ...r })) },
);
const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

function mutate(base: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = new Uint8Array(base);
  for (const m of ms) {
    if (!b.length) break;
    const i = at(m.at, b.length);
    switch (m.kind) {
      case 'truncate': b = b.slice(0, i); break;
      case 'flip': b[i] ^= 1 << m.bit; break;
      case 'byte': b[i] = m.value; break;
      case 'u32': case 'u64': {
        const w = m.kind === 'u32' ? 4 : 8;
        if (i + w > b.length) break;
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        if (w === 4) dv.setUint32(i, m.value >>> 0, true);
        else dv.setBigUint64(i, BigInt.asUintN(64, BigInt(Math.trunc(m.value))), true);
        break;
      }
      case 'insert': { const out = new Uint8Array(b.length + m.bytes.length); out.set(b.subarray(0, i)); out.set(m.bytes, i); out.set(b.subarray(i), i + m.bytes.length); b = out; break; }
      case 'delete': b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + m.length)]); break;
    }
  }
  return b;
}

/** Replaces one node of a JSON tree (chosen by index among all nodes) with a hostile value. */
const HOSTILE_JSON: unknown[] = [null, -1, -8, 0, 1.5, 2 ** 53, 1e300, -1e300, '', 'x', 'constructor', '__proto__', [], [-1], [1.5], ['a'], {}, { length: 1 }, true, [[[]]], '../x', '/etc/passwd'];
const jsonEdit = fc.record({ node: fc.nat(), value: fc.oneof(fc.constantFrom(...HOSTILE_JSON), fc.jsonValue({ maxDepth: 2 })) });

function editJson(root: unknown, edits: readonly { node: number; value: unknown }[]): unknown {
  let tree = structuredClone(root);
  for (const { node, value } of edits) {
    const slots: [Record<string, unknown> | unknown[] | null, string | number][] = [[null, '']];
    const walk = (v: unknown): void => {
      if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) { slots.push([v as Record<string, unknown>, Array.isArray(v) ? Number(k) : k]); walk(x); }
      }
    };
    walk(tree);
    const [parent, key] = slots[node % slots.length];
    const copy = structuredClone(value); // a constant shared by two edits would make a cycle
    if (!parent) tree = copy;
    else (parent as Record<string, unknown>)[key as string] = copy;
  }
  return tree;
}

// ------------------------------------------------------------------------------------------ readers

test('safetensors: mutated bytes and mutated headers give a result or one FormatError', async () => {
  const bases = [torchFixture('lstm_1l_f64/weights.safetensors'), checkpointBytes()];
  await fc.assert(fc.asyncProperty(fc.constantFrom(0, 1), mutations, async (i, ms) => {
    await check('safetensors bytes', () => parseSafetensors(mutate(bases[i], ms), 'f.safetensors'));
  }), { seed: SEED, numRuns: 400 * SCALE });
  const headerOf = (b: Uint8Array): [unknown, Uint8Array] => {
    const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    return [JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))), b.subarray(8 + n)];
  };
  const parsed = bases.map(headerOf);
  await fc.assert(fc.asyncProperty(fc.constantFrom(0, 1), fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), async (i, edits) => {
    const [header, data] = parsed[i];
    await check('safetensors header', () => parseSafetensors(safetensorsRaw(editJson(header, edits), data), 'f.safetensors'));
  }), { seed: SEED + 1, numRuns: 400 * SCALE });
});

test('npy / npz: mutated arrays, headers and archives give a result or one FormatError', async () => {
  const npys = ['npy/c_f8.npy', 'npy/fortran_f8.npy', 'npy/u2.npy', 'npy/scalar.npy', 'npy/big_fortran_i8.npy'].map(fixture);
  const npzs = [torchFixture('lstm_1l_f64/weights.npz'), fixture('npy/compressed.npz')];
  await fc.assert(fc.asyncProperty(fc.nat(), mutations, async (i, ms) => {
    await check('npy bytes', () => parseNpy(mutate(npys[i % npys.length], ms), 'a.npy'));
  }), { seed: SEED + 2, numRuns: 300 * SCALE });
  await fc.assert(fc.asyncProperty(fc.nat(), mutations, async (i, ms) => {
    await check('npz bytes', () => readTensorFile(mutate(npzs[i % npzs.length], ms), 'a.npz'));
  }), { seed: SEED + 3, numRuns: 300 * SCALE });
  const headers = ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", "{'descr': '>i8', 'fortran_order': True, 'shape': (3, 2), }"];
  const piece = fc.constantFrom('(', ')', ',', ' ', '-1', '0', '3', '99999999999', '2.5', "'<f4'", "'|O'", "'<U3'", 'True', 'False', "'shape'", "'descr'", '[', 'L', '{', '}');
  await fc.assert(fc.asyncProperty(fc.nat(), fc.array(fc.record({ at: fc.nat(), cut: fc.nat({ max: 6 }), put: piece }), { minLength: 1, maxLength: 4 }), async (i, edits) => {
    let h = headers[i % headers.length];
    for (const e of edits) { const p = e.at % (h.length + 1); h = h.slice(0, p) + e.put + h.slice(p + e.cut); }
    await check('npy header', () => parseNpy(npyRaw(h, new Uint8Array(48)), 'a.npy'));
  }), { seed: SEED + 4, numRuns: 300 * SCALE });
});

test('pickle: mutated torch.save pickles (zip with valid CRCs, and legacy streams) give a result or one FormatError', async () => {
  const zipPt = fixture('pt/views.pt');
  const zip = ZipArchive.open(zipPt, 'views.pt');
  const pklName = ptPickleName(zip.names)!;
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const pkl = zip.read(pklName)!;
  const storages: Record<string, Uint8Array> = {};
  for (const n of zip.names) if (n.startsWith(`${prefix}data/`)) storages[n.slice(prefix.length + 5)] = new Uint8Array(zip.read(n)!);
  const legacy = [fixture('pt/legacy.pt'), fixture('pt/views_legacy.pt')];
  await fc.assert(fc.asyncProperty(mutations, async (ms) => {
    await check('pickle in zip', () => readTensorFile(ptZip(mutate(pkl, ms), storages), 'p.pt'));
  }), { seed: SEED + 5, numRuns: 500 * SCALE });
  await fc.assert(fc.asyncProperty(fc.constantFrom(0, 1), mutations, async (i, ms) => {
    await check('legacy pickle stream', () => parsePt(mutate(legacy[i], ms), 'l.pt'));
  }), { seed: SEED + 6, numRuns: 400 * SCALE });
});

test('zip: mutated archives (torch.save, .npz, .keras) give a result or one FormatError', async () => {
  const bases = [fixture('pt/zip.pt'), fixture('npy/compressed.npz'), fixture('models/keras3_simplernn.keras'), torchFixture('lstm_1l_f64/weights.pt')];
  await fc.assert(fc.asyncProperty(fc.nat(), mutations, async (i, ms) => {
    const bytes = mutate(bases[i % bases.length], ms);
    await check('zip archive', () => {
      const z = ZipArchive.open(bytes, 'z.zip');
      for (const n of z.names) z.read(n);
    });
  }), { seed: SEED + 7, numRuns: 500 * SCALE });
  await fc.assert(fc.asyncProperty(fc.nat(), mutations, async (i, ms) => {
    await check('zip tensor file', () => readTensorFile(mutate(bases[i % 2 ? 3 : 0], ms), 'z.pt'));
  }), { seed: SEED + 8, numRuns: 300 * SCALE });
});

test('protobuf / ONNX: mutated models give a result or one FormatError', async () => {
  const bases = ['models/onnx_gru.onnx', 'models/onnx_lstm_bi2.onnx', 'models/onnx_rnn_relu.onnx'].map(fixture);
  await fc.assert(fc.asyncProperty(fc.nat(), mutations, async (i, ms) => {
    const bytes = mutate(bases[i % bases.length], ms);
    await check('protobuf message', () => readMessage(bytes));
    await check('onnx import', () => importOnnx(bytes, 'm.onnx'));
  }), { seed: SEED + 9, numRuns: 500 * SCALE });
});

test('tfjs: mutated model.json trees and shards give a result or one FormatError', async () => {
  const json = JSON.parse(new TextDecoder().decode(fixture('models/tfjs_lstm/model.json'))) as unknown;
  const shard = fixture('models/tfjs_lstm/group1-shard1of1.bin');
  const reader = (shards: Uint8Array) => (p: string): Uint8Array | undefined => (p === 'group1-shard1of1.bin' ? shards : undefined);
  await fc.assert(fc.asyncProperty(fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), async (edits) => {
    const text = new TextEncoder().encode(JSON.stringify(editJson(json, edits)));
    await check('tfjs model.json', () => importModel(text, 'model.json', {}, reader(shard)));
  }), { seed: SEED + 10, numRuns: 400 * SCALE });
  const text = fixture('models/tfjs_lstm/model.json');
  await fc.assert(fc.asyncProperty(mutations, fc.boolean(), async (ms, onShard) => {
    await check('tfjs bytes', () => (onShard ? importModel(text, 'model.json', {}, reader(mutate(shard, ms))) : importModel(mutate(text, ms), 'model.json', {}, reader(shard))));
  }), { seed: SEED + 11, numRuns: 300 * SCALE });
});

test('hdf5: mutated Keras files give a result or one FormatError, and a good file still reads after', async () => {
  const h5 = fixture('models/keras2_lstm_dense.h5');
  await fc.assert(fc.asyncProperty(mutations, async (ms) => {
    await check('keras h5', () => importModel(mutate(h5, ms), 'k.h5'));
  }), { seed: SEED + 12, numRuns: 60 * SCALE });
  const m = await importModel(h5, 'k.h5');
  assert.equal(m.config.module, 'LSTM');
});

test('keras: mutated config.json (.keras) and model_config (.h5) trees give a result or one FormatError', async () => {
  const archive = ZipArchive.open(fixture('models/keras3_simplernn.keras'), 'k.keras');
  const weights = new Uint8Array(archive.read('model.weights.h5')!);
  const config = JSON.parse(new TextDecoder().decode(archive.read('config.json')!)) as unknown;
  await fc.assert(fc.asyncProperty(fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), async (edits) => {
    const bytes = zipSync({ 'config.json': new TextEncoder().encode(JSON.stringify(editJson(config, edits))), 'model.weights.h5': weights });
    await check('keras config.json', () => importModel(bytes, 'k.keras'));
  }), { seed: SEED + 13, numRuns: 200 * SCALE });
  const model = await importModel(fixture('models/keras2_bigru_full.h5'), 'full.h5');
  const spec = kerasH5(model);
  const modelConfig = JSON.parse(String(spec.attrs!.model_config)) as unknown;
  await fc.assert(fc.asyncProperty(fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), async (edits) => {
    const bytes = await writeHdf5({ ...spec, attrs: { ...spec.attrs, model_config: JSON.stringify(editJson(modelConfig, edits)) } });
    await check('keras model_config', () => importModel(bytes, 'full.h5'));
  }), { seed: SEED + 14, numRuns: 100 * SCALE });
});

test.after(() => {
  const lines = [...stats].map(([r, s]) => `${r}: ${s.ok + s.refused} runs (${s.ok} read, ${s.refused} refused) in ${Math.round(s.ms)} ms`);
  process.stdout.write(`# fuzz properties (seed ${SEED}):\n${lines.map((l) => `#   ${l}`).join('\n')}\n`);
});

