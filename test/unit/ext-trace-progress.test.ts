// A traced document is usable while the worker prepares it: windows the sweep has passed answer at once,
// later ones wait for it, hovers say how far it got, cancelling rejects the waiting readers, and edits to
// the editor text invalidate the trace from the first edited token on (everywhere for a bidirectional model).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { modelConfigFor, initialWeights } from '../../src/core/train/model';
import { rnnConfig } from '../../src/core/config';
import { modelConfig } from '../../src/core/model';
import { encodeDocument } from '../../src/extension/logic/encodeDocument';
import { PreparationCancelledError, PreparationProgress } from '../../src/extension/logic/preparation';
import { TracedDocument } from '../../src/extension/services/traceService';
import type { ModelData, RemoteTrace } from '../../src/extension/services/backend';
import { createDocumentTrace } from '../../src/worker/documentTrace';

const TEXT = 'a stitch in time saves nine, and a rolling stone gathers no moss.\n'.repeat(200); // 13,200 chars

function model(bidirectional = false): ModelData {
  const vocab = buildCharVocab(TEXT);
  const base = modelConfigFor(vocab, { module: 'LSTM', hiddenSize: 5, numLayers: 1, dtype: 'float64' });
  const config = bidirectional ? modelConfig({ rnn: rnnConfig({ ...base.rnn, bidirectional: true }), vocabSize: base.vocabSize }) : base;
  return { config, params: initialWeights(config, 7), vocab };
}

/** The worker's trace in-process, prepared one slice per step() as the worker would between messages. */
function steppedRemote(m: ModelData, ids: Int32Array, K: number): RemoteTrace & { step(): boolean } {
  const doc = createDocumentTrace(m, ids, K);
  const sweep = doc.prepare();
  const progress = new PreparationProgress(doc.length, doc.work);
  progress.update(0, doc.work, doc.available); // as the worker reports before its first slice
  return {
    length: doc.length,
    progress,
    window: async (start, end) => doc.window(start, end),
    prediction: () => doc.prediction(),
    step() {
      const r = sweep.next();
      if (r.done) progress.finish();
      else progress.update(r.value, doc.work, doc.available);
      return !r.done;
    },
    dispose: () => { progress.dispose(); doc.dispose(); },
  };
}

function traced(m: ModelData, remote: RemoteTrace, K: number): TracedDocument {
  const enc = encodeDocument(m.vocab as { kind: 'char'; chars: string[] }, TEXT);
  return new TracedDocument('mem:doc', 'trace-1', 'doc', 1, TEXT, enc, 'm', m, remote, { blockSize: K, cacheBlocks: 8, checkpointEvery: K });
}

const settled = async <T>(p: Promise<T>): Promise<boolean> => {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
};

test('PreparationProgress: readers wait for their part, never for more; stopping rejects them', async () => {
  const p = new PreparationProgress(1000, 2000);
  assert.equal(p.isAvailable(0), false);
  const early = p.whenAvailable(100);
  const late = p.whenAvailable(900);
  p.update(500, 2000, 64);
  assert.equal(await settled(early), false);
  p.update(800, 2000, 512);
  assert.equal(await settled(early), true);
  assert.equal(await settled(late), false);
  p.update(900, 2000, 300); // never shrinks
  assert.equal(p.current.available, 512);
  assert.equal(p.fraction, 0.45);
  p.finish();
  assert.equal(await settled(late), true);
  await p.finished;
  assert.deepEqual(p.current, { state: 'ready', done: 2000, total: 2000, available: 1000 });

  const q = new PreparationProgress(1000);
  const waiting = q.whenAvailable(10);
  q.dispose();
  await assert.rejects(waiting, PreparationCancelledError);
  await assert.rejects(q.finished, PreparationCancelledError);
  assert.equal(q.current.state, 'cancelled');
  await assert.rejects(q.whenAvailable(10), PreparationCancelledError);
  const r = new PreparationProgress(10);
  r.fail(new Error('boom'));
  assert.equal(r.current.state, 'failed');
  await assert.rejects(r.finished, /boom/);
});

test('a traced document shows what the sweep has passed; the rest appears as it gets there, exactly', async () => {
  const m = model();
  const ids = encodeDocument(m.vocab as { kind: 'char'; chars: string[] }, TEXT).ids;
  const K = 64;
  const remote = steppedRemote(m, ids, K);
  const doc = traced(m, remote, K);
  const sel = { layer: 0, direction: 0 as const, tensor: 'c' };
  assert.ok(doc.isAvailable(10)); // the first block starts from the initial state
  assert.match(doc.unavailableNote(12_000)!, /preparing the trace… 0%/);
  assert.equal((await doc.window(sel, 10, 60)).length, 50 * 5);
  const second = doc.window(sel, 0, 100); // [64, 128) needs the checkpoint at 64: it waits for the sweep
  assert.equal(await settled(second), false);
  remote.step();
  assert.equal((await second).length, 100 * 5);
  assert.ok(doc.isAvailable(500) && !doc.isAvailable(12_000)); // the first slice: 512 tokens
  const tail = doc.window(sel, 12_000, 12_100);
  assert.equal(await settled(tail), false);
  assert.match(doc.unavailableNote(12_050)!, /preparing the trace… \d+%/);
  assert.equal(doc.unavailableNote(100), undefined);
  while (remote.step()) { /* the rest of the sweep */ }
  const got = await tail;
  assert.equal(doc.unavailableNote(12_050), undefined);
  // The same numbers as a document prepared before anyone looked.
  const full = createDocumentTrace(m, ids, K);
  for (const _ of full.prepare()) { /* sweep */ }
  const ref = full.window(12_000, 12_100).tensors.get('trace_l0_c')!.data as Float64Array;
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-6);
  doc.dispose();
});

test('cancelling a preparation rejects the windows waiting for it', async () => {
  const m = model();
  const ids = encodeDocument(m.vocab as { kind: 'char'; chars: string[] }, TEXT).ids;
  const remote = steppedRemote(m, ids, 64);
  const doc = traced(m, remote, 64);
  const waiting = doc.window({ layer: 0, direction: 0, tensor: 'h' }, 13_000, 13_100);
  doc.dispose();
  await assert.rejects(waiting, PreparationCancelledError);
  assert.equal(doc.progress.current.state, 'cancelled');
});

test('edits invalidate the trace from the first edited token (everywhere for a bidirectional model)', () => {
  const m = model();
  const ids = encodeDocument(m.vocab as { kind: 'char'; chars: string[] }, TEXT).ids;
  const remote = steppedRemote(m, ids, 64);
  while (remote.step()) { /* prepared */ }
  const doc = traced(m, remote, 64);
  assert.equal(doc.staleFrom, doc.length);
  doc.noteEdit(5000);
  doc.noteEdit(7000); // a later edit does not move it forward
  assert.equal(doc.staleFrom, 5000);
  assert.equal(doc.unavailableNote(4999), undefined);
  assert.match(doc.unavailableNote(5000)!, /changed here since it was traced/);
  doc.noteEdit(TEXT.length); // typing at the very end
  assert.equal(doc.staleFrom, 5000);
  doc.dispose();

  const bm = model(true);
  const bidi = steppedRemote(bm, ids.subarray(0, 2000), 64);
  while (bidi.step()) { /* prepared */ }
  const bdoc = traced(bm, bidi, 64);
  bdoc.noteEdit(1500);
  assert.equal(bdoc.staleFrom, 0);
  assert.match(bdoc.unavailableNote(10)!, /bidirectional/);
  bdoc.dispose();
});
