import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import { buildVocabulary, encodeText } from '../../src/core/data/tokenizer';
import { TrainSession } from '../../src/core/train/session';
import { fastNextTokenScorer, sampleFast } from '../../src/engines';
import { TokenStreamData } from '../../src/core/train/trainingData';
import { trainSettings, learningRateAt } from '../../src/core/train/settings';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { type TrainEvent, TrainingDivergedError } from '../../src/core/train/events';
import { parseCheckpoint, serializeCheckpoint } from '../../src/core/checkpoint';
import type { TrainSettings } from '../../src/core/checkpoint';
import type { TensorMap } from '../../src/core/tensor';

const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(12);
const vocab = buildVocabulary(TEXT, 'char');
const tokens = encodeText(vocab, TEXT);
const cfg = modelConfigFor(vocab, { hiddenSize: 6, dtype: 'float64' });
const settings: TrainSettings = trainSettings({ seqLen: 8, batchSize: 3, steps: 8, evalEvery: 4, optimizer: { kind: 'adam', lr: 0.01 }, seed: 7 });

function session(s: TrainSettings = settings) {
  const engine = createReferenceLmEngine(cfg, initialWeights(cfg, s.seed));
  return new TrainSession({ engine, vocab, data: new TokenStreamData(tokens, s), settings: s, sources: ['mem'] });
}

function drain(it: Iterable<TrainEvent>): TrainEvent[] {
  return [...it];
}

function assertSameTensors(a: TensorMap, b: TensorMap): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, t] of a) assert.deepEqual(t.data, b.get(k)!.data, k);
}

test('training emits step and eval events with losses, norms, rates and gate statistics', () => {
  const events = drain(session().run());
  const steps = events.filter((e) => e.kind === 'step');
  const evals = events.filter((e) => e.kind === 'eval');
  assert.equal(steps.length, 8);
  assert.equal(evals.length, 2);
  for (const e of steps) assert.ok(Number.isFinite(e.loss) && e.gradNorm > 0 && e.tokensPerSecond > 0);
  const ev = evals[1];
  assert.ok(ev.kind === 'eval' && ev.validationLoss > 0 && Math.abs(ev.validationBits - ev.validationLoss / Math.LN2) < 1e-12);
  assert.ok(ev.kind === 'eval' && ev.gateSaturation.map((g) => g.gate).join() === 'i,f,o');
});

test('same seed and config give identical weights', () => {
  const a = session(), b = session();
  drain(a.run());
  drain(b.run());
  assertSameTensors(a.checkpoint().params, b.checkpoint().params);
});

test('train 2N steps == train N, checkpoint to bytes, resume, train N (weights and losses)', () => {
  const full = session();
  drain(full.run());
  const first = session();
  drain(first.run(() => first.step >= 4));
  const bytes = serializeCheckpoint(first.checkpoint());
  const ck = parseCheckpoint(bytes);
  const engine = createReferenceLmEngine(ck.config, ck.params);
  const resumed = new TrainSession({ engine, vocab: ck.vocab, data: new TokenStreamData(tokens, ck.training!.settings), settings: ck.training!.settings, resume: ck });
  assert.equal(resumed.step, 4);
  drain(resumed.run());
  const a = full.checkpoint(), b = resumed.checkpoint();
  assertSameTensors(a.params, b.params);
  assertSameTensors(a.optimizer!, b.optimizer!);
  assert.deepEqual(a.training!.lossHistory, b.training!.lossHistory);
  assert.deepEqual(a.training!.validationHistory, b.training!.validationHistory);
});

test('random windows (shuffle) also resume exactly', () => {
  const s = { ...settings, shuffle: true };
  const full = session(s);
  drain(full.run());
  const first = session(s);
  drain(first.run(() => first.step >= 3));
  const ck = parseCheckpoint(serializeCheckpoint(first.checkpoint()));
  const resumed = new TrainSession({ engine: createReferenceLmEngine(ck.config, ck.params), vocab, data: new TokenStreamData(tokens, s), settings: s, resume: ck });
  drain(resumed.run());
  assertSameTensors(full.checkpoint().params, resumed.checkpoint().params);
});

test('step decay schedule', () => {
  const s = trainSettings({ optimizer: { kind: 'adam', lr: 1 }, lrDecay: { every: 10, factor: 0.5 } });
  assert.deepEqual([0, 9, 10, 25].map((k) => learningRateAt(s, k)), [1, 1, 0.5, 0.25]);
});

test('a NaN loss stops training naming the step and rolls back to the last evaluated weights', () => {
  const real = createReferenceLmEngine(cfg, initialWeights(cfg, settings.seed));
  let calls = 0;
  // An engine whose third step blows up (as a too-large learning rate eventually does).
  const engine = { ...real, trainStep: (b: Parameters<typeof real.trainStep>[0], o: Parameters<typeof real.trainStep>[1]) =>
    (++calls === 3 ? { loss: NaN, gradNorm: NaN } : real.trainStep(b, o)) };
  const run = new TrainSession({ engine, vocab, data: new TokenStreamData(tokens, settings), settings: { ...settings, evalEvery: 2 } });
  const before: TrainEvent[] = [];
  assert.throws(() => { for (const e of run.run()) before.push(e); }, (e: unknown) => {
    assert.ok(e instanceof TrainingDivergedError);
    assert.match(e.message, /loss became NaN at step 3; the model was rolled back to step 2/);
    return true;
  });
  assert.equal(run.step, 2);
  assert.equal(run.checkpoint().training!.lossHistory.length, 2);
});

test('too little text is refused with the numbers', () => {
  assert.throws(() => new TokenStreamData(tokens.subarray(0, 20), settings), /needs at least 25/);
});

test('evaluation during a run reads a bounded prefix of the validation split, the last one all of it', () => {
  const long = encodeText(vocab, TEXT.repeat(12));
  const s = trainSettings({ seqLen: 4, batchSize: 2, steps: 6, evalEvery: 3, optimizer: { kind: 'adam', lr: 0.01 }, seed: 7 });
  const engine = createReferenceLmEngine(cfg, initialWeights(cfg, s.seed));
  const run = new TrainSession({ engine, vocab, data: new TokenStreamData(long, s), settings: s });
  const evals = drain(run.run()).filter((e) => e.kind === 'eval');
  assert.equal(evals.length, 2);
  const [mid, last] = evals as Extract<TrainEvent, { kind: 'eval' }>[];
  assert.equal(mid.validationBatches, 4, 'max(4, 0.15 × evalEvery) windows mid-run');
  assert.ok(mid.validationBatchesTotal > 4);
  assert.equal(last.validationBatches, last.validationBatchesTotal, 'the whole split at the end');
  assert.equal(last.validationLoss, run.validationLoss());
});

test('the checkpoint keeps each step\'s gradient norm, each evaluation\'s gate saturation and the samples (a finished run redraws them); bad ones are refused', () => {
  const s = session({ ...settings, sampleEvery: 4, sampleLength: 12 });
  const events = [...s.run()];
  const ck = parseCheckpoint(serializeCheckpoint(s.checkpoint()));
  const steps = events.filter((e) => e.kind === 'step');
  assert.deepEqual(ck.training!.lossHistory.map((p) => p.gradNorm), steps.map((e) => e.gradNorm));
  const evals = events.filter((e) => e.kind === 'eval');
  assert.equal(ck.training!.validationHistory.length, evals.length);
  ck.training!.validationHistory.forEach((p, k) => assert.deepEqual(p.saturation, evals[k].gateSaturation));
  assert.ok(evals[0].gateSaturation.length > 0);
  assert.deepEqual(ck.training!.samples, events.filter((e) => e.kind === 'sample').map((e) => ({ step: e.step, temperature: 0.8, text: e.text })));
  const bad = { ...ck, training: { ...ck.training!, validationHistory: [{ step: 4, loss: 1, saturation: [{ layer: 0, reverse: false, gate: 'i', low: 2, high: 0 }] }] } };
  assert.throws(() => parseCheckpoint(serializeCheckpoint(bad), 'x.safetensors'), /x\.safetensors: training state: validationHistory: saturation must be a list/);
});

test('a session given a scorer samples through it (float32 on the fast kernels), the same text sampleFast draws from its weights', () => {
  const cfg32 = modelConfigFor(vocab, { hiddenSize: 6, dtype: 'float32' });
  const s = { ...settings, sampleEvery: 4, sampleLength: 12 };
  const made: string[] = [];
  const scorer: typeof fastNextTokenScorer = (c, p) => { made.push(c.rnn.dtype); return fastNextTokenScorer(c, p); };
  const engine = createReferenceLmEngine(cfg32, initialWeights(cfg32, s.seed));
  const session = new TrainSession({ engine, vocab, data: new TokenStreamData(tokens, s), settings: s, sources: ['mem'], scorer });
  const samples = [...session.run()].filter((e) => e.kind === 'sample');
  assert.ok(samples.length >= 2 && made.length === samples.length, `${made.length} scorers for ${samples.length} samples`);
  const last = samples.at(-1)!;
  assert.equal(last.text, sampleFast(cfg32, engine.getParameters(), vocab, { length: 12, temperature: 0.8, seed: s.seed + last.step }).generated);
});
