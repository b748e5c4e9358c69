import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import { loadTensorFile, readTensorFile } from '../../src/core/formats';
import { parsePt } from '../../src/core/formats/pt';
import { parseNpy, parseNpz, serializeNpz } from '../../src/core/formats/npz';
import { PyObject, UnsafePickleError } from '../../src/core/formats/pickle';
import { toNumbers, type TensorMap } from '../../src/core/tensor';
import { FIXTURE_ROOT } from '../fixtures';

const FORMATS = resolve(__dirname, '../fixtures/formats');
const load = (rel: string): TensorMap => loadTensorFile(readFileSync(join(FORMATS, rel)), rel);

function assertSameTensors(a: TensorMap, b: TensorMap, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: names`);
  for (const [name, t] of a) {
    const u = b.get(name)!;
    assert.equal(u.dtype, t.dtype, `${what}: ${name} dtype`);
    assert.deepEqual(u.shape, t.shape, `${what}: ${name} shape`);
    assert.deepEqual(u.data, t.data, `${what}: ${name} values`);
  }
}

test('every PyTorch fixture gives identical tensors from safetensors, .pt and .npz', () => {
  const cases = readdirSync(FIXTURE_ROOT).filter((c) => existsSync(join(FIXTURE_ROOT, c, 'weights.pt')));
  assert.ok(cases.length >= 8);
  for (const c of cases) {
    const file = (n: string) => loadTensorFile(readFileSync(join(FIXTURE_ROOT, c, n)), n);
    const st = file('weights.safetensors');
    assert.ok(st.size >= 2, c);
    assertSameTensors(st, file('weights.pt'), `${c} pt`);
    assertSameTensors(st, file('weights.npz'), `${c} npz`);
  }
});

test('legacy (non-zip) torch.save equals the zip archive', () => {
  assert.equal(readTensorFile(readFileSync(join(FORMATS, 'pt/legacy.pt')), 'legacy.pt').format, 'pt-legacy');
  assertSameTensors(load('pt/zip.pt'), load('pt/legacy.pt'), 'legacy');
  assert.deepEqual(load('pt/zip.pt').get('weight_ih_l0')!.shape, [8, 3]);
});

test('.pt views, transposes, dtypes (zip and legacy) match PyTorch', () => {
  const expect = JSON.parse(readFileSync(join(FORMATS, 'pt/views.json'), 'utf8')) as Record<string, { shape: number[]; values: (number | string)[] }>;
  for (const file of ['pt/views.pt', 'pt/views_legacy.pt']) {
    const m = load(file);
    for (const [name, e] of Object.entries(expect)) {
      const t = m.get(name)!;
      assert.deepEqual(t.shape, e.shape, `${file} ${name}`);
      if (t.dtype === 'int64') assert.deepEqual([...(t.data as BigInt64Array)].map(String), e.values, `${file} ${name}`);
      else if (t.dtype === 'float16') assert.deepEqual([...(t.data as Uint16Array)].length, 2);
      else assert.deepEqual(toNumbers(t), e.values, `${file} ${name}`);
    }
    assert.equal(m.get('half')!.dtype, 'float16');
    assert.equal(m.get('b')!.dtype, 'bool');
  }
});

test('.pt checkpoints flatten nested dicts; a saved Parameter is a tensor', () => {
  const m = load('pt/checkpoint.pt');
  assert.deepEqual([...m.keys()], ['model.weight_ih_l0', 'model.weight_hh_l0', 'model.bias_ih_l0', 'model.bias_hh_l0']);
  assert.deepEqual(toNumbers(load('pt/parameter.pt').get('tensor')!), [1, 1, 1, 1]);
});

test('whole pickled modules (torch.save(model)) are read as data: the state_dict and the module tree, nothing instantiated', () => {
  for (const f of ['pt/whole_module.pt', 'pt/whole_module_legacy.pt']) {
    const file = readTensorFile(readFileSync(join(FORMATS, f)), f);
    assert.deepEqual([...file.tensors.keys()], ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'], f);
    assert.equal(file.modules?.length, 1);
    const m = file.modules![0];
    assert.equal(m.type, 'torch.nn.modules.rnn.LSTM');
    assert.equal(m.attributes.get('mode'), 'LSTM');
    assert.equal(m.attributes.get('hidden_size'), 2);
  }
  // The programs' own torch.save(model): the same tensors as their state_dict.pt, under the same names.
  const programs = resolve(__dirname, '../fixtures/programs');
  for (const dir of ['wlm_lstm', 'wlm_gru_tied', 'wlm_rnn_tanh', 'char_rnn_gru', 'char_rnn_lstm']) {
    const whole = readTensorFile(readFileSync(join(programs, dir, 'model.pt')), 'model.pt');
    assertSameTensors(whole.tensors, loadTensorFile(readFileSync(join(programs, dir, 'state_dict.pt')), 'state_dict.pt'), dir);
    const tree = Object.fromEntries(whole.modules!.map((m) => [m.path, m.kind]));
    assert.equal(tree.encoder, 'Embedding', dir);
    assert.equal(tree.decoder, 'Linear', dir);
    assert.match(tree.rnn, /^(LSTM|GRU|RNN)$/, dir);
  }
});

test('a class the allow-list does not know is a record: NEWOBJ keeps its name and state, REDUCE (calling it) is refused', () => {
  // GLOBAL __main__.Evil, EMPTY_TUPLE, NEWOBJ, {'x': 1}, BUILD: a record; GLOBAL __main__.Evil, (), REDUCE: refused.
  const enc = new TextEncoder();
  const call = zipSync({ 'archive/data.pkl': Uint8Array.from([0x80, 0x02, ...enc.encode('c__main__\nEvil\n'), 0x29, 0x52, 0x2e]) });
  assert.throws(() => loadTensorFile(call, 'call.pt'), (e: Error) => e instanceof UnsafePickleError && /refusing to load global __main__\.Evil \(REDUCE would call it/.test(e.message));
  const made = zipSync({ 'archive/data.pkl': Uint8Array.from([0x80, 0x02, ...enc.encode('c__main__\nEvil\n'), 0x29, 0x81, 0x7d, 0x58, 1, 0, 0, 0, 0x78, 0x4b, 1, 0x73, 0x62, 0x2e]) });
  const obj = parsePt(made, 'made.pt').object as PyObject;
  assert.ok(obj instanceof PyObject);
  assert.equal(obj.className, '__main__.Evil');
  assert.equal(obj.dict?.get('x'), 1);
});

test('a pickle calling os.system is refused naming the global', () => {
  // Protocol 0: GLOBAL os.system, MARK, STRING, TUPLE, REDUCE, STOP — inside a torch.save-like zip.
  const evil = new TextEncoder().encode("cos\nsystem\n(S'echo pwned'\ntR.");
  const zip = zipSync({ 'archive/data.pkl': evil });
  assert.throws(() => loadTensorFile(zip, 'evil.pt'), (e: Error) => e instanceof UnsafePickleError && /os\.system/.test(e.message));
});

test('.npy: C and Fortran order, big endian, unsigned widening, scalars', () => {
  const c = parseNpy(readFileSync(join(FORMATS, 'npy/c_f8.npy')));
  const f = parseNpy(readFileSync(join(FORMATS, 'npy/fortran_f8.npy')));
  assert.deepEqual(c.shape, [3, 4]);
  assert.deepEqual(f.data, c.data);
  assert.equal(c.data[5], 5 / 7);
  const big = parseNpy(readFileSync(join(FORMATS, 'npy/big_f4.npy')));
  assert.equal(big.dtype, 'float32');
  assert.deepEqual([...big.data], [...Float32Array.from(c.data as Float64Array)]);
  const bi = parseNpy(readFileSync(join(FORMATS, 'npy/big_fortran_i8.npy')));
  assert.deepEqual(bi.shape, [2, 3, 4]);
  assert.deepEqual(toNumbers(bi), Array.from({ length: 24 }, (_, i) => i));
  assert.deepEqual(toNumbers(parseNpy(readFileSync(join(FORMATS, 'npy/u2.npy')))), [1, 65535]);
  const s = parseNpy(readFileSync(join(FORMATS, 'npy/scalar.npy')));
  assert.deepEqual(s.shape, []);
  assert.equal(s.data[0], 2.5);
});

test('.npz: compressed archives, and our writer round-trips', () => {
  const m = parseNpz(readFileSync(join(FORMATS, 'npy/compressed.npz')));
  assert.deepEqual(toNumbers(m.get('b')!), [0, 1, 2, 3, 4]);
  assert.equal(m.get('b')!.dtype, 'int32');
  const back = loadTensorFile(serializeNpz(m), 'x.npz');
  assertSameTensors(m, back, 'npz round trip');
});

test('unknown content is refused with the file name', () => {
  assert.throws(() => loadTensorFile(new TextEncoder().encode('hello world, not tensors'), 'notes.bin'), /notes\.bin/);
});
