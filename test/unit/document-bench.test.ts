// `gatescope bench --document N --json` end to end on a small document: one row per configuration asked for,
// with the preparation time, the window latencies, the slice bound and the re-trace after an edit; bad arguments
// are usage errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run as bench } from '../../src/cli/bench';
import type { DocumentBenchRow } from '../../src/cli/benchDocument';
import { UsageError } from '../../src/cli/errors';

async function captured(args: string[]): Promise<string> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  // Strings only: under --test the runner reports through stdout too (binary chunks), while the bench awaits.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return write(chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    assert.equal(await bench(args), 0);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test('bench --document N --json prepares one sequence per configuration and times windows in it', async () => {
  const out = JSON.parse(await captured(['--document', '3000', '--json', '--no-torch', '--hidden', '16,8x2', '--windows', '5'])) as {
    document: { chars: number }; results: DocumentBenchRow[];
  };
  assert.equal(out.document.chars, 3000);
  assert.deepEqual(out.results.map((r) => [r.hidden, r.layers]), [[16, 1], [8, 2]]);
  for (const r of out.results) {
    assert.ok(r.seconds > 0 && r.usPerChar > 0 && r.peakRssMiB > 0 && r.slices >= 1 && r.maxSliceMs > 0, JSON.stringify(r));
    assert.ok(r.windowMedianMs > 0 && r.windowP95Ms >= r.windowMedianMs && r.hoverMedianMs >= r.windowMedianMs, JSON.stringify(r));
    // Timed only: on 3000 chars a fresh sweep's set-up outweighs the part after the edit (trace-resume.test.ts checks that part).
    assert.ok(r.editedSeconds > 0, JSON.stringify(r));
    assert.equal(r.ratio, undefined);
  }
});

test('bench --document refuses a too short document and bad sizes', async () => {
  await assert.rejects(bench(['--document', '10']), UsageError);
  await assert.rejects(bench(['--document', '3000', '--hidden', 'big']), UsageError);
});
