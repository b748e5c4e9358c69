// `gatescope diff` on real files: a state_dict against its own ONNX export (made by torch.onnx.export,
// scripts/gen_diff_fixtures.py), PyTorch against a Keras-layout file of the same weights, gatescope's own
// convert round trips (safetensors → npz → Keras .h5 → back), a gatescope trace against its inputs file:
// EQUIVALENT, exit 0. A gate swap and a transpose: DIFFERENT, exit 1, the mistake named with what to
// change. Bad input: one line, exit 2. In-process (diffFiles) except for the exit codes of the binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { diffFiles } from '../../src/cli/diff';
import { exportModel } from '../../src/core/formats/export';
import { readTensorFile } from '../../src/core/formats';
import { serializeNpz } from '../../src/core/formats/npz';
import { parseSafetensors, serializeSafetensors } from '../../src/core/formats/safetensors';
import { permuteRowBlocks, transpose2d } from '../../src/core/layouts/blocks';
import { parseRnnConfig } from '../../src/core/config';
import { computeIo } from '../../src/core/reference/io';
import type { FloatTensor, TensorMap } from '../../src/core/tensor';
import { loadModelFile } from '../../src/node/loadModelFile';
import { fixturePath } from '../fixtures';

const DIFF = resolve(__dirname, '../fixtures/diff');
const MODELS = resolve(__dirname, '../fixtures/formats/models');
const tmp = mkdtempSync(join(tmpdir(), 'gatescope-diff-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const verdict = (out: string): string => out.split('\n').find((l) => /^(EQUIVALENT|DIFFERENT|NOTHING)/.test(l)) ?? '';

async function convert(from: string, to: string, format: 'safetensors' | 'npz' | 'keras-h5', flags = {}): Promise<string> {
  writeFileSync(to, await exportModel(await loadModelFile(from, flags), format));
  return to;
}

test('a state_dict against its own ONNX export is EQUIVALENT, the embedding (Gather) and decoder (MatMul + Add) compared too', async () => {
  for (const name of ['lm_lstm', 'gru_bi', 'rnn_relu']) {
    const r = await diffFiles([join(DIFF, `${name}.pt`), join(DIFF, `${name}.onnx`)]);
    assert.equal(r.code, 0, r.output);
    assert.match(verdict(r.output), /^EQUIVALENT: A and B compute the same function \(\d+ quantities equal within rtol/, name);
  }
  const lm = await diffFiles([join(DIFF, 'lm_lstm.pt'), join(DIFF, 'lm_lstm.onnx')]);
  assert.doesNotMatch(lm.output, /only in/);
  assert.match(lm.output, /embedding 12×3; LSTM, 2 layers × 4, one direction \(input 3\); head 4→12/);
  assert.match(lm.output, /^ head\.weight +\[12, 4\] +0\.00e\+0/m);
  const strict = await diffFiles(['--strict', join(DIFF, 'lm_lstm.pt'), join(DIFF, 'lm_lstm.onnx')]);
  assert.equal(strict.code, 0, strict.output);
});

test('PyTorch against a Keras-layout file of the same weights: EQUIVALENT, the merged bias explained', async () => {
  const h5 = await convert(join(DIFF, 'lm_lstm.pt'), join(tmp, 'lm.h5'), 'keras-h5');
  const r = await diffFiles([join(DIFF, 'lm_lstm.pt'), h5]);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /only b_ih \+ b_hh enters the gates, and the sums agree/);
  assert.match(r.output, /heads aligned by function: A's decoder ↔ B's head/);
  // A Keras file written by Keras (h5py), against gatescope's PyTorch-named export of it: the Dense
  // head is compared too (nothing only one side holds).
  for (const f of ['keras2_lstm_dense.h5', 'keras2_bigru_full.h5', 'keras3_simplernn.keras', 'tfjs_lstm/model.json']) {
    const st = await convert(join(MODELS, f), join(tmp, `${f.replace('/', '_')}.safetensors`), 'safetensors');
    const k = await diffFiles([join(MODELS, f), st]);
    assert.equal(k.code, 0, `${f}\n${k.output}`);
    assert.deepEqual(k.report!.unmatched, [], `${f}\n${k.output}`);
  }
});

test('convert round trips (safetensors → npz → Keras .h5 → back) are EQUIVALENT', async () => {
  for (const c of ['lstm_bi_2l_f64', 'gru_1l_f64', 'lstm_2l_f32']) {
    const src = fixturePath(`${c}/weights.safetensors`);
    const st = await convert(src, join(tmp, `${c}.safetensors`), 'safetensors');
    const npz = await convert(st, join(tmp, `${c}.npz`), 'npz');
    const h5 = await convert(npz, join(tmp, `${c}.h5`), 'keras-h5');
    const back = await convert(h5, join(tmp, `${c}.back.safetensors`), 'safetensors');
    for (const f of [st, npz, h5, back]) {
      const r = await diffFiles([src, f]);
      assert.equal(r.code, 0, `${c} vs ${f}\n${r.output}`);
    }
  }
  // A hard-sigmoid tfjs model keeps its activation through safetensors (gatescope_config metadata).
  const tfjs = join(MODELS, 'tfjs_lstm/model.json');
  const st = await convert(tfjs, join(tmp, 'tfjs.safetensors'), 'safetensors');
  assert.equal((await diffFiles([tfjs, st])).code, 0);
});

test('gatescope trace output against its inputs file: EQUIVALENT, the inputs listed but never differences', async () => {
  const dir = fixturePath('lstm_1l_f64');
  const cfg = parseRnnConfig(JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')));
  const io = parseSafetensors(readFileSync(join(dir, 'io.safetensors'))).tensors;
  const weights = parseSafetensors(readFileSync(join(dir, 'weights.safetensors'))).tensors;
  const out = join(tmp, 'trace.safetensors');
  writeFileSync(out, serializeSafetensors(computeIo(cfg, weights, io), {}));
  const r = await diffFiles([out, join(dir, 'io.safetensors')]);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /only in B: inputs c0, h0, loss_projection, x \(an io file's inputs: never differences\)/);
  assert.equal((await diffFiles(['--strict', out, join(dir, 'io.safetensors')])).code, 0);
});

test('a gate swap and a transpose: DIFFERENT (exit 1), the mistake named with what to change', async () => {
  const sd = parseSafetensors(readFileSync(fixturePath('lstm_1l_f64/weights.safetensors'))).tensors;
  const swapped: TensorMap = new Map([...sd].map(([k, v]) => [`rnn.${k}`, k.endsWith('_ih_l0') ? permuteRowBlocks(v as FloatTensor, [0, 1, 3, 2]) : v]));
  writeFileSync(join(tmp, 'swapped.safetensors'), serializeSafetensors(swapped, {}));
  const r = await diffFiles([fixturePath('lstm_1l_f64/weights.pt'), join(tmp, 'swapped.safetensors')]);
  assert.equal(r.code, 1);
  assert.equal(verdict(r.output), 'DIFFERENT: gates g and o swapped in weight_ih_l0 and bias_ih_l0');
  assert.match(r.output, /what to change in file B \(swapped\.safetensors\) \(A is the reference\):\n {2}- reorder your gate blocks i,f,o,g → PyTorch's i,f,g,o in rnn\.weight_ih_l0 and rnn\.bias_ih_l0 of file B \(swapped\.safetensors\)/);
  const rnn = parseSafetensors(readFileSync(fixturePath('rnn_tanh_2l_f64/weights.safetensors'))).tensors;
  const t = new Map(rnn);
  t.set('weight_hh_l1', transpose2d(rnn.get('weight_hh_l1') as FloatTensor));
  writeFileSync(join(tmp, 'transposed.safetensors'), serializeSafetensors(t, {}));
  const tr = await diffFiles([fixturePath('rnn_tanh_2l_f64/weights.pt'), join(tmp, 'transposed.safetensors')]);
  assert.equal(tr.code, 1);
  assert.equal(verdict(tr.output), "DIFFERENT: weight_hh_l1: B's is the transpose of A's");
  assert.match(tr.output, /- transpose your weight_hh_l1 in file B \(transposed\.safetensors\)/);
  const j = JSON.parse((await diffFiles(['--json', fixturePath('rnn_tanh_2l_f64/weights.pt'), join(tmp, 'transposed.safetensors')])).output);
  assert.equal(j.findings[0].kind, 'transposed');
  assert.equal(j.verdict.changes[0].items[0], 'transpose your weight_hh_l1 in file B (transposed.safetensors)');
});

test('a from-scratch file is told what to change in its own names (documentation-style W_ii / W_hi / b_ii)', async () => {
  const per = readTensorFile(new Uint8Array(readFileSync(join(MODELS, 'scratch_lstm_pergate.npz'))), 'x.npz').tensors;
  const swap: Record<string, string> = { i: 'f', f: 'i', c: 'c', o: 'o' };
  const doc: TensorMap = new Map();
  for (const g of ['i', 'f', 'c', 'o']) {
    const G = g === 'c' ? 'g' : g;
    doc.set(`W_i${G}`, per.get(`W_${swap[g]}`)!);
    doc.set(`W_h${G}`, per.get(`U_${swap[g]}`)!);
    doc.set(`b_i${G}`, per.get(`b_${swap[g]}`)!);
  }
  writeFileSync(join(tmp, 'mine.npz'), serializeNpz(doc));
  const ref = await convert(join(MODELS, 'scratch_lstm_pergate.npz'), join(tmp, 'ref.safetensors'), 'safetensors');
  const r = await diffFiles([ref, join(tmp, 'mine.npz')]);
  assert.equal(r.code, 1);
  assert.match(r.output, /- W_ii, W_hi and b_ii hold the forget gate \(f\); W_if, W_hf and b_if hold the input gate \(i\): rename them in file B \(mine\.npz\)/);
});

test('the binary: exit 0 equivalent, 1 different, 2 bad input on one line', () => {
  const MAIN = resolve(__dirname, '../../src/cli/main.ts');
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'diff', ...args], { encoding: 'utf8' });
  assert.equal(run(join(DIFF, 'gru_bi.pt'), join(DIFF, 'gru_bi.onnx')).status, 0);
  assert.equal(run(join(DIFF, 'gru_bi.pt'), join(DIFF, 'lm_lstm.pt')).status, 1);
  const bad = run('--forget-bias-b', 'one', join(DIFF, 'gru_bi.pt'), join(DIFF, 'gru_bi.onnx'));
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /--forget-bias-b must be a number, got "one"/);
});
