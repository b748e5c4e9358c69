// The editor side of "what did this prediction depend on": the top contributing positions, the hover line and
// the highlight's intensity buckets (src/extension/logic/saliency.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SALIENCY_BUCKETS, bucketPositions, formatDependsOn, formatSaliencyUnsupported, formatShare, saliencyBucket, topContributions } from '../../src/extension/logic/saliency';
import { formatHover } from '../../src/extension/logic/hoverFormat';

test('top contributions: largest first, offset back from t, share of the window', () => {
  const scores = Float32Array.from([1, 0, 4, 2, 2, NaN, 1]); // positions 10..16, predicting at 16
  const top = topContributions(scores, 10, 16, 3);
  assert.deepEqual(top.map((c) => c.position), [12, 14, 13]); // a tie: the nearer one first
  assert.deepEqual(top.map((c) => c.back), [4, 2, 3]);
  assert.ok(Math.abs(top[0].share - 0.4) < 1e-7);
  assert.equal(topContributions(scores, 10, 16, 10).length, 5); // zeros and NaN are not contributions
  assert.deepEqual(topContributions(new Float32Array(0), 0, 0), []);
});

test('intensity buckets follow the square root of the score relative to the largest', () => {
  assert.equal(saliencyBucket(1, 1), SALIENCY_BUCKETS);
  assert.equal(saliencyBucket(0.04, 1), 0); // under the floor
  assert.equal(saliencyBucket(0.05, 1), 1);
  assert.equal(saliencyBucket(0.25, 1), 2);
  assert.equal(saliencyBucket(0.5, 1), 3);
  assert.equal(saliencyBucket(0, 1), 0);
  assert.equal(saliencyBucket(1, 0), 0);
  assert.equal(saliencyBucket(Infinity, 1), 0);
  for (let i = 1; i < 100; i++) assert.ok(saliencyBucket(i / 100, 1) >= saliencyBucket((i - 1) / 100, 1), 'monotone');
  const b = bucketPositions(Float32Array.from([0.01, 1, 0.3, 0.06]), 20);
  assert.equal(b.length, SALIENCY_BUCKETS + 1);
  assert.deepEqual(b[0], []);
  assert.deepEqual(b[4], [21]);
  assert.deepEqual(b[3], [22]);
  assert.deepEqual(b[1], [23]);
});

test('the hover line names each token, how far back and its share; unsupported models say why in one line', () => {
  assert.equal(formatShare(0.412), '41%');
  assert.equal(formatShare(0.0321), '3.2%');
  assert.equal(formatShare(0.0001), '<0.1%');
  const top = topContributions([1, 3, 6], 5, 7);
  const line = formatDependsOn(top, (t) => ['a', 'b', 'c', 'd', 'e', 'f', ' ', '\n'][t], 3, 'log_prob');
  assert.match(line, /^depends on: ` ⏎ ` t 60% · ` ␣ ` t−1 30% · ` f ` t−2 10%/);
  assert.match(line, /log p of the predicted token/);
  assert.doesNotMatch(line, /\n\n/); // one paragraph
  const why = formatSaliencyUnsupported('cannot attribute a prediction to earlier tokens: a bidirectional model\'s output at a token also depends on the tokens after it');
  assert.equal(why.split('\n').length, 1);
  assert.match(why, /^_depends on: not shown: a bidirectional model/);
  // In the hover: under the predictions, above the unit table.
  const md = formatHover({
    module: 'LSTM', layer: 0, numLayers: 1, direction: 0, position: 7, length: 8, char: 'x', topUnits: 1,
    tensors: new Map([['h', [0.5]], ['gate_i', [0.2]]]), predictions: [{ id: 0, token: 'a', probability: 0.5 }], dependsOn: line,
  });
  assert.ok(md.indexOf('next token') < md.indexOf('depends on') && md.indexOf('depends on') < md.indexOf('| unit'), md);
});
