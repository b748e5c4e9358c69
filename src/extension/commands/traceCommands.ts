// "Trace active document": encode the document with the current model's vocabulary (characters or words),
// prepare it in the worker (states checkpointed every K tokens), open the trace view; a classifier's
// prediction for the document shows there once prepared. Plus unit colouring commands.
import * as vscode from 'vscode';
import type { Gatescope } from '../context';
import { encodeVocabularyDocument } from '../logic/encodeDocument';
import { CancelledError } from '../services/backend';
import { type TraceOptions, TracedDocument } from '../services/traceService';
import type { ModelData } from '../services/backend';
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

export async function traceActiveDocument(g: Gatescope, arg?: unknown): Promise<string | undefined> {
  const document = arg instanceof vscode.Uri ? await vscode.workspace.openTextDocument(arg) : vscode.window.activeTextEditor?.document;
  if (!document) {
    void vscode.window.showWarningMessage('gatescope: open a text document to trace.');
    return undefined;
  }
  const model = await requireTraceableModel(g, 'trace a document');
  if (!model?.data) return undefined;
  const vocab = model.data.vocab;
  const s = readSettings();
  const text = document.getText();
  const enc = encodeVocabularyDocument(vocab, text, s.maxTraceLength);
  if (enc.ids.length === 0) {
    void vscode.window.showWarningMessage('gatescope: the document is empty.');
    return undefined;
  }
  const traceId = `trace-${++traceCounter}`;
  const label = document.uri.scheme === 'untitled' ? document.uri.path : vscode.workspace.asRelativePath(document.uri);
  // Traced before with this model and K: the worker keeps that trace's states up to the first edit (it checks
  // the weights and the tokens itself). The old trace is disposed only once the new one has started (traces.set).
  const earlier = g.traces.get(document.uri.toString());
  const previous = earlier?.modelId === model.id && earlier.checkpointEvery === s.traceCheckpointInterval ? earlier.remote : undefined;
  // The trace is usable as soon as the worker has it: the view and hovers show what the sweep has passed,
  // the notification follows the rest (and cancels it). The command resolves once all is prepared.
  const doc = await Promise.resolve(vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification, cancellable: true,
      title: `gatescope: ${previous ? 're-tracing' : 'tracing'} ${label} (${formatCount(enc.ids.length)} tokens)`,
    },
    async (progress, token) => {
      const remote = await g.backend.prepareTrace(model.data!, enc.ids, s.traceCheckpointInterval, {
        isCancelled: () => token.isCancellationRequested, what: `tracing ${label}`, ...(previous ? { previous } : {}),
      });
      const reused = remote.resumed?.tokens ?? 0;
      if (previous && remote.resumed && reused) {
        const { firstChange } = remote.resumed;
        const where = firstChange < Math.max(enc.ids.length, previous.length) ? `edit at token ${formatCount(firstChange)}` : 'text unchanged';
        g.output.info(`re-traced ${label}: reused the first ${formatCount(reused)} tokens' states (${where})`);
      }
      const traced = new TracedDocument(document.uri.toString(), traceId, label, document.version, text, enc, model.id, model.data!, remote,
        cacheOptions(model.data!, s.traceCheckpointInterval));
      noteEditsSinceSnapshot(traced, document.getText());
      g.traces.set(traced);
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
    g.output.info(`tracing ${label} cancelled`);
    return undefined;
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
  return traceId;
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
