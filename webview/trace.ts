// Trace view: heatmap of units × timesteps for one tensor (h, c or a gate) of one layer/direction, with
// the text under it (characters or words), and for a sequence classifier its prediction for the document.
// The view pulls fixed blocks of timesteps from the host (which asks the worker), so a million-character
// document scrolls without ever holding the whole trace.
import type {
  SpanMatch, TensorSelector, ToWebviewMessage, TraceLayout, TracePredictionMessage, TraceProgressMessage, WindowResponse,
} from '../src/protocol/webview';
import { COLOUR_SCALES, type ColourScale, parseUnitFilter, parseViewState, sortUnits, type TraceViewState, UNIT_SORTS, type UnitSort } from '../src/extension/logic/viewState';
import { visibleChar } from '../src/extension/logic/tokens';
import { colour, cssColour, type Scale, scaleFor } from './colormap';
import { h, setText } from './dom';
import { byId, cssVar, type HostChannel } from './vscodeApi';

const BLOCK = 256;
const MAX_BLOCKS = 256;
const CELL_W = 12;
/** The unit-id axis left of the heatmap and the time axis above it (pixels). */
const GUTTER_W = 40;
const AXIS_H = 16;
/** A time tick every this many timesteps (12 px cells: 120 px apart). */
const TICK_EVERY = 10;

const COLOUR_SCALE_LABELS: Record<ColourScale, string> = {
  trace: 'one scale for the trace',
  unit: 'per unit',
  window: 'visible window',
};

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
  /** Per selector, each unit's largest |value| in the blocks loaded so far (grows only: colours stay put while scrolling). */
  private readonly maxAbs = new Map<string, Float32Array>();
  private frameQueued = false;
  private readonly canvas: HTMLCanvasElement;
  /** What the prediction at the editor's cursor depended on (the "depends on" row). */
  private saliency: { readonly position: number; readonly start: number; readonly scores: Float32Array; readonly unsupported?: string } | undefined;

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
        labelled('Colour scale of c', h('select', { id: 'colour-scale', title: 'How the cell state c (unbounded) is coloured; h and gates have fixed ranges' },
          ...COLOUR_SCALES.map((v) => h('option', { value: v, text: COLOUR_SCALE_LABELS[v] })))),
        h('button', { id: 'find-spans', type: 'button', disabled: true, title: 'Select a span (drag over the heatmap) first', text: 'Find units active over a span' }),
        h('button', { id: 'clear-filter', type: 'button', text: 'All units' })),
      h('div', { id: 'trace-error', class: 'error', role: 'alert' }),
      h('section', { id: 'trace-prediction', 'aria-label': 'Prediction for the document', 'aria-live': 'polite' }),
      h('div', { id: 'heatmap-box', class: 'heatmap-box' },
        h('canvas', { id: 'trace-heatmap', tabindex: 0, role: 'img', 'aria-label': 'Heatmap of units (rows) by timesteps (columns). Left and right arrows scroll, up and down pick a unit, Enter colours the text and the editor by the picked unit, Escape clears it.' }),
        h('div', { id: 'trace-tooltip', class: 'tooltip', hidden: true })),
      h('div', { id: 'trace-text', class: 'trace-text', 'aria-label': 'Text under the timesteps' }),
      h('div', { id: 'trace-depends', class: 'trace-text', 'aria-label': 'What the prediction at the cursor depended on' }),
      h('p', { id: 'trace-depends-caption', class: 'note' }),
      h('div', { id: 'colour-bar', class: 'colour-bar', 'aria-label': 'Colour scale' },
        h('span', { id: 'colour-bar-min', class: 'colour-bar-label' }),
        h('canvas', { id: 'colour-bar-canvas', width: 160, height: 10 }),
        h('span', { id: 'colour-bar-max', class: 'colour-bar-label' }),
        h('span', { id: 'colour-bar-caption', class: 'note' })),
      h('input', { id: 'trace-scroll', type: 'range', min: 0, max: 0, value: 0, step: 1, 'aria-label': 'Scroll timesteps' }),
      h('div', { class: 'toolbar' }, h('span', { id: 'selected-unit', text: 'No unit selected (click a heatmap row).' })),
      h('section', { 'aria-label': 'Matching spans' }, h('h3', { text: 'Matching spans' }),
        h('p', { id: 'span-summary', class: 'note', text: 'Drag over the heatmap to select a span, then “Find units active over a span”.' }),
        h('ol', { id: 'span-results' })),
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
        this.maxAbs.clear();
        this.saliency = undefined;
        // Results of a span search belong to the trace they were found in.
        byId('span-results').replaceChildren();
        setText(byId('span-summary'), 'Drag over the heatmap to select a span, then “Find units active over a span”.');
        (byId('find-spans') as HTMLButtonElement).disabled = true;
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
        setText(byId('trace-title'), `${m.layout.documentLabel} — ${m.layout.module} ${what}, ${m.layout.numLayers} ${m.layout.numLayers === 1 ? 'layer' : 'layers'} × ${m.layout.hiddenSize} units${m.layout.directions === 2 ? ', bidirectional' : ''}, ${m.layout.length.toLocaleString('en-US')} ${unit}`);
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
      case 'traceSaliency':
        if (!this.layout || m.traceId !== this.layout.traceId) break;
        this.saliency = { position: m.position, start: m.start, scores: new Float32Array(m.scores), ...(m.unsupported ? { unsupported: m.unsupported } : {}) };
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
    (byId('colour-scale') as HTMLSelectElement).value = this.state.colourScale ?? 'trace';
    change('colour-scale', (v) => {
      this.setState({ ...this.state, colourScale: v as ColourScale });
      this.queueFrame();
    });
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
    byId('trace-depends').addEventListener('click', (e) => {
      const t = Number((e.target as HTMLElement).dataset.t);
      if (this.layout && Number.isInteger(t)) this.host.post({ type: 'revealInEditor', traceId: this.layout.traceId, position: t });
    });
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
    opts('layer-select', Array.from({ length: l.numLayers }, (_, i) => [String(i), `layer ${i + 1}`]), String(this.state.selector.layer));
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
      : `Unit ${this.state.unit} of ${this.state.selector.tensor.replace('gate_', 'gate ')}, layer ${this.state.selector.layer + 1}${this.state.selector.direction === 1 ? ' reverse' : ''}: the text and the editor are coloured by it.`);
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
      case 'Enter':
      case ' ':
        // What the label promises: colour the text (and the editor) by the picked unit — the first row when none is.
        if (rows.length) this.selectUnit(this.state.unit ?? rows[0]);
        if (this.layout) this.host.post({ type: 'revealInEditor', traceId: this.layout.traceId, position: this.state.position });
        break;
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
    const data = new Float32Array(m.data);
    this.blocks.set(key, { tokens: m.tokens, data });
    const H = this.layout.hiddenSize;
    const sk = selectorKey(m.selector);
    const max = this.maxAbs.get(sk) ?? new Float32Array(H);
    for (let i = 0; i < data.length; i++) {
      const v = Math.abs(data[i]);
      if (v > max[i % H]) max[i % H] = v;
    }
    this.maxAbs.set(sk, max);
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
    const traceId = this.layout.traceId;
    const results = byId('span-results');
    const summary = byId('span-summary');
    results.replaceChildren();
    setText(summary, 'Searching…');
    try {
      const r = await this.host.request<Extract<ToWebviewMessage, { type: 'spans' }>>((id) => ({
        type: 'findSpans', id, traceId, selector: this.state.selector, start, end, threshold: this.state.threshold,
      }));
      if (this.layout?.traceId !== traceId) return; // traced again meanwhile: these results are stale
      this.onUnits = new Set(r.units);
      this.queueFrame();
      setText(summary, `${r.units.length} ${r.units.length === 1 ? 'unit' : 'units'} above ${this.state.threshold} over t ${start}..${end}: ${r.units.join(', ') || 'none'}; ${r.matches.length} matching ${r.matches.length === 1 ? 'span' : 'spans'} in the first ${r.scanned.toLocaleString('en-US')} timesteps.`);
      const visible = (text: string): string => text.replace(/\n/g, '⏎');
      results.replaceChildren(...r.matches.map((m: SpanMatch) => {
        const li = h('li', {}, h('button', { type: 'button', class: 'link', 'data-start': m.start, text: `t ${m.start}..${m.end}` }), ' ',
          h('code', {}, ...(m.before ? [h('span', { class: 'context', text: visible(m.before) })] : []), h('mark', { text: visible(m.text) }),
            ...(m.after ? [h('span', { class: 'context', text: visible(m.after) })] : [])));
        li.querySelector('button')!.addEventListener('click', () => {
          this.scrollTo(m.start - 4);
          this.host.post({ type: 'revealInEditor', traceId, position: m.start });
        });
        return li;
      }));
    } catch (err) {
      setText(summary, (err as Error).message);
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
    const x = e.clientX - rect.left - GUTTER_W;
    const y = e.clientY - rect.top - AXIS_H;
    const col = Math.floor(x / CELL_W);
    const rows = this.visibleUnits();
    const row = y < 0 ? -1 : Math.floor(y / this.rowHeight(rows.length));
    const t = this.state.position + col;
    return { t: this.layout && x >= 0 && t < this.layout.length ? t : -1, unit: rows[row] ?? null };
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
    tip.textContent = `t ${t} '${this.layout.tokenLevel === 'word' ? s.tokens[0] : visibleChar(s.tokens[0])}' · unit ${unit} · ${this.state.selector.tensor.replace('gate_', 'gate ')} = ${v.toFixed(4)}`;
    tip.style.left = `${e.offsetX + 12}px`;
    tip.style.top = `${e.offsetY + 12}px`;
    tip.hidden = false;
  }

  /** How values of the current tensor are coloured: unit u's scale (c per the colour-scale option, fixed ranges otherwise). */
  private scales(window: Float32Array): (u: number) => Scale {
    const tensor = this.state.selector.tensor;
    const mode = this.state.colourScale ?? 'trace';
    const seen = this.maxAbs.get(selectorKey(this.state.selector));
    if (tensor !== 'c' || mode === 'window' || !seen) {
      let maxAbs = 0;
      for (let i = 0; i < window.length; i++) maxAbs = Math.max(maxAbs, Math.abs(window[i]));
      const one = scaleFor(tensor, maxAbs);
      return () => one;
    }
    if (mode === 'unit') return (u) => scaleFor(tensor, seen[u]);
    const one = scaleFor(tensor, seen.reduce((a, b) => Math.max(a, b), 0));
    return () => one;
  }

  private draw(): void {
    const l = this.layout;
    if (!l) return;
    const box = byId('heatmap-box');
    this.columns = Math.max(8, Math.floor((box.clientWidth - GUTTER_W) / CELL_W));
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
    const width = GUTTER_W + this.columns * CELL_W;
    const height = AXIS_H + Math.max(rh, rows.length * rh);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const ctx = this.canvas.getContext('2d')!;
    ctx.clearRect(0, 0, width, height);
    const scaleOf = this.scales(s.data);
    const cols = t1 - t0;
    const mapW = this.columns * CELL_W;
    const mapH = height - AXIS_H;
    const img = ctx.createImageData(mapW, mapH);
    const px = img.data;
    const cell = new Uint8ClampedArray(4);
    rows.forEach((u, r) => {
      const scale = scaleOf(u);
      for (let c = 0; c < cols; c++) {
        colour(s.data[c * H + u], scale, cell, 0);
        for (let y = r * rh; y < (r + 1) * rh; y++) {
          let at = (y * mapW + c * CELL_W) * 4;
          for (let x = 0; x < CELL_W; x++, at += 4) px.set(cell, at);
        }
      }
    });
    ctx.putImageData(img, GUTTER_W, AXIS_H);
    this.drawAxes(ctx, rows, rh, t0, t1);
    if (this.span) {
      const a = Math.max(t0, this.span.start) - t0;
      const b = Math.min(t1, this.span.end) - t0;
      if (b > a) {
        ctx.strokeStyle = cssVar('--vscode-charts-yellow', '#cca700');
        ctx.lineWidth = 2;
        ctx.strokeRect(GUTTER_W + a * CELL_W + 1, AXIS_H + 1, (b - a) * CELL_W - 2, mapH - 2);
      }
    }
    const selRow = this.state.unit === null ? -1 : rows.indexOf(this.state.unit);
    if (selRow >= 0) {
      // The theme's focus colour, two pixels, with a contrasting inner line: visible on light and dark themes and on any cell colour.
      ctx.lineWidth = 2;
      ctx.strokeStyle = cssVar('--vscode-focusBorder', '#0078d4');
      ctx.strokeRect(GUTTER_W + 1, AXIS_H + selRow * rh + 1, mapW - 2, Math.max(2, rh - 2));
      ctx.lineWidth = 1;
      ctx.strokeStyle = cssVar('--vscode-editor-background', '#ffffff');
      if (rh >= 6) ctx.strokeRect(GUTTER_W + 2.5, AXIS_H + selRow * rh + 2.5, mapW - 5, rh - 5);
    }
    this.canvas.dataset.selectedRow = String(selRow);
    this.drawColourBar(scaleOf(this.state.unit ?? rows[0] ?? 0));
    this.drawText(s, H, scaleOf);
    this.drawDepends(t0, t1);
  }

  /**
   * The "depends on" row under the text: each visible earlier token's share of the gradient of the prediction at
   * the cursor (opacity by the square root of its score relative to the largest, as the editor's highlight).
   */
  private drawDepends(t0: number, t1: number): void {
    const box = byId('trace-depends');
    const caption = byId('trace-depends-caption');
    box.style.paddingLeft = `${GUTTER_W}px`;
    const s = this.saliency;
    if (!s || s.unsupported) {
      box.replaceChildren();
      delete box.dataset.position;
      setText(caption, s ? `Depends on: not shown: ${s.unsupported!.replace(/^cannot attribute a prediction to earlier tokens: /, '')}.`
        : 'Depends on: place the cursor in the traced document to see what the prediction there depended on.');
      return;
    }
    let max = 0, sum = 0, best = -1;
    s.scores.forEach((v, i) => {
      if (!(v > 0)) return;
      sum += v;
      if (v > max) { max = v; best = s.start + i; }
    });
    let shown = 0;
    const cells: HTMLElement[] = [];
    for (let t = t0; t < t1; t++) {
      const i = t - s.start;
      const v = i >= 0 && i < s.scores.length ? s.scores[i] : 0;
      const el = h('span', { 'data-t': t, text: '\u00a0', title: v > 0 ? `t ${t}: ${((100 * v) / sum).toFixed(1)}% of the gradient for the prediction at t ${s.position}` : `t ${t}` });
      el.style.width = `${CELL_W}px`;
      if (v > 0 && max > 0) {
        el.style.background = 'var(--vscode-gatescope-saliency4, rgba(224, 120, 15, 0.6))';
        el.style.opacity = String(Math.max(0.08, Math.sqrt(v / max)));
        shown++;
      }
      if (t === s.position) el.style.outline = `1px solid ${cssVar('--vscode-focusBorder', '#0078d4')}`;
      cells.push(el);
    }
    box.replaceChildren(...cells);
    box.dataset.position = String(s.position);
    box.dataset.cells = String(shown);
    setText(caption, `Depends on: how strongly each of the ${s.scores.length} tokens up to t ${s.position.toLocaleString('en-US')} influenced the prediction there (‖∂ log p / ∂ input‖); the strongest is t ${best.toLocaleString('en-US')}${s.position >= t0 && s.position < t1 ? '' : ' (scroll to t to see the row)'}.`);
  }

  /** Unit ids left of the rows, timestep ticks above the columns, in the theme's foreground colour. */
  private drawAxes(ctx: CanvasRenderingContext2D, rows: readonly number[], rh: number, t0: number, t1: number): void {
    const fg = cssVar('--vscode-descriptionForeground', cssVar('--vscode-foreground', '#888'));
    const font = cssVar('--vscode-editor-font-family', 'monospace');
    ctx.fillStyle = fg;
    ctx.strokeStyle = fg;
    ctx.font = `10px ${font}`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const every = Math.max(1, Math.ceil(11 / rh)); // a label every row when rows are at least 11 px tall
    rows.forEach((u, r) => {
      if (r % every === 0 || u === this.state.unit) ctx.fillText(String(u), GUTTER_W - 4, AXIS_H + r * rh + rh / 2);
    });
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    ctx.lineWidth = 1;
    for (let t = Math.ceil(t0 / TICK_EVERY) * TICK_EVERY; t < t1; t += TICK_EVERY) {
      const x = GUTTER_W + (t - t0) * CELL_W + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H - 4);
      ctx.lineTo(x, AXIS_H);
      ctx.stroke();
      ctx.fillText(t.toLocaleString('en-US'), x + 2, AXIS_H - 5);
    }
    ctx.textAlign = 'right';
    ctx.fillText('unit', GUTTER_W - 4, AXIS_H - 5);
  }

  /** The colour bar under the heatmap: the range of the colours and what sets it. */
  private drawColourBar(scale: Scale): void {
    const canvas = byId<HTMLCanvasElement>('colour-bar-canvas');
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(canvas.width, canvas.height);
    const lo = scale.kind === 'sequential' ? 0 : -scale.max;
    const hi = scale.kind === 'sequential' ? 1 : scale.max;
    const px = new Uint8ClampedArray(4);
    for (let x = 0; x < canvas.width; x++) {
      colour(lo + ((hi - lo) * x) / (canvas.width - 1), scale, px, 0);
      for (let y = 0; y < canvas.height; y++) img.data.set(px, (y * canvas.width + x) * 4);
    }
    ctx.putImageData(img, 0, 0);
    const fmt = (v: number): string => (v < 0 ? `−${Math.abs(v).toPrecision(2)}` : v.toPrecision(2).replace(/\.0+$/, ''));
    setText(byId('colour-bar-min'), scale.kind === 'sequential' ? '0' : fmt(lo));
    setText(byId('colour-bar-max'), scale.kind === 'sequential' ? '1' : `+${fmt(hi)}`);
    const tensor = this.state.selector.tensor;
    const mode = this.state.colourScale ?? 'trace';
    const how = tensor !== 'c' ? (scale.kind === 'sequential' ? 'a sigmoid gate lives in [0, 1]' : 'tanh lives in [−1, 1]')
      : mode === 'window' ? 'largest |c| in the visible window'
        : mode === 'unit' ? `largest |c| of ${this.state.unit === null ? 'each unit' : `unit ${this.state.unit}`} in the trace loaded so far`
          : 'largest |c| in the trace loaded so far';
    setText(byId('colour-bar-caption'), `${tensor.replace('gate_', 'gate ')}: ${how}`);
    byId('colour-bar').dataset.max = String(hi);
  }

  private drawText(s: { data: Float32Array; tokens: string[] }, H: number, scaleOf: (u: number) => Scale): void {
    const unit = this.state.unit;
    const t0 = this.state.position;
    const box = byId('trace-text');
    box.style.paddingLeft = `${GUTTER_W}px`;
    const words = this.layout?.tokenLevel === 'word';
    const scale = unit === null ? undefined : scaleOf(unit);
    const spans = s.tokens.map((tok, c) => {
      // A word gets its cell like a character does: its first letters show, all of it in the tooltip.
      const el = h('span', { 'data-t': t0 + c, title: words ? `t ${t0 + c}: ${tok}` : `t ${t0 + c}`, text: words ? tok : visibleChar(tok) });
      el.style.width = `${CELL_W}px`;
      if (words) {
        el.style.overflow = 'hidden';
        el.style.textAlign = 'left';
      }
      if (unit !== null && scale) el.style.background = cssColour(s.data[c * H + unit], scale);
      return el;
    });
    box.replaceChildren(...spans);
  }
}

function labelled(text: string, control: HTMLElement): HTMLElement {
  return h('label', { class: 'control' }, `${text} `, control);
}
