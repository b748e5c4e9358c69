// Variable-length batches against PyTorch's pack_padded_sequence (scripts/gen_core_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseRnnConfig } from '../../src/core/config';
import { parseSafetensors } from '../../src/core/formats/safetensors';
import { relativeError } from '../../src/core/metrics';
import { computeIo } from '../../src/core/reference/io';
import type { TensorMap } from '../../src/core/tensor';

const dir = join(__dirname, '../fixtures/core');
for (const file of readdirSync(dir).filter((f) => f.startsWith('packed_'))) {
  test(`${file}: packed sequences match PyTorch (outputs, final states at each length, gradients)`, () => {
    const { tensors, metadata } = parseSafetensors(readFileSync(join(dir, file)));
    const cfg = parseRnnConfig(JSON.parse(metadata.config));
    const params: TensorMap = new Map();
    for (const [k, t] of tensors) if (k.startsWith('param.')) params.set(k.slice(6), t);
    const got = computeIo(cfg, params, tensors);
    const checked = [...tensors.keys()].filter((k) => k === 'output' || k.endsWith('_n') || k.startsWith('grad_'));
    assert.ok(checked.length > 6);
    for (const key of checked) {
      const err = relativeError(tensors.get(key)!, got.get(key)!);
      assert.ok(err <= 1e-12, `${key}: relative error ${err}`);
    }
  });
}
