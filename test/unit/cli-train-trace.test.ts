import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { traceDocument } from '../../src/cli/traceDocument';
import { buildVocabulary, encodeText } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { serializeCheckpoint } from '../../src/core/checkpoint';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { lmForward, splitLmParameters } from '../../src/core/train/lmForward';

test('gatescope trace MODEL --text FILE writes the per-timestep trace of the document', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-tracedoc-'));
  const text = 'to be, or not to be:\nthat is the question.\n'.repeat(8);
  const vocab = buildVocabulary(text, 'char');
  const cfg = modelConfigFor(vocab, { hiddenSize: 6, numLayers: 2 });
  const params = initialWeights(cfg, 2);
  writeFileSync(join(dir, 'm.safetensors'), serializeCheckpoint({ config: cfg, vocab, params, engine: 'reference' }));
  writeFileSync(join(dir, 'doc.txt'), text);
  let said = '';
  const rc = await traceDocument([join(dir, 'm.safetensors'), '--text', join(dir, 'doc.txt'), '--out', join(dir, 't.safetensors')],
    { out: (s) => { said += s; }, err: () => undefined, tty: false });
  assert.equal(rc, 0);
  assert.match(said, /344 tokens x 2 layer\(s\) x 6 units/);
  const t = parseSafetensors(new Uint8Array(readFileSync(join(dir, 't.safetensors')))).tensors;
  const ids = encodeText(vocab, text);
  const ref = lmForward(cfg, splitLmParameters(cfg, params), ids, ids.length, 1, undefined, { trace: true });
  for (const name of ['trace_l1_h', 'trace_l0_c', 'trace_l1_gate_f']) {
    const a = t.get(name)!.data as Float32Array, b = ref.trace!.get(name)!.data as Float32Array;
    assert.deepEqual(t.get(name)!.shape, [ids.length, 6]);
    for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k] - b[k]) < 1e-5, `${name}[${k}]`);
  }
  assert.deepEqual(t.get('top_ids')!.shape, [ids.length, 5]);
  assert.deepEqual([...(t.get('offsets')!.data as Int32Array)].slice(0, 3), [0, 1, 2]);
  await assert.rejects(traceDocument([join(dir, 'doc.txt'), '--text', join(dir, 'doc.txt'), '--out', join(dir, 'x')]), /doc\.txt: unrecognised tensor file/);
});
