// The readers' budgets and checks one by one (the fuzz suites run them all together): strided and
// broadcast tensors materialise exactly as PyTorch lays them out, zip members are checked (CRC, sizes,
// budgets), limits parse from the environment, messages stay on one line, referenced files stay inside
// the model's folder, imported sizes are bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { readTensorFile } from '../../src/core/formats';
import { FormatError, asFormatError, oneLine } from '../../src/core/formats/errors';
import { hdf5Summary } from '../../src/core/formats/hdf5';
import { DEFAULT_LOAD_LIMITS, loadLimitsFromEnv, parseLimitValue } from '../../src/core/formats/limits';
import { readPickle } from '../../src/core/formats/pickle';
import { tensorsOf } from '../../src/core/formats/pt';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { ZipArchive, crc32 } from '../../src/core/formats/zip';
import { checkImportedConfig } from '../../src/core/layouts/model';
import { rnnConfig } from '../../src/core/config';
import { toNumbers } from '../../src/core/tensor';
import { isInside, siblingReader } from '../../src/node/loadModelFile';
import { main } from '../../src/cli/main';
import { Pickle, ptZip, rawZip, safetensorsRaw, stateDictPickle, zeroBomb } from './fuzz-corpus';

const f32 = (n: number): Uint8Array => new Uint8Array(Float32Array.from({ length: n }, (_, i) => i + 1).buffer);

test('strided, transposed and broadcast views materialise as PyTorch lays them out', () => {
  const view = fc.record({
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 }),
    strides: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 4, maxLength: 4 }),
    offset: fc.integer({ min: 0, max: 5 }),
  });
  fc.assert(fc.property(view, ({ shape, strides, offset }) => {
    const stride = strides.slice(0, shape.length);
    const last = offset + shape.reduce((s, d, i) => s + Math.max(0, d - 1) * stride[i], 0);
    const storage = last + 1 + 2;
    const pkl = stateDictPickle([['w', { key: '0', numel: storage, size: shape, stride, offset }]]);
    const t = readTensorFile(ptZip(pkl, { 0: f32(storage) }), 'v.pt').tensors.get('w')!;
    // Naive: element (i0, i1, ...) in C order is storage[offset + Σ i_d stride_d].
    const want: number[] = [];
    const idx = new Array<number>(shape.length).fill(0);
    const n = shape.reduce((a, b) => a * b, 1);
    for (let k = 0; k < n; k++) {
      want.push(offset + idx.reduce((s, i, d) => s + i * stride[d], 0) + 1);
      for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
    }
    assert.deepEqual(t.shape, shape);
    assert.deepEqual(toNumbers(t), want);
  }), { seed: 7, numRuns: 300 });
});

test('a stride-0 tensor of 2^22 elements materialises by doubling, not per element; 2^30 is refused naming the limit', () => {
  const ok = stateDictPickle([['w', { key: '0', numel: 3, size: [1 << 11, 1 << 11], stride: [0, 0], offset: 2 }]]);
  const t = readTensorFile(ptZip(ok, { 0: f32(3) }), 'b.pt').tensors.get('w')!;
  assert.equal(t.data.length, 1 << 22);
  assert.ok((t.data as Float32Array).every((v) => v === 3));
  const bomb = stateDictPickle([['w', { key: '0', numel: 1, size: [1 << 15, 1 << 15], stride: [0, 0] }]]);
  assert.throws(() => readTensorFile(ptZip(bomb, { 0: f32(1) }), 'bomb.pt'),
    /^FormatError: bomb\.pt: tensor \[32768, 32768\] of storage 0 repeats its stored elements .*4 GiB \(the limit is 256 MiB; set GATESCOPE_MAX_EXPANDED_BYTES to raise it\)$/);
});

test('negative strides and offsets are refused as PyTorch refuses them', () => {
  const pkl = stateDictPickle([['w', { key: '0', numel: 8, size: [4, 2], stride: [-2, 1], offset: 6 }]]);
  assert.throws(() => readTensorFile(ptZip(pkl, { 0: f32(8) }), 'neg.pt'), /neg\.pt: tensor stride \[-2, 1\] is negative \(PyTorch refuses such tensors\)/);
});

test('zip members: CRC checked (0 = not computed), sizes and budgets enforced before inflating', () => {
  const data = f32(4);
  assert.deepEqual(ZipArchive.open(rawZip([{ name: 'a', data }]), 'ok.zip').read('a'), data);
  assert.deepEqual(ZipArchive.open(rawZip([{ name: 'a', data, crc: 0 }]), 'nocrc.zip').read('a'), data);
  assert.throws(() => ZipArchive.open(rawZip([{ name: 'a', data, crc: 1234 }]), 'bad.zip').read('a'),
    /^FormatError: bad\.zip: not a valid zip archive \(CRC-32 mismatch in member "a": the file is corrupt\)$/);
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const bomb = zeroBomb(40_000); // 10 MiB of zeros in 65 KiB
  const honest = rawZip([{ name: 'z', data: bomb.data, method: 8, size: bomb.size, crc: crc32(new Uint8Array(bomb.size)) }]);
  assert.equal(ZipArchive.open(honest, 'z.zip').read('z')!.length, bomb.size);
  assert.throws(() => ZipArchive.open(honest, 'z.zip', { maxInflateBytes: 1 << 20 }).read('z'),
    /z\.zip: zip member "z" inflates to 9\.84 MiB \(the limit is 1 MiB; set GATESCOPE_MAX_INFLATE_BYTES to raise it\)/);
  assert.throws(() => ZipArchive.open(rawZip([{ name: 'z', data: bomb.data, method: 8, size: 100 }]), 'lie.zip').read('z'), /declares 100 bytes|past its declared size/);
  assert.throws(() => ZipArchive.open(rawZip([{ name: 'z', data: bomb.data, method: 8, size: bomb.size + 5 }]), 'short.zip').read('z'), /truncated \(inflates to 10320001 of its 10320006 bytes\)/);
  const huge = rawZip([{ name: 'z', data: bomb.data, method: 8, size: 2 ** 40, zip64: true }]);
  assert.throws(() => ZipArchive.open(huge, 'huge.zip').read('z'), /inflates to 1024 GiB \(the limit is 4 GiB/);
  assert.throws(() => ZipArchive.open(new Uint8Array(100), 'x.zip'), /^FormatError: x\.zip: not a valid zip archive \(no end-of-central-directory record; truncated\?\)$/);
  // fflate's own archives (deflated) read back.
  const z = zipSync({ 'a.txt': new TextEncoder().encode('hello '.repeat(1000)) });
  assert.equal(new TextDecoder().decode(ZipArchive.open(z, 'f.zip').read('a.txt')), 'hello '.repeat(1000));
});

test('limits parse from the environment; a bad value names the variable', async () => {
  assert.equal(parseLimitValue('8G', 'maxInflateBytes'), 8 * 1024 ** 3);
  assert.equal(parseLimitValue('512MiB', 'maxInflateBytes'), 512 * 1024 ** 2);
  assert.equal(parseLimitValue('1000', 'maxNesting'), 1000);
  assert.throws(() => parseLimitValue('10k', 'maxNesting'), /GATESCOPE_MAX_NESTING: expected a positive integer/);
  assert.deepEqual(loadLimitsFromEnv({ GATESCOPE_MAX_INFLATE_BYTES: '1G', GATESCOPE_MAX_TENSOR_BYTES: '' }), { maxInflateBytes: 1024 ** 3 });
  assert.equal(DEFAULT_LOAD_LIMITS.maxInflateBytes, 4 * 1024 ** 3);
  const writes = process.stderr.write;
  let err = '';
  process.stderr.write = ((c: string) => { err += c; return true; }) as typeof process.stderr.write;
  process.env.GATESCOPE_MAX_INFLATE_BYTES = 'lots';
  try {
    assert.equal(await main(['diff', 'a', 'b']), 2);
  } finally {
    process.stderr.write = writes;
    delete process.env.GATESCOPE_MAX_INFLATE_BYTES;
  }
  assert.equal(err, 'gatescope diff: GATESCOPE_MAX_INFLATE_BYTES: expected a positive byte count such as 8G or 536870912, got "lots"\n');
});

test('safetensors entries are validated before any data is read', () => {
  const T = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const bad: [unknown, RegExp][] = [
    [{ a: { ...T, data_offsets: [-8, 0] } }, /tensor "a": data_offsets \[-8,0\] are not two non-negative integers/],
    [{ a: T, b: { ...T, data_offsets: [4, 12] } }, /tensors "a" and "b" overlap/],
    [{ a: { ...T, shape: [-1, -2] } }, /has a dimension that is not a non-negative integer/],
    [{ a: null }, /tensor "a": entry null is not an object/],
    [{ a: { ...T, dtype: null } }, /dtype null is not a string/],
    [[1, 2], /header is not a JSON object/],
    [{ __metadata__: [1], a: T }, /__metadata__ is not an object of strings/],
  ];
  for (const [header, message] of bad) assert.throws(() => parseSafetensors(safetensorsRaw(header, new Uint8Array(16)), 's.safetensors'), message);
  const ok = parseSafetensors(safetensorsRaw({ b: { ...T, data_offsets: [8, 16] }, a: T, e: { dtype: 'F32', shape: [0], data_offsets: [16, 16] } }, f32(4)), 'ok');
  assert.deepEqual([...ok.tensors.keys()], ['a', 'b', 'e']);
});

test('messages are one line: newlines and escapes in names from a file are shown escaped', () => {
  assert.equal(oneLine('a\nb\u001b[31mc\u202ed'), 'a\\nb\\u001b[31mc\\u202ed');
  const e = new FormatError('x: tensor "evil\nname"');
  assert.equal(e.message, 'x: tensor "evil\\nname"');
  assert.match(asFormatError('f.pt', new TypeError('x is undefined')).message, /^f\.pt: malformed file \(unexpected TypeError: x is undefined\)$/);
  assert.match(asFormatError('f.pt', new FormatError('pt-zip: no layout')).message, /^f\.pt: pt-zip: no layout$/);
});

test('HDF5 diagnostics become one line: the outermost and innermost problem', () => {
  const diag = `HDF5-DIAG: Error detected in HDF5 (2.0.0):
  #000: /src/H5F.c line 821 in H5Fopen(): unable to synchronously open file
    major: File accessibility
    minor: Unable to open file
  #001: /src/H5Ocache.c line 1271 in H5O__chunk_deserialize(): message not aligned
    major: Object header`;
  assert.equal(hdf5Summary(diag), 'H5Fopen: unable to synchronously open file … H5O__chunk_deserialize: message not aligned');
});

test('pickles: marks are a stack of their own, huge APPENDS do not overflow, cycles and memo sharing are walked once', () => {
  const plain = { resolveGlobal: () => undefined, source: 'p.pkl' };
  const p = new Pickle().proto().emptyList().mark();
  for (let i = 0; i < 300_000; i++) p.int(1);
  const list = readPickle(p.appends().stop().finish(), plain).value as number[];
  assert.equal(list.length, 300_000);
  assert.throws(() => readPickle(new Pickle().proto().mark().pop().pop().stop().finish(), plain), /stack underflow/);
  // A list that contains itself and a tensor: names are finite.
  const t = { dtype: 'float32' as const, shape: [1], data: Float32Array.of(1) };
  const cyc: unknown[] = [t];
  cyc.push(cyc);
  assert.deepEqual([...tensorsOf(new Map([['x', cyc]])).keys()], ['x.0']);
});

test('referenced files stay inside the model folder: a separator-aware containment test, symlinks resolved', () => {
  assert.equal(isInside('/a/m', '/a/m/x'), true);
  assert.equal(isInside('/a/m', '/a/m2/x'), false);
  assert.equal(isInside('/a/m', '/a/m'), false);
  assert.equal(isInside('/a/m', '/a/x/../m/y'), true);
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-contain-'));
  try {
    mkdirSync(join(dir, 'm'));
    mkdirSync(join(dir, 'm2'));
    writeFileSync(join(dir, 'm2/w.bin'), 'x');
    writeFileSync(join(dir, 'm/in.bin'), 'y');
    symlinkSync(join(dir, 'm2/w.bin'), join(dir, 'm/out.bin'));
    symlinkSync('in.bin', join(dir, 'm/alias.bin'));
    const read = siblingReader(join(dir, 'm/model.json'));
    assert.throws(() => read('../m2/w.bin'), /model\.json: refers to "\.\.\/m2\/w\.bin", outside the model's folder; refused/);
    assert.throws(() => read(join(dir, 'm/in.bin')), /outside the model's folder/);
    assert.throws(() => read('out.bin'), /"out\.bin" is a link to a file outside the model's folder; refused/);
    assert.equal(new TextDecoder().decode(read('alias.bin')), 'y');
    assert.equal(read('missing.bin'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('imported models are bounded like model descriptions (MODEL_LIMITS)', () => {
  const cfg = rnnConfig({ module: 'LSTM', inputSize: 3, hiddenSize: 4 });
  checkImportedConfig(cfg, 'ok');
  assert.throws(() => checkImportedConfig({ ...cfg, numLayers: 100_000_000 }, 'm.onnx'), /^FormatError: m\.onnx: 100000000 layers is outside 1\.\.64$/);
  assert.throws(() => checkImportedConfig({ ...cfg, hiddenSize: 0 }, 'm'), /hidden size 0 is outside/);
  assert.throws(() => checkImportedConfig({ ...cfg, hiddenSize: 60_000, inputSize: 4_000_000 }, 'm'), /parameters exceed the limit/);
});
