// Optional colouring of a traced document by one unit's activation (chosen in the trace view or with
// "gatescope: Colour text by unit…"). Decoration types are bucketed (a few dozen colours), so a long
// document costs a handful of setDecorations calls, not one type per character.
import * as vscode from 'vscode';
import type { TensorSelector } from '../../protocol/webview';
import { Disposable } from '../lifecycle';
import type { TracedDocument } from '../services/traceService';

const BUCKETS = 16; // per sign
/** How many timesteps around the visible range get coloured (whole 1 MB documents are not). */
const MAX_COLOURED = 20_000;

export interface UnitColouring {
  readonly uri: string;
  readonly selector: TensorSelector;
  readonly unit: number;
}

export class UnitDecorations extends Disposable {
  private readonly positive: vscode.TextEditorDecorationType[] = [];
  private readonly negative: vscode.TextEditorDecorationType[] = [];
  private active: { doc: TracedDocument; colouring: UnitColouring } | undefined;
  private generation = 0;

  constructor() {
    super();
    for (let b = 1; b <= BUCKETS; b++) {
      const alpha = (b / BUCKETS) * 0.6;
      this.positive.push(this.register(vscode.window.createTextEditorDecorationType({ backgroundColor: `rgba(220, 60, 60, ${alpha.toFixed(3)})` })));
      this.negative.push(this.register(vscode.window.createTextEditorDecorationType({ backgroundColor: `rgba(60, 110, 220, ${alpha.toFixed(3)})` })));
    }
    this.register(vscode.window.onDidChangeVisibleTextEditors(() => void this.refresh()));
    this.register(vscode.window.onDidChangeTextEditorVisibleRanges((e) => {
      if (this.active && e.textEditor.document.uri.toString() === this.active.colouring.uri) void this.refresh();
    }));
  }

  get current(): UnitColouring | undefined {
    return this.active?.colouring;
  }

  async show(doc: TracedDocument, selector: TensorSelector, unit: number | null): Promise<void> {
    if (unit === null) {
      this.clear();
      return;
    }
    this.active = { doc, colouring: { uri: doc.key, selector, unit } };
    await this.refresh();
  }

  clear(): void {
    this.active = undefined;
    this.generation++;
    for (const editor of vscode.window.visibleTextEditors) {
      for (const d of [...this.positive, ...this.negative]) editor.setDecorations(d, []);
    }
  }

  private async refresh(): Promise<void> {
    const a = this.active;
    if (!a) return;
    const gen = ++this.generation;
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() !== a.colouring.uri) continue;
      const visible = editor.visibleRanges[0] ?? new vscode.Range(0, 0, 0, 0);
      const first = Math.max(0, a.doc.tokenAt(editor.document.offsetAt(visible.start)));
      const lastTok = a.doc.tokenAt(editor.document.offsetAt(visible.end));
      const last = lastTok < 0 ? a.doc.length : lastTok + 1;
      const margin = Math.max(0, Math.floor((MAX_COLOURED - (last - first)) / 2));
      const start = Math.max(0, first - margin);
      // Text edited since the trace no longer lines up with it: colour only the part before the edit.
      const end = Math.min(a.doc.staleFrom, Math.max(last, start) + margin, start + MAX_COLOURED);
      if (end <= start) continue;
      const values = await a.doc.window(a.colouring.selector, start, end);
      if (gen !== this.generation) return;
      const H = a.doc.layout.hiddenSize;
      let max = 1e-6;
      for (let t = 0; t < end - start; t++) max = Math.max(max, Math.abs(values[t * H + a.colouring.unit]));
      const pos: vscode.Range[][] = this.positive.map(() => []);
      const neg: vscode.Range[][] = this.negative.map(() => []);
      const offsets = a.doc.encoding.offsets; // a word's range without the gap after it (tokenEnd)
      for (let t = start; t < end; t++) {
        const v = values[(t - start) * H + a.colouring.unit] / max;
        const b = Math.min(BUCKETS - 1, Math.floor(Math.abs(v) * BUCKETS));
        if (Math.abs(v) < 0.5 / BUCKETS) continue;
        const range = new vscode.Range(editor.document.positionAt(offsets[t]), editor.document.positionAt(a.doc.tokenEnd(t)));
        (v > 0 ? pos : neg)[b].push(range);
      }
      this.positive.forEach((d, i) => editor.setDecorations(d, pos[i]));
      this.negative.forEach((d, i) => editor.setDecorations(d, neg[i]));
    }
  }
}
