// Hover over any token of a traced document: that timestep's gates, top units and what the model predicts
// there (next tokens, or a classifier's classes). Blocks come from the host cache; a miss asks the worker for one block
// (recomputed forward from the nearest checkpoint), which stays well under the 50 ms budget.
import * as vscode from 'vscode';
import { Emitter, Disposable } from '../lifecycle';
import { formatHover, pastTraceNote } from '../logic/hoverFormat';
import { untrustedMarkdown } from './markdownString';
import type { TraceService } from '../services/traceService';
import { readSettings } from '../settings';

export interface HoverRecord {
  readonly uri: string;
  readonly position: number;
  readonly markdown: string;
  readonly millis: number;
}

export class GateHoverProvider extends Disposable implements vscode.HoverProvider {
  private last: HoverRecord | undefined;
  private readonly onDidHoverEmitter = this.register(new Emitter<HoverRecord>());
  readonly onDidHover = this.onDidHoverEmitter.event;

  constructor(private readonly traces: TraceService) {
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
    if (!markdown) {
      const layer = settings.hoverLayer < 0 ? doc.layout.numLayers - 1 : settings.hoverLayer;
      const snapshot = await doc.hoverSnapshot(t, layer, settings.hoverTopUnits, 5);
      if (token.isCancellationRequested) return undefined;
      markdown = formatHover(snapshot);
    }
    const record: HoverRecord = { uri: document.uri.toString(), position: t, markdown, millis: performance.now() - t0 };
    this.last = record;
    this.onDidHoverEmitter.fire(record);
    const md = untrustedMarkdown(markdown);
    const start = document.positionAt(doc.encoding.offsets[t]);
    const end = document.positionAt(doc.tokenEnd(t));
    return new vscode.Hover(md, new vscode.Range(start, end));
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

