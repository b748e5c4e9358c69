// Trace view: heatmap of units × timesteps for one tensor (h, c or a gate) of one layer/direction, with
// the text under it (characters or words), and for a sequence classifier its prediction for the document.
// The view pulls fixed blocks of timesteps from the host (which asks the worker), so a million-character
// document scrolls without ever holding the whole trace.
import type {
  SpanMatch, TensorSelector, ToWebviewMessage, TraceLayout, TracePredictionMessage, TraceProgressMessage, WindowResponse,
} from '../src/protocol/webview';
import { parseUnitFilter, parseViewState, sortUnits, type TraceViewState, UNIT_SORTS, type UnitSort } from '../src/extension/logic/viewState';
import { visibleChar } from '../src/extension/logic/tokens';
import { colour, cssColour, scaleFor } from './colormap';
import { h, setText } from './dom';
import { byId, type HostChannel } from './vscodeApi';

const BLOCK = 256;
const MAX_BLOCKS = 256;
const CELL_W = 12;

interface Block {
  readonly tokens: readonly string[];
  readonly data: Float32Array;
}

const selectorKey = (s: TensorSelector): string => `${s.layer}/${s.direction}/${s.tensor}`;

export class TraceView {
  private state: TraceViewState;
  private layout: TraceLayout | undefined;
  /** The worker's preparation of the trace; blocks past `available` are not requested until it grows. */
  private progress: TraceProgressMessage | undefined;
  private readonly blocks = new Map<string, Block>();
  private readonly pending = new Set<string>();
  private order: number[] = [];
  private columns = 80;
  private span: { start: number; end: number } | null = null;
  private dragFrom: number | null = null;
  private onUnits = new Set<number>();
  private frameQueued = false;
  private readonly canvas: HTMLCanvasElement;

  constructor(private readonly host: HostChannel, root: HTMLElement) {
    this.state = parseViewState('trace', host.getState()) as TraceViewState;
    root.append(
      h('header', { class: 'toolbar' },
        h('span', { id: 'trace-title', class: 'title', text: 'No trace yet — run “gatescope: Trace active document”.' }),
        h('span', { id: 'trace-position', class: 'badge', role: 'status', 'aria-live': 'polite' })),
      h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Trace controls' },
        labelled('Layer', h('select', { id: 'layer-select' })),
        labelled('Direction', h('select', { id: 'direction-select' })),
        labelled('Tensor', h('select', { id: 'tensor-select' })),
        labelled('Sort units', h('select', { id: 'unit-sort' }, ...UNIT_SORTS.map((s) => h('option', { value: s, text: s })))),
        labelled('Units', h('input', { id: 'unit-filter', type: 'text', placeholder: 'all, or 3,7,10-20', size: 14 })),
        labelled('Threshold', h('input', { id: 'threshold', type: 'number', step: 0.05, size: 5 })),
        h('button', { id: 'find-spans', type: 'button', disabled: true, title: 'Select a span (drag over the heatmap) first', text: 'Find units on over span' }),
        h('button', { id: 'clear-filter', type: 'button', text: 'All units' })),
      h('div', { id: 'trace-error', class: 'error', role: 'alert' }),
      h('section', { id: 'trace-prediction', 'aria-label': 'Prediction for the document', 'aria-live': 'polite' }),
      h('div', { id: 'heatmap-box', class: 'heatmap-box' },
        h('canvas', { id: 'trace-heatmap', tabindex: 0, role: 'img', 'aria-label': 'Heatmap of units by timesteps. Arrow keys scroll and pick units, Enter colours the text by the unit.' }),
        h('div', { id: 'trace-tooltip', class: 'tooltip', hidden: true })),
      h('div', { id: 'trace-text', class: 'trace-text', 'aria-label': 'Text under the timesteps' }),
      h('input', { id: 'trace-scroll', type: 'range', min: 0, max: 0, value: 0, step: 1, 'aria-label': 'Scroll timesteps' }),
      h('div', { class: 'toolbar' }, h('span', { id: 'selected-unit', text: 'No unit selected (click a heatmap row).' })),
      h('section', { 'aria-label': 'Matching spans' }, h('h3', { text: 'Matching spans' }), h('ol', { id: 'span-results' })),
    );
    this.canvas = byId<HTMLCanvasElement>('trace-heatmap');
    this.wireControls();
    new ResizeObserver(() => this.queueFrame()).observe(byId('heatmap-box'));
  }

  handle(m: ToWebviewMessage): void {
    switch (m.type) {
      case 'traceLayout': {
        const same = this.state.traceId === m.layout.traceId;
        this.layout = m.layout;
        this.progress = undefined;
        this.blocks.clear();
        this.pending.clear();
        this.order = [];
        this.span = null;
        this.onUnits.clear();
        const sel = this.state.selector;
        const selector: TensorSelector = {
          layer: Math.min(sel.layer, m.layout.numLayers - 1),
          direction: sel.direction < m.layout.directions ? sel.direction : 0,
          tensor: m.layout.tensors.includes(sel.tensor) ? sel.tensor : m.layout.tensors[0],
        };
        this.setState({
          ...this.state, traceId: m.layout.traceId, selector,
          position: same ? Math.min(this.state.position, Math.max(0, m.layout.length - 1)) : 0,
          unit: same && this.state.unit !== null && this.state.unit < m.layout.hiddenSize ? this.state.unit : null,
        });
        this.fillSelects();
        const unit = m.layout.tokenLevel === 'word' ? 'words' : 'timesteps';
        const what = m.layout.task === 'classify' ? 'classifier' : 'language model';
        setText(byId('trace-title'), `${m.layout.documentLabel} — ${m.layout.module} ${what}, ${m.layout.numLayers} layer(s) × ${m.layout.hiddenSize} units${m.layout.directions === 2 ? ', bidirectional' : ''}, ${m.layout.length.toLocaleString('en-US')} ${unit}`);
        byId('trace-title').title = m.layout.model ?? '';
        this.showPrediction(undefined);
        this.queueFrame();
        break;
      }
      case 'tracePrediction':
        if (this.layout && m.traceId === this.layout.traceId) this.showPrediction(m);
        break;
      case 'traceProgress':
        if (!this.layout || m.traceId !== this.layout.traceId) break;
        this.progress = m;
        if (this.layout.task === 'classify' && m.state !== 'ready' && !byId('trace-prediction').dataset.classes) this.showPrediction(undefined);
        setText(byId('trace-error'), m.state === 'cancelled' ? 'Tracing was cancelled; run “gatescope: Trace active document” again.'
          : m.state === 'failed' ? 'Tracing failed (see the gatescope output).' : '');
        this.queueFrame();
        break;
      case 'window':
        this.accept(m);
        break;
      case 'reveal':
        if (m.span) {
          this.span = m.span;
          (byId('find-spans') as HTMLButtonElement).disabled = false;
          this.queueFrame();
        }
        this.scrollTo((m.span?.start ?? m.position) - Math.floor(this.columns / 4));
        break;
      default:
        break;
    }
  }

  /**
   * A classifier's class probabilities for the whole document as bars, most likely first; before they arrive,
   * what the view is waiting for. Empty for a language model.
   */
  private showPrediction(m: TracePredictionMessage | undefined): void {
    const box = byId('trace-prediction');
    delete box.dataset.classes;
    if (!this.layout || this.layout.task !== 'classify') {
      box.replaceChildren();
      return;
    }
    if (!m) {
      const p = this.progress;
      const note = p && (p.state === 'cancelled' || p.state === 'failed') ? `none (tracing ${p.state})` : 'computed once the whole document is traced…';
      box.replaceChildren(h('h3', { text: 'Prediction for the whole document' }), h('p', { class: 'note', text: note }));
      return;
    }
    const probs = new Float32Array(m.probabilities);
    const order = Array.from(probs, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    box.dataset.classes = String(m.classes.length);
    box.dataset.top = m.classes[order[0]] ?? '';
    box.replaceChildren(
      h('h3', { text: 'Prediction for the whole document' }),
      h('ol', { class: 'prediction-bars' }, ...order.map((k, rank) => {
        const bar = h('span', { class: 'prediction-bar' });
        bar.style.display = 'inline-block';
        bar.style.height = '0.8em';
        bar.style.width = `${Math.max(0.5, 100 * probs[k]) * 2}px`;
        bar.style.background = rank === 0 ? 'var(--vscode-charts-blue, #4e79a7)' : 'var(--vscode-charts-foreground, #888)';
        bar.style.marginRight = '6px';
        return h('li', { class: 'prediction', 'data-class': m.classes[k] ?? String(k), 'data-probability': probs[k] },
          bar, h('span', { class: 'prediction-label', text: `${m.classes[k] ?? `class ${k}`} ${(100 * probs[k]).toFixed(1)}%` }));
      })),
    );
  }

  // ------------------------------------------------------------------ state and controls

  private setState(s: TraceViewState): void {
    this.state = s;
    this.host.setState(s);
  }

  private wireControls(): void {
    const change = (id: string, f: (v: string) => void): void => byId<HTMLInputElement>(id).addEventListener('change', (e) => f((e.target as HTMLInputElement).value));
    const setSelector = (patch: Partial<TensorSelector>): void => {
      this.setState({ ...this.state, selector: { ...this.state.selector, ...patch } });
      this.order = [];
      this.onUnits.clear();
      this.sendSelectedUnit();
      this.queueFrame();
    };
    change('layer-select', (v) => setSelector({ layer: Number(v) }));
    change('direction-select', (v) => setSelector({ direction: v === '1' ? 1 : 0 }));
    change('tensor-select', (v) => setSelector({ tensor: v }));
    change('unit-sort', (v) => {
      this.setState({ ...this.state, sort: v as UnitSort });
      this.order = [];
      this.queueFrame();
    });
    const filter = byId<HTMLInputElement>('unit-filter');
    filter.value = this.state.filter;
    filter.addEventListener('input', () => {
      this.setState({ ...this.state, filter: filter.value });
      this.queueFrame();
    });
    const threshold = byId<HTMLInputElement>('threshold');
    threshold.value = String(this.state.threshold);
    change('threshold', (v) => {
      const t = Number(v);
      if (Number.isFinite(t)) this.setState({ ...this.state, threshold: t });
    });
    (byId('unit-sort') as HTMLSelectElement).value = this.state.sort;
    byId('clear-filter').addEventListener('click', () => {
      filter.value = '';
      this.onUnits.clear();
      this.setState({ ...this.state, filter: '' });
      this.queueFrame();
    });
    byId('find-spans').addEventListener('click', () => void this.findSpans());
    const scroll = byId<HTMLInputElement>('trace-scroll');
    scroll.addEventListener('input', () => this.scrollTo(Number(scroll.value)));
    this.canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const d = Math.abs(e.deltaX) > Math.abs(e.deltaY) ? e.deltaX : e.deltaY;
      this.scrollTo(this.state.position + Math.sign(d) * Math.max(1, Math.round(Math.abs(d) / CELL_W)));
    }, { passive: false });
    this.canvas.addEventListener('keydown', (e) => this.onKey(e));
    this.canvas.addEventListener('mousedown', (e) => {
      this.dragFrom = this.cellAt(e).t;
    });
    this.canvas.addEventListener('mouseup', (e) => {
      const { t, unit } = this.cellAt(e);
      const from = this.dragFrom;
      this.dragFrom = null;
      if (from === null || t < 0) return;
      if (from !== t) {
        this.span = { start: Math.min(from, t), end: Math.max(from, t) + 1 };
        (byId('find-spans') as HTMLButtonElement).disabled = false;
      } else if (unit !== null) {
        this.selectUnit(this.state.unit === unit ? null : unit);
      }
      this.queueFrame();
    });
    this.canvas.addEventListener('mousemove', (e) => this.showTooltip(e));
    this.canvas.addEventListener('mouseleave', () => { byId('trace-tooltip').hidden = true; });
    byId('trace-text').addEventListener('click', (e) => {
      const t = Number((e.target as HTMLElement).dataset.t);
      if (this.layout && Number.isInteger(t)) this.host.post({ type: 'revealInEditor', traceId: this.layout.traceId, position: t });
    });
  }

  private fillSelects(): void {
    const l = this.layout!;
    const opts = (id: string, values: [string, string][], current: string): void => {
      const sel = byId<HTMLSelectElement>(id);
      sel.replaceChildren(...values.map(([v, label]) => h('option', { value: v, text: label })));
      sel.value = current;
    };
    opts('layer-select', Array.from({ length: l.numLayers }, (_, i) => [String(i), `layer ${i}`]), String(this.state.selector.layer));
    opts('direction-select', l.directions === 2 ? [['0', 'forward'], ['1', 'reverse']] : [['0', 'forward']], String(this.state.selector.direction));
    opts('tensor-select', l.tensors.map((t) => [t, t.replace('gate_', 'gate ')]), this.state.selector.tensor);
  }

  private selectUnit(unit: number | null): void {
    this.setState({ ...this.state, unit });
    this.sendSelectedUnit();
    this.queueFrame();
  }

  private sendSelectedUnit(): void {
    if (this.layout) this.host.post({ type: 'selectUnit', traceId: this.layout.traceId, selector: this.state.selector, unit: this.state.unit });
    setText(byId('selected-unit'), this.state.unit === null ? 'No unit selected (click a heatmap row).'
      : `Unit ${this.state.unit} of ${this.state.selector.tensor}, layer ${this.state.selector.layer}: the text and the editor are coloured by it.`);
  }

  private onKey(e: KeyboardEvent): void {
    const rows = this.visibleUnits();
    const row = this.state.unit === null ? -1 : rows.indexOf(this.state.unit);
    switch (e.key) {
      case 'ArrowLeft': this.scrollTo(this.state.position - (e.shiftKey ? this.columns : 1)); break;
      case 'ArrowRight': this.scrollTo(this.state.position + (e.shiftKey ? this.columns : 1)); break;
      case 'PageUp': this.scrollTo(this.state.position - this.columns); break;
      case 'PageDown': this.scrollTo(this.state.position + this.columns); break;
      case 'Home': this.scrollTo(0); break;
      case 'End': this.scrollTo(Number.MAX_SAFE_INTEGER); break;
      case 'ArrowUp': if (rows.length) this.selectUnit(rows[Math.max(0, row - 1)]); break;
      case 'ArrowDown': if (rows.length) this.selectUnit(rows[Math.min(rows.length - 1, row + 1)]); break;
      case 'Escape': this.selectUnit(null); break;
      default: return;
    }
    e.preventDefault();
  }

  private scrollTo(position: number): void {
    if (!this.layout) return;
    const max = Math.max(0, this.layout.length - this.columns);
    const p = Math.max(0, Math.min(max, Math.round(position)));
    if (p !== this.state.position) {
      this.setState({ ...this.state, position: p });
      this.queueFrame();
    }
  }

  // ------------------------------------------------------------------ data

  private blockKey(block: number): string {
    return `${selectorKey(this.state.selector)}#${block}`;
  }

  /** Cached blocks for [start, end); requests the missing ones. Returns null while any is missing. */
  private ensure(start: number, end: number): Block[] | null {
    const l = this.layout!;
    const out: Block[] = [];
    let complete = true;
    for (let b = Math.floor(start / BLOCK); b * BLOCK < end && b * BLOCK < l.length; b++) {
      const key = this.blockKey(b);
      const hit = this.blocks.get(key);
      if (hit) {
        this.blocks.delete(key);
        this.blocks.set(key, hit);
        out.push(hit);
        continue;
      }
      complete = false;
      if (this.pending.has(key) || !this.computable(b * BLOCK)) continue;
      this.pending.add(key);
      const selector = this.state.selector;
      const traceId = l.traceId;
      this.host.request<WindowResponse>((id) => ({ type: 'requestWindow', id, traceId, selector, start: b * BLOCK, end: Math.min(l.length, (b + 1) * BLOCK) }))
        .then((m) => this.accept(m), (err: Error) => {
          this.pending.delete(key);
          setText(byId('trace-error'), err.message);
        });
    }
    return complete ? out : null;
  }

  /** Whether the block starting at t can be asked for (its part of the document is prepared). */
  private computable(t: number): boolean {
    const p = this.progress;
    return !p || p.state === 'ready' || (p.state === 'preparing' && t < p.available);
  }

  /** " — preparing… 42%" while the worker sweeps the document. */
  private preparingNote(): string {
    const p = this.progress;
    if (!p || p.state !== 'preparing') return '';
    return ` — preparing… ${p.total > 0 ? Math.floor((100 * p.done) / p.total) : 0}%`;
  }

  private accept(m: WindowResponse): void {
    if (!this.layout || m.traceId !== this.layout.traceId) return;
    const key = `${selectorKey(m.selector)}#${Math.floor(m.start / BLOCK)}`;
    this.pending.delete(key);
    this.blocks.set(key, { tokens: m.tokens, data: new Float32Array(m.data) });
    while (this.blocks.size > MAX_BLOCKS) this.blocks.delete(this.blocks.keys().next().value as string);
    setText(byId('trace-error'), '');
    this.queueFrame();
  }

  /** Float32 [t1 - t0, H] of the current selector and tokens, or null while loading. */
  private slice(t0: number, t1: number): { data: Float32Array; tokens: string[] } | null {
    const l = this.layout!;
    const blocks = this.ensure(t0, t1);
    // Prefetch the neighbours so scrolling a screen either way finds them loaded.
    this.ensure(Math.max(0, t0 - this.columns), t0);
    this.ensure(t1, Math.min(l.length, t1 + this.columns));
    if (!blocks) return null;
    const H = l.hiddenSize;
    const data = new Float32Array((t1 - t0) * H);
    const tokens: string[] = [];
    const first = Math.floor(t0 / BLOCK);
    for (let t = t0; t < t1; t++) {
      const b = blocks[Math.floor(t / BLOCK) - first];
      const r = t - Math.floor(t / BLOCK) * BLOCK;
      data.set(b.data.subarray(r * H, (r + 1) * H), (t - t0) * H);
      tokens.push(b.tokens[r]);
    }
    return { data, tokens };
  }

  private visibleUnits(): number[] {
    const H = this.layout?.hiddenSize ?? 0;
    let filter: Set<number> | null = null;
    try {
      filter = parseUnitFilter(this.state.filter, H);
      byId('unit-filter').removeAttribute('aria-invalid');
    } catch {
      byId('unit-filter').setAttribute('aria-invalid', 'true');
    }
    const order = this.order.length === H ? this.order : Array.from({ length: H }, (_, i) => i);
    return order.filter((u) => (filter ? filter.has(u) : true) && (this.onUnits.size === 0 || this.onUnits.has(u)));
  }

  private async findSpans(): Promise<void> {
    if (!this.layout || !this.span) return;
    const { start, end } = this.span;
    const results = byId('span-results');
    results.replaceChildren(h('li', { text: 'Searching…' }));
    try {
      const r = await this.host.request<Extract<ToWebviewMessage, { type: 'spans' }>>((id) => ({
        type: 'findSpans', id, traceId: this.layout!.traceId, selector: this.state.selector, start, end, threshold: this.state.threshold,
      }));
      this.onUnits = new Set(r.units);
      this.queueFrame();
      results.replaceChildren(
        h('li', { class: 'summary', text: `${r.units.length} unit(s) above ${this.state.threshold} over ${start}..${end}: ${r.units.join(', ') || 'none'}; ${r.matches.length} matching span(s) in the first ${r.scanned.toLocaleString('en-US')} timesteps.` }),
        ...r.matches.map((m: SpanMatch) => {
          const li = h('li', {}, h('button', { type: 'button', class: 'link', 'data-start': m.start, text: `${m.start}..${m.end}` }), ' ', h('code', { text: m.text.replace(/\n/g, '⏎') }));
          li.querySelector('button')!.addEventListener('click', () => {
            this.scrollTo(m.start - 4);
            this.host.post({ type: 'revealInEditor', traceId: this.layout!.traceId, position: m.start });
          });
          return li;
        }));
    } catch (err) {
      results.replaceChildren(h('li', { class: 'error', text: (err as Error).message }));
    }
  }

  // ------------------------------------------------------------------ drawing

  private queueFrame(): void {
    if (this.frameQueued) return;
    this.frameQueued = true;
    requestAnimationFrame(() => {
      this.frameQueued = false;
      this.draw();
    });
  }

  private rowHeight(rows: number): number {
    return Math.max(2, Math.min(14, Math.floor(420 / Math.max(1, rows))));
  }

  private cellAt(e: MouseEvent): { t: number; unit: number | null } {
    const rect = this.canvas.getBoundingClientRect();
    const col = Math.floor((e.clientX - rect.left) / CELL_W);
    const rows = this.visibleUnits();
    const row = Math.floor((e.clientY - rect.top) / this.rowHeight(rows.length));
    const t = this.state.position + col;
    return { t: this.layout && t < this.layout.length ? t : -1, unit: rows[row] ?? null };
  }

  private showTooltip(e: MouseEvent): void {
    const tip = byId('trace-tooltip');
    const { t, unit } = this.cellAt(e);
    if (t < 0 || unit === null || !this.layout) {
      tip.hidden = true;
      return;
    }
    const s = this.slice(t, t + 1);
    if (!s) return;
    const v = s.data[unit];
    tip.textContent = `t ${t} '${this.layout.tokenLevel === 'word' ? s.tokens[0] : visibleChar(s.tokens[0])}' · unit ${unit} · ${this.state.selector.tensor} = ${v.toFixed(4)}`;
    tip.style.left = `${e.offsetX + 12}px`;
    tip.style.top = `${e.offsetY + 12}px`;
    tip.hidden = false;
  }

  private draw(): void {
    const l = this.layout;
    if (!l) return;
    const box = byId('heatmap-box');
    this.columns = Math.max(8, Math.floor(box.clientWidth / CELL_W));
    const scroll = byId<HTMLInputElement>('trace-scroll');
    scroll.max = String(Math.max(0, l.length - this.columns));
    scroll.value = String(this.state.position);
    const t0 = this.state.position;
    const t1 = Math.min(l.length, t0 + this.columns);
    setText(byId('trace-position'), `t ${t0.toLocaleString('en-US')}–${t1.toLocaleString('en-US')} of ${l.length.toLocaleString('en-US')}${this.preparingNote()}`);
    const s = this.slice(t0, t1);
    if (!s) {
      // Redrawn when the blocks arrive (or, past the prepared part, when the preparation gets there).
      if (!this.computable(Math.floor((t1 - 1) / BLOCK) * BLOCK)) setText(byId('trace-position'), `t ${t0.toLocaleString('en-US')}: not prepared yet${this.preparingNote()}`);
      return;
    }
    const H = l.hiddenSize;
    if (this.order.length !== H) this.order = sortUnits(s.data, H, this.state.sort);
    const rows = this.visibleUnits();
    const rh = this.rowHeight(rows.length);
    const width = this.columns * CELL_W;
    const height = Math.max(rh, rows.length * rh);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const ctx = this.canvas.getContext('2d')!;
    let maxAbs = 0;
    for (let i = 0; i < s.data.length; i++) maxAbs = Math.max(maxAbs, Math.abs(s.data[i]));
    const scale = scaleFor(this.state.selector.tensor, maxAbs);
    const img = ctx.createImageData(width, height);
    const px = img.data;
    const cols = t1 - t0;
    const cell = new Uint8ClampedArray(4);
    rows.forEach((u, r) => {
      for (let c = 0; c < cols; c++) {
        colour(s.data[c * H + u], scale, cell, 0);
        for (let y = r * rh; y < (r + 1) * rh; y++) {
          let at = (y * width + c * CELL_W) * 4;
          for (let x = 0; x < CELL_W; x++, at += 4) px.set(cell, at);
        }
      }
    });
    ctx.putImageData(img, 0, 0);
    if (this.span) {
      const a = Math.max(t0, this.span.start) - t0;
      const b = Math.min(t1, this.span.end) - t0;
      if (b > a) {
        ctx.strokeStyle = '#ffcc00';
        ctx.lineWidth = 2;
        ctx.strokeRect(a * CELL_W + 1, 1, (b - a) * CELL_W - 2, height - 2);
      }
    }
    const selRow = this.state.unit === null ? -1 : rows.indexOf(this.state.unit);
    if (selRow >= 0) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1;
      ctx.strokeRect(0.5, selRow * rh + 0.5, width - 1, rh - 1);
    }
    this.drawText(s, H, scale);
  }

  private drawText(s: { data: Float32Array; tokens: string[] }, H: number, scale: ReturnType<typeof scaleFor>): void {
    const unit = this.state.unit;
    const t0 = this.state.position;
    const box = byId('trace-text');
    const words = this.layout?.tokenLevel === 'word';
    const spans = s.tokens.map((tok, c) => {
      // A word gets its cell like a character does: its first letters show, all of it in the tooltip.
      const el = h('span', { 'data-t': t0 + c, title: words ? `t ${t0 + c}: ${tok}` : `t ${t0 + c}`, text: words ? tok : visibleChar(tok) });
      el.style.width = `${CELL_W}px`;
      if (words) {
        el.style.overflow = 'hidden';
        el.style.textAlign = 'left';
      }
      if (unit !== null) el.style.background = cssColour(s.data[c * H + unit], scale);
      return el;
    });
    box.replaceChildren(...spans);
  }
}

function labelled(text: string, control: HTMLElement): HTMLElement {
  return h('label', { class: 'control' }, `${text} `, control);
}
