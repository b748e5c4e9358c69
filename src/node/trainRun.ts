// One training run from files to a model file, shared by the CLI and the worker: loads the text (language
// model) or the labelled examples (classifier), builds or resumes the model, trains on the chosen engine,
// saves a checkpoint at every evaluation, on stop and at the end (atomically), so an interrupted run loses
// at most the steps since the last save. Engine `torch` trains through the user's PyTorch
// (src/node/torchTrainer.ts) inside the same loop, with the same checkpoints and events.
import type { LmEngine } from '../core/engine';
import type { Checkpoint, TrainSettings } from '../core/checkpoint';
import { type ModelConfig, describeModel, taskOf } from '../core/model';
import { type Vocabulary, buildVocabulary, encodeText, vocabularySize } from '../core/data/tokenizer';
import { codePoints } from '../core/data/text';
import { type ModelShape, initialWeights, modelConfigFor } from '../core/train/model';
import { trainSettings } from '../core/train/settings';
import { TrainSession } from '../core/train/session';
import { LabelledSequenceData, TokenStreamData, type TrainingData } from '../core/train/trainingData';
import type { TrainEvent } from '../core/train/events';
import {
  ClassificationDataError, buildClassificationVocabulary, describeEncoding, encodeExamples, labelSet,
} from '../core/data/classification';
import { type ClassificationSourceOptions, readClassificationSource } from './classificationFiles';
import { type EngineChoice, createLmEngine, fastNextTokenScorer, initTfjsBackend } from '../engines/index';
import { type LoadedText, loadTextSources } from './textSources';
import { checkWritable, readModelFile, writeModelFile } from './modelFile';
import { type TorchLaunchOptions, TorchProcess, TorchTrainerError, createTorchLmEngine } from './torchTrainer';

/** The built-in engines, or `torch`: PyTorch in a trainer process (python/gatescope/trainer.py). */
export type TrainEngine = EngineChoice | 'torch';

export interface TrainRequest {
  /** Files or glob patterns; or `text` (e.g. an editor selection) instead. */
  readonly textPaths?: readonly string[];
  readonly text?: string;
  /** Sequence classification: a CSV/TSV/JSONL file or a folder of class folders (then `model.readout` is last/mean/max). */
  readonly classify?: { readonly path: string; readonly options?: ClassificationSourceOptions };
  readonly out: string;
  /** Continue the run saved in `out`. */
  readonly resume?: boolean;
  readonly level?: 'char' | 'word';
  readonly minFreq?: number;
  readonly model?: Partial<ModelShape>;
  /** Settings; with `resume` only `steps` (as additional steps) and the time limit apply. */
  readonly settings?: Partial<TrainSettings>;
  /** Passes over the training text instead of steps. */
  readonly epochs?: number;
  /** Stop (and save) after this much training time. */
  readonly maxSeconds?: number;
  readonly engine?: TrainEngine;
  /** Engine `torch`: the Python (default python3), processes (torch.distributed.run when > 1) and device. */
  readonly torch?: Pick<TorchLaunchOptions, 'python' | 'nproc' | 'device'>;
}

export type TrainRunEvent =
  | {
    readonly kind: 'start'; readonly sources: LoadedText['used']; readonly skipped: LoadedText['skipped'];
    readonly tokens: number; readonly vocabSize: number; readonly parameters: number; readonly engine: string;
    /** The model in one line (e.g. `Embedding(5000→64) → LSTM 1×128 → last → Linear(128→4)`). */
    readonly model: string;
    /** Classifier: examples, class names and what reading and encoding the data did (truncation, skipped files). */
    readonly classification?: { readonly examples: number; readonly classes: readonly string[]; readonly notes: readonly string[] };
    readonly startStep: number; readonly totalSteps: number; readonly resumed: boolean;
    /** False when resuming on an engine that cannot restore the carried BPTT state (it restarts from zeros). */
    readonly exactResume: boolean;
  }
  | TrainEvent
  | { readonly kind: 'saved'; readonly path: string; readonly step: number }
  | { readonly kind: 'done'; readonly reason: 'completed' | 'cancelled' | 'time'; readonly step: number; readonly path: string };

export class TrainInputError extends Error {}

interface Prepared {
  readonly session: TrainSession;
  readonly engine: LmEngine;
  readonly start: Extract<TrainRunEvent, { kind: 'start' }>;
}

/** Everything a run needs before its engine: the model, the data, the settings, what was read. */
interface Loaded {
  readonly ck: Checkpoint | undefined;
  readonly config: ModelConfig;
  readonly settings: TrainSettings;
  readonly startStep: number;
  readonly vocab: Vocabulary;
  readonly data: TrainingData;
  readonly tokenCount: number;
  readonly labels: readonly string[] | undefined;
  readonly used: LoadedText['used'];
  readonly skipped: LoadedText['skipped'];
  readonly classification: Extract<TrainRunEvent, { kind: 'start' }>['classification'];
}

function loadText(req: TrainRequest): LoadedText {
  if (req.text !== undefined) {
    if (!req.text.length) throw new TrainInputError('the given text is empty');
    return { text: req.text, used: [{ path: '<selection>', chars: req.text.length }], skipped: [] };
  }
  return loadTextSources(req.textPaths ?? []);
}

/** Encodes with the saved vocabulary, refusing text with tokens the model cannot represent. */
function encodeForResume(vocab: Vocabulary, text: string, out: string): Int32Array {
  if (vocab.kind === 'char') {
    const known = new Set(vocab.chars);
    const unknown = [...new Set(codePoints(text).filter((c) => !known.has(c) && c !== '\r'))];
    if (unknown.length) {
      const shown = unknown.slice(0, 8).map((c) => JSON.stringify(c)).join(' ');
      throw new TrainInputError(`${out}: vocabulary mismatch: the text has ${unknown.length} character(s) the model does not know (${shown}); ` +
        'train a new model instead of --resume');
    }
  }
  return encodeText(vocab, text);
}

/** A classifier's data: examples read and encoded with the model's (or a new) vocabulary and classes. */
function loadClassification(req: TrainRequest, ck: Checkpoint | undefined, settings: TrainSettings) {
  const { path, options } = req.classify!;
  let source, encoded, vocab: Vocabulary, paddingIdx: number | null;
  try {
    source = readClassificationSource(path, options);
    if (ck) {
      vocab = ck.vocab;
      paddingIdx = ck.config.embedding?.paddingIdx ?? null;
    } else {
      ({ vocab, paddingIdx } = buildClassificationVocabulary(source.examples.map((e) => e.text), req.level ?? 'char', { minFreq: req.minFreq ?? 1 }));
    }
    const labels = ck ? labelSet(source.examples, { names: ck.labels ?? [], source: path }) : labelSet(source.examples, { source: path });
    encoded = encodeExamples(source.examples, vocab, { maxLength: settings.maxLength ?? 400, labels, source: path });
  } catch (e) {
    if (e instanceof ClassificationDataError || e instanceof RangeError) throw new TrainInputError(e.message);
    throw e;
  }
  const data = new LabelledSequenceData({ sequences: encoded.sequences, labels: encoded.labels }, settings);
  return {
    vocab, paddingIdx, data, tokens: encoded.tokens, labels: encoded.labelSet.names,
    used: source.sources.map((f) => ({ path: f.path, chars: f.bytes })),
    skipped: source.skipped.map((f) => ({ path: f.path, reason: f.reason })),
    classification: { examples: encoded.sequences.length, classes: encoded.labelSet.names, notes: [...source.notes, ...describeEncoding(encoded)] },
  };
}

function load(req: TrainRequest): Loaded {
  let ck: Checkpoint | undefined;
  if (req.resume) {
    ck = readModelFile(req.out);
    if (!ck.training) throw new TrainInputError(`${req.out}: has no training state to resume (a model exported without it)`);
  } else {
    checkWritable(req.out);
  }
  const classify = ck ? taskOf(ck.config) === 'classify' : !!req.classify;
  if (ck && classify !== !!req.classify) {
    throw new TrainInputError(`${req.out}: is a ${classify ? 'classifier; give its --data' : 'language model; give its --text'} to resume`);
  }
  let settings = ck ? ck.training!.settings : trainSettings(req.settings);
  const startStep = ck?.training?.step ?? 0;
  if (ck && req.settings?.steps !== undefined) settings = { ...settings, steps: startStep + req.settings.steps };
  let vocab: Vocabulary, data: TrainingData, tokenCount: number, used: LoadedText['used'], skipped: LoadedText['skipped'];
  let labels: readonly string[] | undefined, classification: Extract<TrainRunEvent, { kind: 'start' }>['classification'];
  let paddingIdx: number | null = null;
  if (classify) {
    const c = loadClassification(req, ck, settings);
    ({ vocab, data, labels, used, skipped, classification, paddingIdx } = c);
    tokenCount = c.tokens;
  } else {
    const loaded = loadText(req);
    vocab = ck ? ck.vocab : buildVocabulary(loaded.text, req.level ?? 'char', { minFreq: req.minFreq ?? 1 });
    const tokens = ck ? encodeForResume(vocab, loaded.text, req.out) : encodeText(vocab, loaded.text);
    if (vocab.kind === 'char' && vocabularySize(vocab) < 2) throw new TrainInputError('the text needs at least two distinct characters');
    data = new TokenStreamData(tokens, settings);
    tokenCount = tokens.length;
    used = loaded.used;
    skipped = loaded.skipped;
  }
  if (req.epochs !== undefined) settings = { ...settings, steps: startStep + Math.max(1, Math.round(req.epochs * data.batchesPerEpoch)) };
  let config;
  try {
    config = ck ? ck.config : modelConfigFor(vocab, { ...(classify ? { readout: 'last' } : {}), paddingIdx, ...req.model }, labels?.length);
  } catch (e) {
    throw new TrainInputError((e as Error).message);
  }
  return { ck, config, settings, startStep, vocab, data, tokenCount, labels, used, skipped, classification };
}

/** The engine of the run (a torch engine on `trainer`, launched beforehand), with the run's first weights. */
function createEngine(req: TrainRequest, run: Loaded, trainer: TorchProcess | null): LmEngine {
  const params = run.ck ? run.ck.params : initialWeights(run.config, run.settings.seed);
  if (trainer) return createTorchLmEngine(run.config, { process: trainer, params, seed: run.settings.seed });
  return createLmEngine(run.config, { engine: (req.engine ?? 'auto') as EngineChoice, params });
}

function prepare(run: Loaded, engine: LmEngine): Prepared {
  const { ck, settings, vocab, data, labels, used, skipped, classification } = run;
  let session: TrainSession;
  try {
    session = new TrainSession({
      engine, vocab, data, settings, sources: used.map((s) => s.path), ...(labels ? { labels } : {}), ...(ck ? { resume: ck } : {}),
      scorer: fastNextTokenScorer,
    });
  } catch (e) {
    engine.dispose(); // a torch engine's process ends here, not when this process does
    throw e;
  }
  let parameters = 0;
  for (const t of engine.getParameters().values()) parameters += t.data.length;
  return {
    session, engine,
    start: {
      kind: 'start', sources: used, skipped, tokens: run.tokenCount, vocabSize: vocabularySize(vocab),
      parameters, engine: engine.name, startStep: run.startStep, totalSteps: settings.steps, resumed: !!ck, model: describeModel(run.config),
      exactResume: !ck || !data.stateful || (!!engine.setCarriedState && !!ck.carried),
      ...(classification ? { classification } : {}),
    },
  };
}

/**
 * Trains, yielding progress. `shouldStop` is polled before every step; the loop yields to the event loop
 * between steps so signals and messages get through. Errors (bad input, divergence) are thrown after the
 * last good state has been saved.
 */
export async function* trainToFile(req: TrainRequest, shouldStop: () => boolean = () => false): AsyncGenerator<TrainRunEvent, void> {
  // TensorFlow.js picks its backend asynchronously: its WASM backend, not the slow pure-JS one.
  if (req.engine === 'tfjs') await initTfjsBackend();
  // A torch trainer boots (Python, `import torch`: seconds) while the data loads, and is waited for
  // without blocking the event loop.
  const trainer = req.engine === 'torch' ? TorchProcess.launch(req.torch) : null;
  let prepared: Prepared;
  try {
    const run = load(req);
    if (trainer) await trainer.ready();
    prepared = prepare(run, createEngine(req, run, trainer));
  } catch (e) {
    trainer?.close(0);
    throw e;
  }
  const { session, engine, start } = prepared;
  yield start;
  const t0 = performance.now();
  let reason = 'completed' as 'completed' | 'cancelled' | 'time';
  const stop = (): boolean => {
    if (shouldStop()) { reason = 'cancelled'; return true; }
    if (req.maxSeconds !== undefined && (performance.now() - t0) / 1000 >= req.maxSeconds) { reason = 'time'; return true; }
    return false;
  };
  const save = (): TrainRunEvent => {
    writeModelFile(req.out, session.checkpoint());
    return { kind: 'saved', path: req.out, step: session.step };
  };
  let savedStep = session.step;
  try {
    try {
      const it = session.run(stop);
      for (;;) {
        const r = it.next();
        if (r.done) break;
        yield r.value;
        if (r.value.kind === 'eval') {
          yield save();
          savedStep = session.step;
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (e) {
      // Divergence rolled the session back to its last good state: keep that on disk, then report. A torch
      // trainer that died took its state with it: the file keeps the last save.
      if (session.step !== savedStep && !(e instanceof TorchTrainerError)) save();
      throw e;
    }
    if (reason === 'time') {
      const last = session.finalEvaluation();
      if (last) yield last;
    }
    if (session.step !== savedStep || !req.resume) yield save();
  } finally {
    engine.dispose(); // also when the caller stops iterating early
  }
  yield { kind: 'done', reason, step: session.step, path: req.out };
}
