// The dashboard's pure pieces: durations and ETA, loss in bits, log-axis ticks that never collide, the
// grouped gate-saturation series, batched live events (no point lost), samples listed once, view state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etaSeconds, formatCompact, formatDuration, formatValue, gateName, layerLabel } from '../../src/extension/logic/formatCount';
import { mergeSamples } from '../../src/extension/logic/samples';
import { Batcher, logTicks, natsToBits, saturationSeries, type Timers } from '../../src/extension/logic/series';
import { spanSnippet } from '../../src/extension/logic/spans';
import { parseRunSummary, parseViewState } from '../../src/extension/logic/viewState';

test('durations, ETA and compact counts read as people write them', () => {
  assert.equal(formatDuration(4.4), '4 s');
  assert.equal(formatDuration(185), '3 min 05 s');
  assert.equal(formatDuration(3725), '1 h 02 min');
  assert.equal(formatDuration(NaN), '–');
  assert.equal(etaSeconds(0, 100, 0), undefined);
  assert.equal(etaSeconds(25, 100, 10), 30);
  assert.equal(etaSeconds(100, 100, 10), 0);
  assert.equal(formatCompact(950), '950');
  assert.equal(formatCompact(1234), '1.2k');
  assert.equal(formatCompact(34_567), '35k');
  assert.equal(formatCompact(1_500_000), '1.5M');
  assert.equal(formatCompact(-2e9), '−2B');
});

test('values: fixed digits, exponents for extremes, a real minus sign', () => {
  assert.equal(formatValue(0.98), '0.980');
  assert.equal(formatValue(-0.98), '−0.980');
  assert.equal(formatValue(1_000_000), '1.0e6');
  assert.equal(formatValue(0.00002), '2.0e-5');
  assert.equal(formatValue(-0.0001, 2), '−1.0e-4');
  assert.equal(formatValue(0), '0.000');
  assert.equal(formatValue(-0.0000001, 3), '−1.0e-7');
});

test('layers are 1-based everywhere, gates by name', () => {
  assert.equal(layerLabel(0), 'layer 1');
  assert.equal(layerLabel(1, true), 'layer 2 reverse');
  assert.equal(gateName('f'), 'forget gate');
  assert.equal(gateName('gate_i'), 'input gate');
  assert.equal(gateName('h'), 'h');
});

test('loss in bits: nats / ln 2', () => {
  assert.ok(Math.abs(natsToBits(Math.LN2 * 3) - 3) < 1e-12);
});

test('log ticks: a few round values inside the range, never crowded', () => {
  assert.deepEqual(logTicks(0.8, 12, 6), [1, 2, 5, 10]);
  assert.deepEqual(logTicks(1e-4, 10, 6), [1e-4, 1e-3, 0.01, 0.1, 1, 10]);
  const wide = logTicks(1e-8, 1e4, 5);
  assert.ok(wide.length <= 5 && wide.length >= 2, String(wide));
  const narrow = logTicks(1.52, 4.17, 6);
  assert.ok(narrow.length >= 2 && narrow.length <= 6, String(narrow));
  assert.ok(narrow.every((v) => v >= 1.52 && v <= 4.17));
  for (let i = 1; i < narrow.length; i++) assert.ok(Math.log10(narrow[i] / narrow[i - 1]) > 0.03, `too close: ${narrow}`);
  assert.deepEqual(logTicks(0, 5), []);
  assert.deepEqual(logTicks(2, 2), []);
  for (const [lo, hi] of [[0.01, 0.011], [3.9, 4.3], [0.2, 90], [1, 1e12]]) {
    const t = logTicks(lo, hi, 6);
    assert.ok(t.length >= 2 && t.length <= 6 && t.every((v) => v >= lo * 0.999 && v <= hi * 1.001), `${lo}..${hi}: ${t}`);
  }
});

test('gate saturation: one series per layer and gate, grouped by layer, labelled in words', () => {
  const entries = (low: number) => [
    { layer: 1, reverse: false, gate: 'f', low, high: 0.5 },
    { layer: 0, reverse: false, gate: 'o', low, high: 0.1 },
    { layer: 0, reverse: false, gate: 'i', low, high: 0.2 },
    { layer: 0, reverse: true, gate: 'i', low, high: 0 },
  ];
  const points = [{ step: 10, entries: entries(0.1) }, { step: 20, entries: entries(0.3) }];
  const s = saturationSeries(points, 'either');
  assert.deepEqual(s.map((x) => x.label), ['layer 1 · input gate', 'layer 1 · output gate', 'layer 1 reverse · input gate', 'layer 2 · forget gate']);
  assert.deepEqual(s[0].data.map((p) => +p.y.toFixed(12)), [0.3, 0.5]);
  assert.deepEqual(saturationSeries(points, 'low')[0].data.map((p) => p.y), [0.1, 0.3]);
  assert.deepEqual(saturationSeries(points, 'high')[3].data.map((p) => p.x), [10, 20]);
  assert.deepEqual(saturationSeries([], 'either'), []);
});

test('batched events: at most one send per interval, every event kept in order', () => {
  let now = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const fake: Timers = {
    set: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return t; },
    clear: (h) => { const k = timers.indexOf(h as never); if (k >= 0) timers.splice(k, 1); },
  };
  const advance = (ms: number): void => {
    now += ms;
    for (const t of timers.filter((x) => x.at <= now)) { timers.splice(timers.indexOf(t), 1); t.fn(); }
  };
  const sent: { at: number; items: number[] }[] = [];
  const b = new Batcher<number>(100, (items) => sent.push({ at: now, items }), fake);
  for (let i = 0; i < 2000; i++) { b.push(i); if (i % 2 === 1) advance(1); } // ~2000 events a second
  advance(100);
  assert.deepEqual(sent.flatMap((x) => x.items), Array.from({ length: 2000 }, (_, i) => i));
  assert.ok(sent.length <= 11, `${sent.length} sends for one second`);
  for (let i = 1; i < sent.length; i++) assert.ok(sent[i].at - sent[i - 1].at >= 100);
  b.push(1); b.clear(); advance(200);
  assert.equal(sent.flatMap((x) => x.items).length, 2000, 'cleared events are not sent');
  b.push(7); b.dispose(); advance(200);
  assert.equal(timers.length, 0);
});

test('a sample is listed once: the end-of-run sample replaces the same step and temperature', () => {
  const during = [{ step: 50, temperature: 0.8, text: 'a' }, { step: 100, temperature: 0.8, text: 'b' }];
  const end = [{ step: 100, temperature: 0.5, text: 'c' }, { step: 100, temperature: 0.8, text: 'd' }];
  assert.deepEqual(mergeSamples(during, end, 12).map((s) => s.text), ['a', 'c', 'd']);
  assert.deepEqual(mergeSamples(during, end, 2).map((s) => s.text), ['c', 'd']);
  assert.deepEqual(mergeSamples([], [...during, during[1]], 12).map((s) => s.text), ['a', 'b']);
});

test('dashboard state keeps the loss unit and the saturation mode; run summaries their schedule', () => {
  const s = parseViewState('dashboard', { view: 'dashboard', smoothing: 0.5, logScale: false, lossUnit: 'bits', saturation: 'low' });
  assert.deepEqual(s, { view: 'dashboard', smoothing: 0.5, logScale: false, lossUnit: 'bits', saturation: 'low' });
  assert.deepEqual(parseViewState('dashboard', { view: 'dashboard', lossUnit: 'furlongs', saturation: 3 }), { view: 'dashboard', smoothing: 0.6, logScale: false });
  const r = parseRunSummary({ runId: 'r', label: 'x', status: 'done', totalSteps: 10, tokenLevel: 'char', evalEvery: 5, sampleEvery: 0, clip: 5 });
  assert.deepEqual(r, { runId: 'r', label: 'x', status: 'done', totalSteps: 10, tokenLevel: 'char', evalEvery: 5, sampleEvery: 0, clip: 5 });
  assert.deepEqual(parseRunSummary({ runId: 'r', label: 'x', status: 'done', totalSteps: 10, tokenLevel: 'byte', evalEvery: -1, clip: 0 }), { runId: 'r', label: 'x', status: 'done', totalSteps: 10 });
  // A PyTorch run keeps its directory across a reload (so it is followed again); only an external run has one.
  assert.deepEqual(parseRunSummary({ runId: 'e', label: 'run', status: 'training', totalSteps: 3, external: true, runDir: '/w/runs/a' }),
    { runId: 'e', label: 'run', status: 'training', totalSteps: 3, external: true, runDir: '/w/runs/a' });
  assert.deepEqual(parseRunSummary({ runId: 'e', label: 'run', status: 'done', totalSteps: 3, runDir: '/w/runs/a' }), { runId: 'e', label: 'run', status: 'done', totalSteps: 3 });
});

test('span matches are never cut mid-word: the words around them are completed, long ones cut at a space', () => {
  const doc = 'the quick brown fox jumps over the lazy dog';
  // "ick bro" (inside "quick" and "brown")
  const s = spanSnippet(doc, 6, 13);
  assert.deepEqual(s, { before: 'qu', text: 'ick bro', after: 'wn' });
  assert.deepEqual(spanSnippet(doc, 4, 9), { before: '', text: 'quick', after: '' });
  const long = spanSnippet(doc, 0, doc.length, 20);
  assert.equal(long.text, 'the quick brown fox…');
  assert.equal(long.after, '');
  assert.deepEqual(spanSnippet('a\nbc', 2, 3), { before: '', text: 'b', after: 'c' });
});

test('trace state keeps the colour scale of c; bad values are dropped', () => {
  const base = { view: 'trace', selector: { layer: 0, direction: 0, tensor: 'c' }, position: 0, unit: null, sort: 'index', filter: '', threshold: 0.3 };
  assert.equal((parseViewState('trace', { ...base, colourScale: 'unit' }) as { colourScale?: string }).colourScale, 'unit');
  assert.equal((parseViewState('trace', { ...base, colourScale: 'rainbow' }) as { colourScale?: string }).colourScale, undefined);
});

test('log ticks within a decade cover the low end too (a loss from 5 down to 1.05)', () => {
  assert.deepEqual(logTicks(1.05, 5, 5), [1.2, 2, 3, 5]);
});
