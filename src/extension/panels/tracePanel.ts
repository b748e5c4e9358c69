// The trace panel: heatmaps of one traced document, and a classifier's prediction for it. The webview pulls
// timestep windows; this host side answers from the document's block cache (the worker recomputes missing
// blocks from a checkpoint).
import type * as vscode from 'vscode';
import { exactBuffer, type FromWebviewMessage, type TensorSelector } from '../../protocol/webview';
import { type IDisposable, MutableDisposable, toDisposable } from '../lifecycle';
import type { TracedDocument, TraceService } from '../services/traceService';
import { PanelHost } from './panelHost';
import { readSettings } from '../settings';

/** Where a unit selection or a reveal request goes (the editor side). */
export interface TraceEditorBridge {
  selectUnit(doc: TracedDocument, selector: TensorSelector, unit: number | null): void;
  reveal(doc: TracedDocument, position: number): void;
}

const MAX_WINDOW = 4096;
const MAX_SPAN_SCAN = 200_000;
/** Preparation progress reaches the webview at most this often (the worker reports every slice). */
const PROGRESS_MS = 100;

export class TracePanel extends PanelHost {
  private traceId: string | undefined;
  private readonly progressWatch = this.register(new MutableDisposable<IDisposable>());

  constructor(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, private readonly traces: TraceService, private readonly bridge: TraceEditorBridge) {
    super('trace', panel, extensionUri);
    this.register(traces.onDidChange((doc) => {
      if (doc) this.show(doc);
      else if (this.traceId && !traces.byTraceId(this.traceId)) this.traceId = undefined;
    }));
  }

  get current(): TracedDocument | undefined {
    return this.traceId ? this.traces.byTraceId(this.traceId) : undefined;
  }

  show(doc: TracedDocument): void {
    this.traceId = doc.traceId;
    this.panel.title = `gatescope: Trace ${doc.label}`;
    this.post({ type: 'traceLayout', layout: doc.layout });
    this.postProgress(doc);
    this.postPrediction(doc);
    // While the document prepares, the view learns how far it may scroll into computed blocks.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sub = doc.progress.onDidChange((p) => {
      if (p.state === 'preparing') {
        timer ??= setTimeout(() => { timer = undefined; this.postProgress(doc); }, PROGRESS_MS);
        return;
      }
      clearTimeout(timer);
      timer = undefined;
      this.postProgress(doc);
      this.postPrediction(doc);
    });
    this.progressWatch.value = toDisposable(() => { sub.dispose(); clearTimeout(timer); });
  }

  private postProgress(doc: TracedDocument): void {
    const p = doc.progress.current;
    this.post({ type: 'traceProgress', traceId: doc.traceId, state: p.state, done: p.done, total: p.total, available: p.available });
  }

  /** A classifier's prediction for the whole document, once its trace is prepared. */
  private postPrediction(doc: TracedDocument): void {
    const p = doc.predictionProbabilities();
    if (p) this.post({ type: 'tracePrediction', traceId: doc.traceId, classes: doc.classes, probabilities: exactBuffer(Float32Array.from(p)) });
  }

  revealPosition(position: number, span?: { start: number; end: number }): void {
    this.post({ type: 'reveal', position, ...(span ? { span } : {}) });
    void this.postSaliency(position);
  }

  /** The "depends on" row for the cursor's token: what its prediction depended on (gatescope.saliency.*). */
  private async postSaliency(position: number): Promise<void> {
    const doc = this.current;
    const settings = readSettings();
    if (!doc || !settings.saliencyEnabled || doc.unavailableNote(position)) return;
    const r = await doc.saliency(position, settings.saliencyWindow)?.catch(() => undefined);
    if (!r || this.current !== doc) return;
    this.post({
      type: 'traceSaliency', traceId: doc.traceId, position: r.position, start: r.start, scores: exactBuffer(Float32Array.from(r.scores)),
      ...(r.unsupported ? { unsupported: r.unsupported } : {}),
    });
  }

  protected onReady(): void {
    const doc = this.current ?? this.traces.all.at(-1);
    if (doc) this.show(doc);
  }

  protected async onMessage(m: Exclude<FromWebviewMessage, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'requestWindow': {
        const doc = this.doc(m.traceId);
        const end = Math.min(m.end, m.start + MAX_WINDOW, doc.length);
        const data = await doc.window(m.selector, m.start, end);
        const tokens: string[] = [];
        for (let t = m.start; t < end; t++) tokens.push(doc.tokenLabel(t));
        this.reply({ type: 'window', id: m.id, traceId: m.traceId, selector: m.selector, start: m.start, end, tokens, data: exactBuffer(data) });
        break;
      }
      case 'findSpans': {
        const doc = this.doc(m.traceId);
        const r = await doc.findSpans(m.selector, m.start, Math.min(m.end, doc.length), m.threshold, MAX_SPAN_SCAN);
        this.reply({ type: 'spans', id: m.id, units: r.units, matches: r.matches, scanned: r.scanned });
        break;
      }
      case 'selectUnit':
        this.bridge.selectUnit(this.doc(m.traceId), m.selector, m.unit);
        break;
      case 'revealInEditor':
        this.bridge.reveal(this.doc(m.traceId), m.position);
        break;
      case 'cancelRun':
      case 'webviewError':
      case 'requestRunProbe':
        break;
      default: {
        const never: never = m;
        void never;
      }
    }
  }

  private doc(traceId: string): TracedDocument {
    const doc = this.traces.byTraceId(traceId);
    if (!doc) throw new Error('this trace is gone (the document was traced again or closed); run "gatescope: Trace active document"');
    return doc;
  }
}
