// One training run from text files to a model file, shared by the CLI and the worker: loads the text,
// builds or resumes the model, trains on the chosen engine, saves a checkpoint at every evaluation, on
// stop and at the end (atomically), so an interrupted run loses at most the steps since the last save.
import type { LmEngine } from '../core/engine';
import type { Checkpoint, TrainSettings } from '../core/checkpoint';
import { type Vocabulary, buildVocabulary, encodeText, vocabularySize } from '../core/data/tokenizer';
import { codePoints } from '../core/data/text';
import { type ModelShape, initialWeights, lmConfigFor } from '../core/train/model';
import { trainSettings } from '../core/train/settings';
import { TrainSession } from '../core/train/session';
import { streamLayout } from '../core/data/streams';
import { splitTrainValidation } from '../core/data/split';
import type { TrainEvent } from '../core/train/events';
import { type EngineChoice, createLmEngine, initTfjsBackend } from '../engines/index';
import { type LoadedText, loadTextSources } from './textSources';
import { checkWritable, readModelFile, writeModelFile } from './modelFile';

export interface TrainRequest {
  /** Files or glob patterns; or `text` (e.g. an editor selection) instead. */
  readonly textPaths?: readonly string[];
  readonly text?: string;
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
  readonly engine?: EngineChoice;
}

export type TrainRunEvent =
  | {
    readonly kind: 'start'; readonly sources: LoadedText['used']; readonly skipped: LoadedText['skipped'];
    readonly tokens: number; readonly vocabSize: number; readonly parameters: number; readonly engine: string;
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

function prepare(req: TrainRequest): Prepared {
  const loaded = loadText(req);
  let ck: Checkpoint | undefined;
  if (req.resume) {
    ck = readModelFile(req.out);
    if (!ck.training) throw new TrainInputError(`${req.out}: has no training state to resume (a model exported without it)`);
  } else {
    checkWritable(req.out);
  }
  const vocab = ck ? ck.vocab : buildVocabulary(loaded.text, req.level ?? 'char', { minFreq: req.minFreq ?? 1 });
  const tokens = ck ? encodeForResume(vocab, loaded.text, req.out) : encodeText(vocab, loaded.text);
  if (vocab.kind === 'char' && vocabularySize(vocab) < 2) throw new TrainInputError('the text needs at least two distinct characters');
  const config = ck ? ck.config : lmConfigFor(vocab, req.model);
  let settings = ck ? ck.training!.settings : trainSettings(req.settings);
  const startStep = ck?.training?.step ?? 0;
  if (ck && req.settings?.steps !== undefined) settings = { ...settings, steps: startStep + req.settings.steps };
  if (req.epochs !== undefined) {
    const train = splitTrainValidation(tokens, settings.validationFraction).train;
    const perEpoch = Math.max(1, streamLayout(train.length, settings.batchSize, settings.seqLen).windowsPerEpoch);
    settings = { ...settings, steps: startStep + Math.round(req.epochs * perEpoch) };
  }
  const engine = createLmEngine(config, { engine: req.engine ?? 'auto', params: ck ? ck.params : initialWeights(config, settings.seed) });
  const session = new TrainSession({
    engine, vocab, tokens, settings, sources: loaded.used.map((s) => s.path), ...(ck ? { resume: ck } : {}),
  });
  let parameters = 0;
  for (const t of engine.getParameters().values()) parameters += t.data.length;
  return {
    session, engine,
    start: {
      kind: 'start', sources: loaded.used, skipped: loaded.skipped, tokens: tokens.length, vocabSize: vocabularySize(vocab),
      parameters, engine: engine.name, startStep, totalSteps: settings.steps, resumed: !!ck,
      exactResume: !ck || settings.shuffle || (!!engine.setCarriedState && !!ck.carried),
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
  const { session, engine, start } = prepare(req);
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
    // Divergence rolled the session back to its last good state: keep that on disk, then report.
    if (session.step !== savedStep) save();
    engine.dispose();
    throw e;
  }
  if (reason === 'time') {
    const last = session.finalEvaluation();
    if (last) yield last;
  }
  if (session.step !== savedStep || !req.resume) yield save();
  engine.dispose();
  yield { kind: 'done', reason, step: session.step, path: req.out };
}
