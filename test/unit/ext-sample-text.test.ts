import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemperature, sampleHeader, temperatureNote } from '../../src/extension/logic/sampleText';

test('the sample header records model, temperature, seed, length and prime on one line', () => {
  assert.equal(sampleHeader({ model: 'LSTM 1×128 on a.txt', temperature: 0.8, seed: 7, prime: 'ROMEO:\n', length: 200 }),
    '# gatescope sample · LSTM 1×128 on a.txt · temperature 0.8 · seed 7 · 200 tokens after "ROMEO:\\n"');
  assert.equal(sampleHeader({ model: 'GRU\n2×64', temperature: 0, seed: 1, prime: '', length: 5 }), '# gatescope sample · GRU 2×64 · temperature 0 · seed 1 · 5 tokens');
});

test('a typed temperature is a number from 0 to 5; anything else is refused', () => {
  assert.equal(parseTemperature(' 0.65 '), 0.65);
  assert.equal(parseTemperature('0'), 0);
  assert.equal(parseTemperature('.5'), 0.5);
  assert.equal(parseTemperature('5'), 5);
  for (const bad of ['', '-1', '6', 'abc', '1e3', '0x1', 'NaN', '1.2.3']) assert.equal(parseTemperature(bad), undefined, bad);
  assert.match(temperatureNote(0), /greedy/);
  assert.equal(temperatureNote(1.2), 'adventurous');
});
