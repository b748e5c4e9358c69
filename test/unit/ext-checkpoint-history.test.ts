// A restored dashboard reads a checkpoint's training state from the safetensors header alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVocabulary } from '../../src/core/data/tokenizer';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { parseCheckpoint, serializeCheckpoint, type TrainingState } from '../../src/core/checkpoint';
import { serializeSafetensors } from '../../src/core/formats/safetensors';
import { readTrainingState } from '../../src/extension/services/checkpointHistory';

const vocab = buildVocabulary('hello world\n', 'char');
const cfg = modelConfigFor(vocab, { hiddenSize: 4, numLayers: 1 });
const params = initialWeights(cfg, 1);
const training: TrainingState = {
  settings: {
    seqLen: 16, batchSize: 4, steps: 20, optimizer: { kind: 'adam', lr: 0.002 }, clip: 5, validationFraction: 0.1,
    evalEvery: 2, evalBatches: 0, shuffle: false, seed: 1, sampleEvery: 0, sampleLength: 50,
  },
  step: 3, window: 3, epoch: 0, rngState: [1, 2, 3, 4], elapsedSeconds: 1.5,
  lossHistory: [{ step: 1, loss: 2.5 }, { step: 2, loss: 2.25 }, { step: 3, loss: 2.125 }],
  validationHistory: [{ step: 2, loss: 2.4 }],
  data: { sources: ['a.txt'], tokens: 1000 },
};

test('the training state comes from the header, equal to what parsing the whole checkpoint gives', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-ckh-'));
  try {
    const path = join(dir, 'm.safetensors');
    const bytes = serializeCheckpoint({ config: cfg, vocab, params, engine: 'reference', training });
    writeFileSync(path, bytes);
    assert.deepEqual(await readTrainingState(path), parseCheckpoint(bytes).training);
    assert.deepEqual(await readTrainingState(path), training);
    const untrained = join(dir, 'u.safetensors');
    writeFileSync(untrained, serializeCheckpoint({ config: cfg, vocab, params, engine: 'reference' }));
    assert.equal(await readTrainingState(untrained), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing, short, foreign and truncated files are refused naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-ckh-'));
  try {
    const at = (name: string, bytes?: Uint8Array): string => {
      const p = join(dir, name);
      if (bytes) writeFileSync(p, bytes);
      return p;
    };
    await assert.rejects(readTrainingState(at('gone.safetensors')), /gone\.safetensors: cannot read \(ENOENT\)/);
    await assert.rejects(readTrainingState(at('x.bin', new Uint8Array(3))), /x\.bin: too short/);
    await assert.rejects(readTrainingState(at('w.safetensors', serializeSafetensors(params))), /w\.safetensors: not a gatescope model/);
    const bytes = serializeCheckpoint({ config: cfg, vocab, params, engine: 'reference', training });
    await assert.rejects(readTrainingState(at('cut.safetensors', bytes.subarray(0, 40))), /cut\.safetensors: not a safetensors file \(header length/);
    const text = new Uint8Array(64).fill(0x41);
    text.set([8, 0, 0, 0, 0, 0, 0, 0]);
    await assert.rejects(readTrainingState(at('t.safetensors', text)), /t\.safetensors: header is not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
