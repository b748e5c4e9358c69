// The host probe's attribution of event-loop stalls to the functions sampled during them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeStalls, type CpuProfile } from '../../src/extension/diagnostics/longTasks';

const OURS = 'file:///ext/dist/extension.js';
const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url, lineNumber: id }, children });

// (root) → processTicks (node) → accept (ours) → stringify (ours, a JSON helper) → (garbage collector)
//        → onMessage (code-server)  ;  (idle)
const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 5, 6]),
    frame(2, 'processTicks', 'node:internal/process/task_queues', [3]),
    frame(3, 'accept', OURS, [4]),
    frame(4, 'stringify', OURS, [7]),
    frame(5, 'onMessage', 'file:///cs/extensionHostProcess.js'),
    frame(6, '(idle)', ''),
    frame(7, '(garbage collector)', ''),
  ],
  startTime: 1_000_000,
  endTime: 1_200_000,
  // one sample per 10 ms: 3 idle, 4 in stringify, 2 in GC under stringify, 1 in accept, 3 code-server, idle...
  samples: [6, 6, 6, 4, 4, 4, 4, 7, 7, 3, 5, 5, 5, 6, 6],
  timeDeltas: Array(15).fill(10_000),
};

test('a stall is attributed to our innermost function on the stack, and the rest to its leaf', () => {
  // Samples are at 1.01 s, 1.02 s, ...; the stall covers samples 4..13 (1.04 .. 1.13 s).
  const { stalls, ourHandlers } = attributeStalls(profile, [{ start: 1_035_000, end: 1_135_000 }], (u) => u.includes('/dist/'));
  assert.equal(stalls.length, 1);
  const s = stalls[0];
  assert.equal(s.ms, 100);
  assert.equal(s.atMs, 35);
  assert.deepEqual(s.ours, [{ frame: 'stringify extension.js:5', ms: 60 }, { frame: 'accept extension.js:4', ms: 10 }]);
  // The last sample (1.13 s) stands for the 5 ms left of the stall, not its whole 10 ms.
  assert.deepEqual(s.others, [{ frame: 'onMessage extensionHostProcess.js:6', ms: 25 }]);
  assert.equal(s.sampledMs, 95);
  assert.deepEqual(s.leaves.map((f) => [f.frame, f.ms]), [
    ['stringify extension.js:5 < accept extension.js:4 < processTicks task_queues:3', 40],
    ['onMessage extensionHostProcess.js:6', 25],
    ['(garbage collector) < stringify extension.js:5 < accept extension.js:4', 20],
    ['accept extension.js:4 < processTicks task_queues:3', 10],
  ]);
  assert.deepEqual(ourHandlers.map((h) => [h.frame, h.stalls, h.maxMs]), [['stringify extension.js:5', 1, 60], ['accept extension.js:4', 1, 10]]);
});

test('idle samples and samples outside every stall are not counted; stalls come longest first', () => {
  const { stalls } = attributeStalls(profile, [{ start: 1_000_000, end: 1_030_000 }, { start: 1_095_000, end: 1_135_000 }], () => false);
  assert.deepEqual(stalls.map((s) => s.ms), [40, 30]);
  assert.equal(stalls[1].sampledMs, 0, 'the first window holds only idle samples');
  assert.deepEqual(stalls[0].others.map((f) => f.frame), ['onMessage extensionHostProcess.js:6', 'accept extension.js:4']);
});
