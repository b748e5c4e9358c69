// The editor highlight of "what did this prediction depend on": the earlier tokens of the hovered one's window
// get a background whose strength follows their score (one decoration type per intensity bucket, colours
// gatescope.saliency1..4 contributed per theme). Cleared when another hover replaces it, the cursor or the
// editor changes, the document is edited, or after a while (VS Code does not say when a hover closes).
import * as vscode from 'vscode';
import { Disposable } from '../lifecycle';
import { SALIENCY_BUCKETS, bucketPositions } from '../logic/saliency';
import type { TracedDocument } from '../services/traceService';
import type { SaliencyResult } from '../services/backend';

/** The highlight goes away this long after it was drawn (a hover usually closes before). */
export const SALIENCY_HIGHLIGHT_MS = 15_000;

export interface SaliencyHighlight {
  readonly uri: string;
  readonly position: number;
  /** Highlighted tokens per bucket (index 0 unused). */
  readonly counts: readonly number[];
}

export class SaliencyDecorations extends Disposable {
  private readonly types: vscode.TextEditorDecorationType[];
  private shown: SaliencyHighlight | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Ignore the selection change the hover's own cursor placement may cause for this long after drawing. */
  private drawnAt = 0;

  constructor() {
    super();
    this.types = Array.from({ length: SALIENCY_BUCKETS }, (_, i) => this.register(vscode.window.createTextEditorDecorationType({
      backgroundColor: new vscode.ThemeColor(`gatescope.saliency${i + 1}`),
      borderRadius: '2px',
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    })));
    this.register(vscode.workspace.onDidChangeTextDocument((e) => { if (e.document.uri.toString() === this.shown?.uri) this.clear(); }));
    this.register(vscode.window.onDidChangeActiveTextEditor(() => this.clear()));
    this.register(vscode.window.onDidChangeTextEditorSelection((e) => {
      if (e.textEditor.document.uri.toString() === this.shown?.uri && performance.now() - this.drawnAt > 500) this.clear();
    }));
    this.register({ dispose: () => clearTimeout(this.timer) });
  }

  /** What is highlighted now (the test-state export and the e2e read it). */
  get current(): SaliencyHighlight | undefined {
    return this.shown;
  }

  /** Highlights the tokens the prediction at `result.position` of `doc` depended on, replacing any highlight. */
  show(doc: TracedDocument, result: SaliencyResult): void {
    this.clear();
    if (result.unsupported || !result.scores.length) return;
    const editors = vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === doc.key);
    if (!editors.length) return;
    const buckets = bucketPositions(result.scores, result.start);
    for (const editor of editors) {
      const at = (t: number): vscode.Range => new vscode.Range(editor.document.positionAt(doc.encoding.offsets[t]), editor.document.positionAt(doc.tokenEnd(t)));
      this.types.forEach((type, i) => editor.setDecorations(type, buckets[i + 1].filter((t) => t < doc.length).map(at)));
    }
    this.shown = { uri: doc.key, position: result.position, counts: buckets.map((b) => b.length) };
    this.drawnAt = performance.now();
    this.timer = setTimeout(() => this.clear(), SALIENCY_HIGHLIGHT_MS);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.shown) return;
    const uri = this.shown.uri;
    this.shown = undefined;
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() === uri) for (const type of this.types) editor.setDecorations(type, []);
    }
  }
}
