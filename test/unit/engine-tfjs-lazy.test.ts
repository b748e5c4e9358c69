// TensorFlow.js is loaded only when the tfjs engine is asked for, and never bundled into the callers of
// src/engines (scripts/build.mjs builds it as dist/tfjs-engine.js, required at run time by path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { rnnConfig } from '../../src/core/config';
import { type ModelConfig, modelConfig } from '../../src/core/model';
import { availableEngines, createLmEngine, initTfjsBackend } from '../../src/engines';

const lm: ModelConfig = modelConfig({ rnn: rnnConfig({ module: 'LSTM', inputSize: 5, hiddenSize: 4 }), vocabSize: 5, outputSize: 5 });
const tfjsLoaded = (): boolean => Object.keys(require.cache).some((k) => k.includes(`${'@tensorflow'}`));

test('listing engines and the auto engine leave TensorFlow.js unloaded; asking for tfjs loads it', async () => {
  assert.ok(availableEngines().includes('tfjs'));
  const auto = createLmEngine(lm, { engine: 'auto' });
  assert.notEqual(auto.name, 'tfjs');
  auto.dispose();
  assert.equal(tfjsLoaded(), false);
  assert.ok(['wasm', 'cpu'].includes(await initTfjsBackend()));
  const tfjs = createLmEngine(lm, { engine: 'tfjs' });
  assert.equal(tfjs.name, 'tfjs');
  tfjs.dispose();
  assert.equal(tfjsLoaded(), true);
});

test('a bundle of src/engines (as the extension host gets it) does not contain TensorFlow.js', async () => {
  const r = await build({
    entryPoints: [resolve(__dirname, '../../src/engines/index.ts')], bundle: true, platform: 'node', format: 'cjs',
    write: false, metafile: true, logLevel: 'silent', outdir: 'unused', define: { GATESCOPE_TFJS_BUNDLE: '"tfjs-engine.js"' },
  });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.some((p) => p.includes('src/engines/index.ts')));
  assert.deepEqual(inputs.filter((p) => p.includes('@tensorflow') || p.includes('engines/tfjs')), []);
});
