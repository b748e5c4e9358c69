// "Trace active document": encode the document with the current model's vocabulary (characters or words),
// prepare it in the worker (states checkpointed every K tokens), open the trace view; a classifier's
// prediction for the document shows there once prepared. An edited trace is traced again quietly once typing
// pauses (retraceEdited). Plus unit colouring commands.
import * as vscode from 'vscode';
import type { Gatescope } from '../context';
import { encodeVocabularyDocument } from '../logic/encodeDocument';
import { CancelledError, type ModelData, type RemoteTrace } from '../services/backend';
import { isTraceable, type TraceableModel } from '../services/modelStore';
import { type TraceOptions, TracedDocument } from '../services/traceService';
import { isWorkerCrash } from '../services/workerBackend';
import { directions, GATES } from '../../core/config';
import { readSettings } from '../settings';
import { noteEditsSinceSnapshot } from '../providers/traceEdits';
import { requireTraceableModel } from './modelCommands';
import { formatCount } from '../logic/formatCount';

let traceCounter = 0;

/** Host cache of trace blocks: one block per checkpoint interval (a miss recomputes exactly one). */
const CACHE_BYTES = 96 * 1024 * 1024;

function cacheOptions(model: ModelData, K: number): TraceOptions {
  const r = model.config.rnn;
  const tensors = 1 + (r.module === 'LSTM' ? 1 : 0) + GATES[r.module].length;
  const bytesPerBlock = K * r.hiddenSize * tensors * r.numLayers * directions(r) * (r.dtype === 'float64' ? 8 : 4);
  return { blockSize: K, checkpointEvery: K, cacheBlocks: Math.max(8, Math.floor(CACHE_BYTES / bytesPerBlock)) };
}

/** What a trace is started from: the document, its model, the encoded text and the earlier trace to resume. */
interface TraceStart {
  readonly document: vscode.TextDocument;
  readonly model: TraceableModel;
  readonly text: string;
  readonly enc: ReturnType<typeof encodeVocabularyDocument>;
  readonly label: string;
  readonly checkpointEvery: number;
  /** Traced before with this model and K: the worker keeps that trace's states up to the first edit (it checks the weights and tokens itself). */
  readonly previous: RemoteTrace | undefined;
}

function traceStart(g: Gatescope, document: vscode.TextDocument, model: TraceableModel): TraceStart {
  const s = readSettings();
  const text = document.getText();
  const earlier = g.traces.get(document.uri.toString());
  return {
    document, model, text, enc: encodeVocabularyDocument(model.data.vocab, text, s.maxTraceLength), checkpointEvery: s.traceCheckpointInterval,
    label: document.uri.scheme === 'untitled' ? document.uri.path : vscode.workspace.asRelativePath(document.uri),
    previous: earlier?.modelId === model.id && earlier.checkpointEvery === s.traceCheckpointInterval ? earlier.remote : undefined,
  };
}

/**
 * Starts the trace in the worker and makes it the document's (the old one is disposed only now, once the worker
 * has taken what it reuses from it); resolves as soon as it is usable, its preparation still running.
 */
async function startTrace(g: Gatescope, t: TraceStart, isCancelled?: () => boolean): Promise<TracedDocument> {
  const { document, model, enc, label, previous } = t;
  const remote = await g.backend.prepareTrace(model.data, enc.ids, t.checkpointEvery, {
    what: `tracing ${label}`, ...(isCancelled ? { isCancelled } : {}), ...(previous ? { previous } : {}),
  });
  const reused = remote.resumed?.tokens ?? 0;
  if (previous && remote.resumed && reused) {
    const { firstChange } = remote.resumed;
    const where = firstChange < Math.max(enc.ids.length, previous.length) ? `edit at token ${formatCount(firstChange)}` : 'text unchanged';
    g.output.info(`re-traced ${label}: reused the first ${formatCount(reused)} tokens' states (${where})`);
  }
  const traced = new TracedDocument(document.uri.toString(), `trace-${++traceCounter}`, label, document.version, t.text, enc, model.id, model.data, remote,
    cacheOptions(model.data, t.checkpointEvery));
  noteEditsSinceSnapshot(traced, document.getText());
  g.traces.set(traced);
  return traced;
}

/**
 * A traced document edited and then left alone for a moment (gatescope.trace.followEdits): traced again with the
 * same model, quietly (the status bar shows it; no view is revealed, nothing pops up). Only the part from the
 * first edit is prepared again.
 */
export async function retraceEdited(g: Gatescope, key: string): Promise<void> {
  const earlier = g.traces.get(key);
  const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
  const model = earlier && g.models.get(earlier.modelId);
  if (!earlier || !document || !isTraceable(model) || document.getText() === earlier.text) return;
  const t = traceStart(g, document, model);
  if (!t.enc.ids.length) return;
  try {
    const traced = await startTrace(g, t);
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `gatescope: re-tracing ${t.label}` },
      () => traced.progress.finished.catch(() => undefined)); // a newer edit's trace cancels this one: fine
  } catch (err) {
    if (!isWorkerCrash(err)) g.output.warn(`re-tracing ${t.label} after an edit failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function traceActiveDocument(g: Gatescope, arg?: unknown): Promise<string | undefined> {
  const document = arg instanceof vscode.Uri ? await vscode.workspace.openTextDocument(arg) : vscode.window.activeTextEditor?.document;
  if (!document) {
    void vscode.window.showWarningMessage('gatescope: open a text document to trace.');
    return undefined;
  }
  const model = await requireTraceableModel(g, 'trace a document');
  if (!model) return undefined;
  const vocab = model.data.vocab;
  const s = readSettings();
  const t = traceStart(g, document, model);
  const { text, enc, label, previous } = t;
  if (enc.ids.length === 0) {
    void vscode.window.showWarningMessage('gatescope: the document is empty.');
    return undefined;
  }
  // The trace is usable as soon as the worker has it: the view and hovers show what the sweep has passed,
  // the notification follows the rest (and cancels it). The command resolves once all is prepared.
  const doc = await Promise.resolve(vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification, cancellable: true,
      title: `gatescope: ${previous ? 're-tracing' : 'tracing'} ${label} (${formatCount(enc.ids.length)} tokens)`,
    },
    async (progress, token) => {
      const traced = await startTrace(g, t, () => token.isCancellationRequested);
      const reused = traced.remote.resumed?.tokens ?? 0;
      g.panels.showTrace().show(traced);
      let reported = 0;
      const watch = traced.progress.onDidChange((p) => {
        const pct = 100 * traced.progress.fraction;
        if (pct - reported >= 1) {
          const note = reused ? `, the first ${formatCount(reused)} reused` : '';
          progress.report({ increment: pct - reported, message: `${Math.floor(pct)}% (${formatCount(p.available)} tokens viewable${note})` });
          reported = pct;
        }
      });
      try {
        await traced.progress.finished;
        return traced;
      } catch (err) {
        if (g.traces.get(traced.key) === traced) g.traces.remove(traced.key);
        throw err;
      } finally {
        watch.dispose();
      }
    })).catch((err: unknown) => {
    if (err instanceof CancelledError) return undefined;
    throw err;
  });
  if (!doc) {
    // Cancelled, or taken over by the re-trace of an edit made meanwhile (retraceEdited).
    const takenOver = g.traces.get(document.uri.toString());
    g.output.info(takenOver ? `tracing ${label}: continued by the re-trace after an edit` : `tracing ${label} cancelled`);
    return takenOver?.traceId;
  }
  const notes: string[] = [];
  const words = vocab.kind === 'word';
  if (enc.unknown) {
    notes.push(words ? `${enc.unknown} word(s) not in the model's vocabulary were read as <unk>`
      : `${enc.unknown} character(s) not in the model's vocabulary were traced as a fallback character`);
  }
  if (doc.length < enc.ids.length) notes.push(`only the first ${doc.length} tokens were traced (bidirectional models are traced in one piece)`);
  if (enc.ids.length >= s.maxTraceLength && enc.offsets[enc.ids.length] < text.length) {
    notes.push(`traced the first ${formatCount(enc.ids.length)} tokens (gatescope.maxTraceLength)`);
  }
  const top = doc.prediction(1)?.[0];
  const verdict = top ? `; predicted ${JSON.stringify(top.token)} (${(100 * top.probability).toFixed(1)}%)` : '';
  g.output.info(`traced ${label} with ${model.label}: ${doc.length} timesteps${verdict}${notes.length ? `; ${notes.join('; ')}` : ''}`);
  if (notes.length) void vscode.window.showInformationMessage(`gatescope: ${notes.join('; ')}.`);
  return doc.traceId;
}

export async function colourByUnit(g: Gatescope, args?: unknown): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const doc = editor && g.traces.get(editor.document.uri.toString());
  if (!doc) {
    void vscode.window.showWarningMessage('gatescope: trace this document first ("gatescope: Trace active document").');
    return;
  }
  const o = args && typeof args === 'object' ? args as { unit?: number; layer?: number; tensor?: string } : {};
  let unit = o.unit;
  if (unit === undefined) {
    const v = await vscode.window.showInputBox({
      title: `Colour text by unit (0..${doc.layout.hiddenSize - 1})`,
      validateInput: (x) => (/^\d+$/.test(x) && Number(x) < doc.layout.hiddenSize ? undefined : `a unit id from 0 to ${doc.layout.hiddenSize - 1}`),
    });
    if (v === undefined) return;
    unit = Number(v);
  }
  const selector = { layer: o.layer ?? doc.layout.numLayers - 1, direction: 0 as const, tensor: o.tensor ?? (doc.layout.tensors.includes('c') ? 'c' : 'h') };
  await g.decorations.show(doc, selector, unit);
}
