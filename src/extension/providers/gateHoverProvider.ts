// Hover over any token of a traced document: that timestep's gates, top units and what the model predicts
// there (next tokens, or a classifier's classes). Blocks come from the host cache; a miss asks the worker for one block
// (recomputed forward from the nearest checkpoint), which stays well under the 50 ms budget.
import * as vscode from 'vscode';
import { Emitter, Disposable } from '../lifecycle';
import { formatHover, pastTraceNote } from '../logic/hoverFormat';
import { untrustedMarkdown } from './markdownString';
import type { TraceService, TracedDocument } from '../services/traceService';
import { readSettings } from '../settings';
import type { SaliencyDecorations } from './saliencyDecorations';
import { formatDependsOn, formatSaliencyUnsupported, topContributions } from '../logic/saliency';

/** How long a hover waits for the "depends on" line; later, only the editor highlight comes. */
const SALIENCY_WAIT_MS = 1500;

export interface HoverRecord {
  readonly uri: string;
  readonly position: number;
  readonly markdown: string;
  readonly millis: number;
  /** The saliency request: its round trip and the worker's compute time (ms), the positions it covered. */
  readonly saliency?: { readonly millis: number; readonly computeMs: number; readonly positions: number; readonly unsupported?: string };
}

export class GateHoverProvider extends Disposable implements vscode.HoverProvider {
  private last: HoverRecord | undefined;
  private readonly onDidHoverEmitter = this.register(new Emitter<HoverRecord>());
  readonly onDidHover = this.onDidHoverEmitter.event;

  /** Hovers provided so far: only the latest one's saliency is drawn. */
  private hovers = 0;

  constructor(private readonly traces: TraceService, private readonly highlight?: SaliencyDecorations) {
    super();
  }

  get lastHover(): HoverRecord | undefined {
    return this.last;
  }

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const settings = readSettings();
    if (!settings.hoverEnabled) return undefined;
    const doc = this.traces.get(document.uri.toString());
    if (!doc) return undefined;
    const t0 = performance.now();
    const hover = ++this.hovers;
    this.highlight?.clear();
    const offset = document.offsetAt(position);
    const t = doc.tokenAt(offset);
    if (t < 0) {
      // Past the traced part (a long document is traced up to gatescope.maxTraceLength tokens): say so.
      if (doc.length === 0 || offset < doc.encoding.offsets[doc.length]) return undefined;
      const markdown = pastTraceNote(doc.length, doc.layout.tokenLevel ?? 'char');
      this.last = { uri: document.uri.toString(), position: doc.length, markdown, millis: performance.now() - t0 };
      this.onDidHoverEmitter.fire(this.last);
      const word = document.getWordRangeAtPosition(position) ?? new vscode.Range(position, position);
      return new vscode.Hover(untrustedMarkdown(markdown), word);
    }
    // Answer at once where there is nothing exact to show: edited text, or a part not prepared yet.
    let markdown = doc.unavailableNote(t);
    let saliency: HoverRecord['saliency'];
    if (!markdown) {
      const top = doc.layout.numLayers - 1;
      const layer = settings.hoverLayer === 0 ? top : Math.min(settings.hoverLayer - 1, top);
      // Asked first (the worker answers in order); the hover waits for it a while, the highlight comes anyway.
      const dependsOn = settings.saliencyEnabled ? this.dependsOn(doc, t, settings.saliencyWindow, hover) : undefined;
      const snapshot = await doc.hoverSnapshot(t, layer, settings.hoverTopUnits, 5);
      if (token.isCancellationRequested) return undefined;
      const answer = dependsOn && await Promise.race([dependsOn, new Promise<undefined>((r) => setTimeout(() => r(undefined), SALIENCY_WAIT_MS))]);
      if (token.isCancellationRequested) return undefined;
      saliency = answer?.record;
      markdown = formatHover({ ...snapshot, ...(answer ? { dependsOn: answer.line } : {}) });
    }
    const record: HoverRecord = { uri: document.uri.toString(), position: t, markdown, millis: performance.now() - t0, ...(saliency ? { saliency } : {}) };
    this.last = record;
    this.onDidHoverEmitter.fire(record);
    const md = untrustedMarkdown(markdown);
    const start = document.positionAt(doc.encoding.offsets[t]);
    const end = document.positionAt(doc.tokenEnd(t));
    return new vscode.Hover(md, new vscode.Range(start, end));
  }

  /** The "depends on" line for token t, and the editor highlight (drawn if this is still the latest hover). */
  private async dependsOn(doc: TracedDocument, t: number, window: number, hover: number): Promise<{ line: string; record: NonNullable<HoverRecord['saliency']> } | undefined> {
    const request = doc.saliency(t, window);
    if (!request) return undefined;
    const t0 = performance.now();
    try {
      const r = await request;
      const millis = performance.now() - t0;
      if (r.unsupported) return { line: formatSaliencyUnsupported(r.unsupported), record: { millis, computeMs: r.computeMs, positions: 0, unsupported: r.unsupported } };
      if (hover === this.hovers) this.highlight?.show(doc, r);
      const top = topContributions(r.scores, r.start, r.position, 5);
      return { line: formatDependsOn(top, (p) => doc.tokenLabel(p), r.scores.length, r.objective), record: { millis, computeMs: r.computeMs, positions: r.scores.length } };
    } catch (e) {
      return { line: formatSaliencyUnsupported(`unavailable (${e instanceof Error ? e.message : String(e)})`), record: { millis: performance.now() - t0, computeMs: 0, positions: 0, unsupported: String(e) } };
    }
  }

  /** The hover for a document position without the editor UI (used by the test-state export). */
  async hoverAt(document: vscode.TextDocument, offset: number): Promise<HoverRecord | undefined> {
    const source = new vscode.CancellationTokenSource();
    try {
      await this.provideHover(document, document.positionAt(offset), source.token);
      return this.last;
    } finally {
      source.dispose();
    }
  }
}

