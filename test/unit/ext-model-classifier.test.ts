// The extension with every model the core supports (plain node, no VS Code): the Train command's choices and
// the run they add up to, word-level documents mapped back to the editor text, hovers and trace documents of
// sequence classifiers (classes had the text ended here, or the whole document's prediction), the models
// tree's descriptions and a restored classifier dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCharVocab } from '../../src/core/data/charVocab';
import { buildWordVocab, tokenizeWords } from '../../src/core/data/wordVocab';
import type { TrainingState } from '../../src/core/checkpoint';
import type { Readout } from '../../src/core/model';
import { initialWeights, modelConfigFor } from '../../src/core/train/model';
import { encodeVocabularyDocument, encodeWordDocument } from '../../src/extension/logic/encodeDocument';
import { code, formatHover, type HoverSnapshot } from '../../src/extension/logic/hoverFormat';
import { PreparationProgress } from '../../src/extension/logic/preparation';
import { classNames, predictionKind, rowPredictions, topClasses } from '../../src/extension/logic/predictions';
import { restoredHistory } from '../../src/extension/logic/restoredRun';
import { cellChoices, sizeChoices, taskChoices, trainPlan, validateSteps, promptTitle } from '../../src/extension/logic/trainPlan';
import { parseViewState } from '../../src/extension/logic/viewState';
import type { ModelData, RemoteTrace } from '../../src/extension/services/backend';
import { describeModel, modelDetails } from '../../src/extension/services/modelStore';
import { TracedDocument } from '../../src/extension/services/traceService';
import { createDocumentTrace, encodeDocument as coreEncodeDocument } from '../../src/worker/documentTrace';
import { isToWebviewMessage } from '../../src/protocol/webview';

const DEFAULTS = { seqLen: 32, batchSize: 16, learningRate: 0.01, sampleLength: 80 };

test('Train: a labelled-data source proposes a word classifier first; Enter through every prompt trains it', () => {
  const csv = taskChoices('csv');
  assert.deepEqual(csv.map((c) => c.task), ['classify-words', 'classify-chars', 'lm']);
  assert.match(csv[0].description, /default · labelled examples \(CSV\)/);
  assert.deepEqual(taskChoices('folders').map((c) => c.task), ['classify-words', 'classify-chars'], 'a folder has no raw text to model');
  const cells = cellChoices('classify-words', 'GRU');
  assert.deepEqual(cells.map((c) => c.label), ['GRU', 'GRU, bidirectional', 'LSTM', 'LSTM, bidirectional', 'RNN', 'RNN, bidirectional']);
  assert.equal(cells[0].description, 'default');
  assert.deepEqual(cellChoices('lm', 'LSTM').map((c) => [c.label, c.bidirectional]), [['LSTM', false], ['GRU', false], ['RNN', false]]);
  assert.deepEqual(sizeChoices(64, 1).map((c) => c.label).slice(0, 3), ['1 × 64', '1 × 128', '2 × 128'], 'the default size is not repeated');
  assert.equal(sizeChoices(32, 2)[0].description, 'default (settings)');
  assert.equal(promptTitle('classify-chars', 2, 4, 'cell'), 'Train classifier (2/4): cell');
  assert.equal(promptTitle('lm', 1, 3, 'cell'), 'Train char model (1/3): cell');
  assert.equal(validateSteps(' 40 '), undefined);
  assert.match(validateSteps('0') ?? '', /positive/);
  assert.match(validateSteps('ten') ?? '', /positive/);

  // The defaults: first item of each prompt.
  const words = trainPlan({ task: csv[0].task, module: cells[0].module, bidirectional: cells[0].bidirectional, hiddenSize: 64, numLayers: 1, steps: 200, sourceLabel: 'reviews.csv' }, DEFAULTS);
  assert.equal(words.label, 'GRU 1×64 classifier on reviews.csv');
  assert.equal(words.level, 'word');
  assert.equal(words.minFreq, 2);
  assert.deepEqual(words.model, { module: 'GRU', hiddenSize: 64, numLayers: 1, bidirectional: false, embeddingDim: 64, readout: 'last' });
  assert.deepEqual(words.settings, { steps: 200, batchSize: 16, optimizer: { kind: 'adam', lr: 0.01 }, evalEvery: 10, sampleEvery: 0 });
  const chars = trainPlan({ task: 'classify-chars', module: 'LSTM', bidirectional: true, hiddenSize: 32, numLayers: 2, steps: 40, sourceLabel: 'x.jsonl' }, DEFAULTS);
  assert.equal(chars.label, 'LSTM 2×32 bidirectional classifier on x.jsonl');
  assert.equal(chars.level, 'char');
  assert.equal(chars.minFreq, undefined);
  assert.equal(chars.model.embeddingDim, 32);
  assert.equal(chars.model.bidirectional, true);
  assert.match(chars.fileStem, /-bi-classifier$/);
  assert.equal(trainPlan({ task: 'classify-chars', module: 'RNN', bidirectional: false, hiddenSize: 8, numLayers: 1, steps: 10, sourceLabel: 'd', readout: 'mean', embeddingDim: 5 }, DEFAULTS).model.readout, 'mean');
});

test('Train: a language model keeps the run it always had', () => {
  const lm = trainPlan({ task: 'lm', module: 'LSTM', bidirectional: false, hiddenSize: 32, numLayers: 1, steps: 80, sourceLabel: 'shakespeare.txt' }, DEFAULTS);
  assert.equal(lm.label, 'LSTM 1×32 on shakespeare.txt');
  assert.equal(lm.fileStem, 'shakespeare.txt-LSTM-32');
  assert.equal(lm.level, 'char');
  assert.deepEqual(lm.model, { module: 'LSTM', hiddenSize: 32, numLayers: 1 });
  assert.deepEqual(lm.settings, {
    steps: 80, seqLen: 32, batchSize: 16, optimizer: { kind: 'adam', lr: 0.01 }, evalEvery: 10, sampleEvery: 50, sampleLength: 80,
  });
});

test('word documents: the core tokens and ids, offsets into the editor text (CRLF included)', () => {
  const text = 'The cat sat.\r\nA dog, "barked"!  \r\nthe end';
  const vocab = buildWordVocab(tokenizeWords('the cat sat . a dog , barked ! end'));
  const enc = encodeWordDocument(vocab, text);
  const core = coreEncodeDocument(vocab, text);
  assert.deepEqual([...enc.ids], [...core.ids], 'the ids the worker and `gatescope trace` use');
  const words = Array.from({ length: enc.ids.length }, (_, i) => text.slice(enc.offsets[i], enc.offsets[i + 1]).trimEnd());
  assert.deepEqual(words, ['The', 'cat', 'sat', '.', 'A', 'dog', ', "', 'barked"', '!', 'the', 'end'], 'dropped quotes join the gap');
  assert.equal(enc.offsets[enc.ids.length], text.length);
  assert.equal(enc.unknown, 0);
  const unk = encodeWordDocument(vocab, 'the zebra sat');
  assert.equal(unk.unknown, 1);
  assert.equal(encodeVocabularyDocument(vocab, text, 3).ids.length, 3);
  assert.equal(encodeVocabularyDocument(vocab, text, 3).offsets.length, 4);
  const chars = encodeVocabularyDocument(buildCharVocab('ab'), 'abba');
  assert.deepEqual([...chars.offsets], [0, 1, 2, 3, 4]);
});

test('hover: classes had the text ended here, the whole document\'s prediction, escaped class names', () => {
  const base: HoverSnapshot = {
    module: 'GRU', layer: 0, numLayers: 1, direction: 0, position: 3, length: 9, char: 'great', topUnits: 1,
    tensors: new Map([['h', [0.5, -0.2]], ['gate_r', [0.1, 0.9]], ['gate_z', [0.5, 0.5]], ['gate_n', [0, 0]]]),
    predictions: [{ id: 1, token: 'positive', probability: 0.75 }, { id: 0, token: 'neg`ative\nx', probability: 0.25 }],
  };
  const ended = formatHover({ ...base, predicting: 'classes-if-ended' });
  assert.match(ended, /` great `/);
  assert.match(ended, /classes if the text ended here:\n\n- ` positive ` 75\.0% ███████▌/);
  assert.match(ended, /- `` neg`ative⏎x `` 25\.0%/);
  assert.doesNotMatch(ended, /next token/);
  const whole = formatHover({ ...base, predicting: 'document' });
  assert.match(whole, /prediction for the whole document:\n\n- ` positive ` 75\.0%/);
  const pending = formatHover({ ...base, predicting: 'document', predictions: [] });
  assert.match(pending, /prediction for the whole document: _shown once the whole document is traced\._/);
  assert.match(formatHover({ ...base, predictions: [{ id: 0, token: ' ', probability: 1 }] }), /next token: ` ␣ ` 100\.0%/);
  assert.equal(code('a``b'), '``` a``b ```');
  assert.equal(code('plain'), '` plain `');
});

test('predictions: worker rows, class names, the kind each model gives', () => {
  const ids = Int32Array.from([1, 0, 0, 0, 0, 0, 1, 0, 0, 0]); // [2 rows, 5]; 2 outputs: the rest is padding
  const probs = Float32Array.from([0.7, 0.3, 0, 0, 0, 0.6, 0.4, 0, 0, 0]);
  const names = classNames(['no', 'yes'], 2);
  assert.deepEqual(rowPredictions(ids, probs, 2, 1, 2, 5, (i) => names[i]).map((p) => [p.token, p.probability]), [['no', probs[5]], ['yes', probs[6]]]);
  assert.deepEqual(rowPredictions(new Int32Array(0), new Float32Array(0), 2, 1, 2, 5, String), []);
  assert.deepEqual(classNames(undefined, 3), ['class 0', 'class 1', 'class 2']);
  assert.deepEqual(classNames(['a'], 2), ['class 0', 'class 1'], 'labels that do not fit the outputs are not trusted');
  assert.deepEqual(topClasses([0.2, 0.5, 0.3], ['a', 'b', 'c'], 2).map((p) => p.token), ['b', 'c']);
  const vocab = buildCharVocab('abcd ');
  const cfg = (readout: Readout, bidirectional = false) => modelConfigFor(vocab, { hiddenSize: 4, readout, bidirectional, embeddingDim: 3 }, readout === 'per_step' ? undefined : 3);
  assert.equal(predictionKind(cfg('per_step')), 'next-token');
  assert.equal(predictionKind(cfg('last')), 'classes-if-ended');
  assert.equal(predictionKind(cfg('last', true)), 'document');
  assert.equal(predictionKind(cfg('mean')), 'document');
  assert.equal(predictionKind(cfg('max')), 'document');
});

const TEXT = 'good fun , great film . bad plot , dull acting .\n'.repeat(6);

function classifier(readout: Readout, level: 'char' | 'word', bidirectional = false): ModelData {
  const vocab = level === 'char' ? buildCharVocab(TEXT) : buildWordVocab(tokenizeWords(TEXT));
  const config = modelConfigFor(vocab, { module: 'GRU', hiddenSize: 5, embeddingDim: 4, readout, bidirectional, dtype: 'float64' }, 3);
  return { config, params: initialWeights(config, 11), vocab, labels: ['neg', 'neutral', 'pos'] };
}

/** The worker's document trace in-process behind a RemoteTrace, prepared. */
function traced(model: ModelData, text: string, K = 8): { doc: TracedDocument; prediction: Float32Array | undefined } {
  const enc = encodeVocabularyDocument(model.vocab, text);
  const trace = createDocumentTrace(model, enc.ids, K);
  for (const _ of trace.prepare()) { /* sweep */ }
  const progress = new PreparationProgress(trace.length);
  progress.finish();
  const remote: RemoteTrace = { length: trace.length, progress, window: async (a, b) => trace.window(a, b), prediction: () => trace.prediction(), dispose: () => trace.dispose() };
  return { doc: new TracedDocument('mem:doc', 'trace-c', 'doc', 1, text, enc, 'm', model, remote, { blockSize: K, cacheBlocks: 4, checkpointEvery: K }), prediction: trace.prediction() };
}

test('a traced word classifier: words map back to the text; a last-readout model predicts at every word', async () => {
  const model = classifier('last', 'word');
  const { doc, prediction } = traced(model, TEXT);
  assert.equal(doc.layout.task, 'classify');
  assert.equal(doc.layout.tokenLevel, 'word');
  assert.match(doc.layout.model ?? '', /^Embedding\(\d+→4\) → GRU\(|^Embedding\(\d+→4\) → GRU 1×5 → last/);
  assert.deepEqual(doc.classes, ['neg', 'neutral', 'pos']);
  assert.equal(doc.tokenLabel(0), 'good');
  assert.equal(doc.tokenText(0), 'good ');
  assert.equal(doc.tokenEnd(0), 4);
  const comma = doc.tokenAt(TEXT.indexOf(','));
  assert.equal(doc.tokenLabel(comma), ',');
  assert.equal(doc.tokenAt(TEXT.indexOf('film') + 2), 4);
  const last = doc.length - 1;
  const snap = await doc.hoverSnapshot(last, 0, 2, 5);
  assert.equal(snap.predicting, 'classes-if-ended');
  assert.equal(snap.predictions.length, 3, 'three classes, not five');
  assert.deepEqual(new Set(snap.predictions.map((p) => p.token)), new Set(['neg', 'neutral', 'pos']));
  // Had the text ended at its last word: the document's own prediction.
  assert.ok(prediction);
  for (const p of snap.predictions) assert.ok(Math.abs(p.probability - prediction[p.id]) < 1e-5, `${p.token}: ${p.probability} vs ${prediction[p.id]}`);
  assert.match(formatHover(snap), /classes if the text ended here:/);
  assert.deepEqual(doc.prediction()?.map((p) => p.token), topClasses(prediction, doc.classes, 3).map((p) => p.token));
  doc.dispose();
});

test('a traced mean-readout (and bidirectional) classifier hovers the whole document\'s prediction', async () => {
  for (const [readout, bidirectional] of [['mean', false], ['last', true]] as const) {
    const model = classifier(readout, 'char', bidirectional);
    const { doc, prediction } = traced(model, TEXT.slice(0, 120));
    assert.equal(doc.predicting, 'document');
    const snap = await doc.hoverSnapshot(7, 0, 2, 5);
    assert.equal(snap.predicting, 'document');
    assert.equal(snap.predictions.length, 3);
    assert.ok(prediction);
    const sum = snap.predictions.reduce((s, p) => s + p.probability, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5);
    assert.equal(snap.predictions[0].probability, Math.max(...prediction));
    assert.match(formatHover(snap), /prediction for the whole document:/);
    assert.deepEqual([...doc.predictionProbabilities()!], [...prediction]);
    if (bidirectional) {
      assert.equal(doc.layout.directions, 2);
      const reverse = await doc.window({ layer: 0, direction: 1, tensor: 'gate_z' }, 0, 10); // trace_l0_reverse_gate_z
      assert.equal(reverse.length, 10 * 5);
      assert.ok(reverse.every((v) => v > 0 && v < 1), 'a sigmoid gate of the embedding model\'s reverse direction');
    }
    doc.dispose();
  }
});

test('the trace view\'s prediction message is a message the webview accepts', () => {
  const m = { type: 'tracePrediction', traceId: 't', classes: ['a', 'b'], probabilities: new Float32Array([0.25, 0.75]).buffer };
  assert.equal(isToWebviewMessage(m), true);
});

test('models tree texts: short description, full description and class names as plain text', () => {
  const model = classifier('last', 'word');
  assert.equal(describeModel({ data: model }), 'GRU 1×5 classifier, 3 classes');
  const d = modelDetails({ data: { ...model, labels: ['**bold**', '[x](command:evil)', 'pos'] } });
  assert.match(d.description, /→ GRU 1×5 → last → Linear\(5→3\)$/);
  assert.deepEqual(d.classes, ['**bold**', '[x](command:evil)', 'pos'], 'raw: the tree escapes them with appendText');
  const vocab = buildCharVocab(TEXT);
  const lmConfig = modelConfigFor(vocab, { hiddenSize: 4 });
  const lm = { data: { config: lmConfig, params: new Map(), vocab } };
  assert.equal(describeModel(lm), `LSTM 1×4, vocab ${lmConfig.vocabSize}`);
  assert.equal(modelDetails(lm).classes, undefined);
});

test('a restored classifier dashboard: accuracy series from the checkpoint, task and classes remembered', () => {
  const training: TrainingState = {
    settings: {
      seqLen: 16, batchSize: 4, steps: 4, optimizer: { kind: 'adam', lr: 0.002 }, clip: 5, validationFraction: 0.1,
      evalEvery: 2, evalBatches: 0, shuffle: false, seed: 1, sampleEvery: 0, sampleLength: 50,
    },
    step: 4, window: 0, epoch: 1, rngState: [1], elapsedSeconds: 2,
    lossHistory: [{ step: 1, loss: 1.1, accuracy: 0.25 }, { step: 2, loss: 1 }, { step: 3, loss: 0.9, accuracy: 0.5 }, { step: 4, loss: 0.8, accuracy: 0.75 }],
    validationHistory: [{ step: 2, loss: 1, accuracy: 0.4 }, { step: 4, loss: 0.85, accuracy: 0.6 }],
    data: { sources: ['reviews.csv'], tokens: 100 },
  };
  const run = { runId: 'r', label: 'GRU 1×5 classifier on reviews.csv', status: 'done' as const, totalSteps: 4, task: 'classify' as const, model: 'Embedding(9→4) → GRU 1×5 → last → Linear(5→3)', classes: ['neg', 'pos'] };
  const m = restoredHistory(run, training, []);
  assert.deepEqual([...new Float64Array(m.accuracy!.steps)], [1, 3, 4]);
  assert.deepEqual([...new Float64Array(m.accuracy!.values)], [0.25, 0.5, 0.75]);
  assert.deepEqual([...new Float64Array(m.validationAccuracy!.values)], [0.4, 0.6]);
  assert.equal(m.lastStep?.accuracy, 0.75);
  assert.deepEqual(m.run, { ...run, evalEvery: 2, sampleEvery: 0, clip: 5 }); // the schedule from the checkpoint
  const state = parseViewState('dashboard', JSON.parse(JSON.stringify({ view: 'dashboard', smoothing: 0, logScale: false, run })));
  assert.deepEqual(state, { view: 'dashboard', smoothing: 0, logScale: false, run });
  const bad = parseViewState('dashboard', { view: 'dashboard', run: { ...run, task: 'nope', classes: [1], model: 3 } });
  assert.deepEqual(bad, { view: 'dashboard', smoothing: 0.6, logScale: false, run: { runId: 'r', label: run.label, status: 'done', totalSteps: 4 } });
});
