// Diff view: the verdict for a learner (EQUIVALENT / DIFFERENT, which side to change and how, why files
// spelled differently agree, what only one side holds), per-quantity / per-gate relative errors, a heatmap of
// the worst matrix's elementwise difference with its gate blocks marked, and per-epoch trajectories when the
// report has them. The report is core/diff's equivalence report (built by src/extension/logic/diffView.ts):
// left is side A, right side B. A failed comparison arrives as a report with `error`: the previous result goes.
import { Chart, registerables } from 'chart.js';
import type { DiffViewModel, ToWebviewMessage } from '../src/protocol/webview';
import { colour } from './colormap';
import { h, setText } from './dom';
import { byId, cssVar, type HostChannel } from './vscodeApi';
import { type DiffViewState, parseViewState } from '../src/extension/logic/viewState';

Chart.register(...registerables);

/** Shapes that differ give Infinity (null once the report went through the JSON view state). */
const num = (v: number | null): string => (typeof v === 'number' && Number.isFinite(v) ? v.toExponential(3) : 'shapes differ');
const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
const shape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Heatmap cells: large enough to read a small matrix, never more than the box holds for a large one. */
const HEATMAP_WIDTH = 720;
const HEATMAP_HEIGHT = 420;
const MAX_CELL = 40;
/** Room for the gate letters beside (or above) the blocks. */
const LABEL_ROOM = 22;

export class DiffView {
  private chart: Chart | undefined;

  constructor(private readonly host: HostChannel, root: HTMLElement) {
    root.append(
      h('header', { class: 'toolbar' }, h('span', { id: 'diff-title', class: 'title', text: 'No comparison yet — run “gatescope: Compare implementations / weights…”.' })),
      h('p', { id: 'diff-verdict', class: 'verdict', role: 'status', 'aria-live': 'polite' }),
      h('section', { id: 'diff-architecture', class: 'diff-architecture', 'aria-label': 'Architectures', hidden: true }),
      h('section', { id: 'diff-changes', class: 'diff-changes', 'aria-label': 'What to change', hidden: true }),
      h('section', { id: 'diff-why', class: 'diff-why', 'aria-label': 'Why they agree', hidden: true }),
      h('section', { id: 'diff-not-compared', class: 'diff-not-compared', 'aria-label': 'Not compared', hidden: true }),
      h('div', { class: 'diff-table-box' },
        h('table', { id: 'diff-table', class: 'diff-table', 'aria-label': 'Relative error per compared tensor and gate' },
          h('colgroup', {}, h('col', { class: 'c-name' }), h('col', { class: 'c-shape' }), h('col', { class: 'c-num' }), h('col', { class: 'c-num' }), h('col', { class: 'c-ok' })),
          h('thead', {}, h('tr', {}, ...['compared', 'shape', 'max |Δ|', 'relative error', ''].map((c) => h('th', { scope: 'col', text: c })))),
          h('tbody', {}))),
      h('section', { id: 'diff-heatmap-section', 'aria-label': 'Difference heatmap' },
        h('h3', { id: 'diff-heatmap-title', text: 'Elementwise difference' }),
        h('div', { class: 'diff-heatmap-box' }, h('canvas', { id: 'diff-heatmap', role: 'img', 'aria-label': 'Heatmap of the elementwise difference of the worst matrix, gate blocks marked' }))),
      h('details', { id: 'diff-notes-box', class: 'diff-notes-box', hidden: true }, h('summary', { text: 'Notes: how each file was read' }), h('ul', { id: 'diff-notes', class: 'notes', 'aria-label': 'Notes' })),
      h('section', { 'aria-label': 'Per-epoch trajectory', id: 'diff-trajectory', hidden: true }, h('h3', { id: 'diff-trajectory-title' }), h('div', { class: 'chart-box small' }, h('canvas', { id: 'diff-trajectory-chart' }))),
    );
    const saved = parseViewState('diff', host.getState()) as DiffViewState;
    if (saved.report) this.render(saved.report);
  }

  handle(m: ToWebviewMessage): void {
    if (m.type === 'diffReport') this.render(m.report);
  }

  private render(r: DiffViewModel): void {
    const { heatmap: _bytes, trajectory: _series, ...persistable } = r; // state is JSON: no ArrayBuffers
    this.host.setState({ view: 'diff', report: persistable } satisfies DiffViewState);
    const failed = typeof r.error === 'string';
    setText(byId('diff-title'), failed
      ? `${r.title}: A ${r.leftLabel} vs B ${r.rightLabel}`
      : `${r.title}: A ${r.leftLabel} vs B ${r.rightLabel} (relative error ‖a−b‖/‖a‖ ≤ ${r.tolerance.toExponential(0)} counts as equal)`);
    const verdict = byId('diff-verdict');
    setText(verdict, r.verdict);
    verdict.dataset.ok = String(r.ok);
    verdict.dataset.status = r.status ?? (r.ok ? 'equivalent' : 'different');
    this.renderArchitecture(r);
    this.list('diff-changes', 'What to change', (r.changes ?? []).map((c) => ({
      head: `in ${c.label}${c.side === 'B' ? ' (A is the reference)' : ''}:`, items: strings(c.items),
    })));
    this.list('diff-why', r.status === 'different' ? 'What does agree, although spelled differently' : 'Why, although the files differ', [{ items: strings(r.why) }]);
    this.list('diff-not-compared', 'Not compared: only one side holds them (a difference only with strict)', [{ items: strings(r.notCompared) }]);
    const notes = strings(r.notes);
    byId('diff-notes-box').hidden = !notes.length;
    byId('diff-notes').replaceChildren(...notes.map((n) => h('li', { text: n })));
    const body = byId('diff-table').querySelector('tbody')!;
    byId('diff-table').hidden = failed || !r.rows.length;
    body.replaceChildren(...r.rows.map((row) => h('tr', { 'data-ok': String(row.ok), 'data-name': row.name, ...(row.gate ? { class: 'gate-row' } : {}) },
      h('th', { scope: 'row', text: row.name, title: row.derived ? `${row.name}: ${row.derived}` : row.name }),
      h('td', { text: row.shapeB ? `${shape(row.shape)} vs ${shape(row.shapeB)}` : shape(row.shape) }),
      h('td', { class: 'num', text: num(row.maxAbs) }),
      h('td', { class: 'num', text: num(row.relError) }),
      h('td', { text: row.input ? 'input' : row.ok ? '✓' : '✗', 'aria-label': row.input ? 'an input, not compared for the verdict' : row.ok ? 'within tolerance' : 'differs' }))));
    this.drawHeatmap(failed ? undefined : r);
    this.drawTrajectory(failed ? undefined : r);
  }

  private renderArchitecture(r: DiffViewModel): void {
    const section = byId('diff-architecture');
    const a = r.architecture;
    section.hidden = !a;
    if (!a) {
      section.replaceChildren();
      return;
    }
    section.replaceChildren(
      h('h3', { text: 'The architectures differ' }),
      h('dl', {}, h('dt', { text: `A (${r.leftLabel})` }), h('dd', { text: a.a }), h('dt', { text: `B (${r.rightLabel})` }), h('dd', { text: a.b })));
  }

  private list(id: string, title: string, groups: { head?: string; items: string[] }[]): void {
    const section = byId(id);
    const shown = groups.filter((g) => g.items.length);
    section.hidden = !shown.length;
    section.replaceChildren(...(shown.length ? [h('h3', { text: title })] : []), ...shown.flatMap((g) => [
      ...(g.head ? [h('p', { class: 'diff-side', text: g.head })] : []),
      h('ul', {}, ...g.items.map((i) => h('li', { text: i }))),
    ]));
  }

  private drawHeatmap(r: DiffViewModel | undefined): void {
    const canvas = byId<HTMLCanvasElement>('diff-heatmap');
    const hm = r?.heatmap;
    byId('diff-heatmap-section').hidden = !r;
    if (!hm || hm.rows * hm.cols === 0) {
      canvas.width = canvas.height = 0;
      setText(byId('diff-heatmap-title'), 'Elementwise difference: no matrix both files store in the same shape');
      return;
    }
    const data = new Float32Array(hm.data);
    let max = 0;
    for (const v of data) max = Math.max(max, Math.abs(v));
    const gates = hm.gates && hm.gates.length > 1 ? hm.gates : undefined;
    setText(byId('diff-heatmap-title'), `Elementwise difference B − A of ${hm.name} [${hm.rows} × ${hm.cols}]${gates ? `, gate blocks ${gates.join(', ')}` : ''} (blue: B smaller, red: B larger; |Δ| up to ${max.toExponential(2)})`);
    // A readable size: small matrices get big cells (up to MAX_CELL px), large ones down to a pixel each.
    const fit = (n: number, room: number): number => Math.max(1, Math.min(MAX_CELL, Math.floor(room / n)));
    const cw = fit(hm.cols, HEATMAP_WIDTH);
    const ch = fit(hm.rows, HEATMAP_HEIGHT);
    const left = gates && hm.gateAxis === 'rows' ? LABEL_ROOM : 0;
    const top = gates && hm.gateAxis === 'cols' ? LABEL_ROOM : 0;
    canvas.width = left + hm.cols * cw;
    canvas.height = top + hm.rows * ch;
    const ctx = canvas.getContext('2d')!;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const img = ctx.createImageData(hm.cols * cw, hm.rows * ch);
    const cell = new Uint8ClampedArray(4);
    for (let i = 0; i < hm.rows; i++) {
      for (let j = 0; j < hm.cols; j++) {
        colour(data[i * hm.cols + j], { kind: 'diverging', max: max || 1 }, cell, 0);
        for (let y = i * ch; y < (i + 1) * ch; y++) for (let x = j * cw; x < (j + 1) * cw; x++) img.data.set(cell, (y * img.width + x) * 4);
      }
    }
    ctx.putImageData(img, left, top);
    if (gates) this.drawGateBlocks(ctx, gates, hm.gateAxis ?? 'rows', { left, top, width: hm.cols * cw, height: hm.rows * ch });
  }

  /** Lines between the gate blocks, and each block's letter beside it. */
  private drawGateBlocks(ctx: CanvasRenderingContext2D, gates: readonly string[], axis: 'rows' | 'cols', box: { left: number; top: number; width: number; height: number }): void {
    const G = gates.length;
    const fg = cssVar('--vscode-foreground', '#ccc');
    ctx.strokeStyle = fg;
    ctx.fillStyle = fg;
    ctx.lineWidth = 2;
    ctx.font = `${Math.min(14, LABEL_ROOM - 6)}px ${cssVar('--vscode-font-family', 'sans-serif')}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const span = (axis === 'rows' ? box.height : box.width) / G;
    for (let k = 0; k < G; k++) {
      const at = Math.round(k * span);
      ctx.beginPath();
      if (axis === 'rows') {
        if (k) { ctx.moveTo(0, box.top + at); ctx.lineTo(box.left + box.width, box.top + at); }
        ctx.stroke();
        ctx.fillText(gates[k], LABEL_ROOM / 2, box.top + at + span / 2);
      } else {
        if (k) { ctx.moveTo(box.left + at, 0); ctx.lineTo(box.left + at, box.top + box.height); }
        ctx.stroke();
        ctx.fillText(gates[k], box.left + at + span / 2, LABEL_ROOM / 2);
      }
    }
  }

  private drawTrajectory(r: DiffViewModel | undefined): void {
    const section = byId('diff-trajectory');
    const tr = r?.trajectory;
    section.hidden = !tr;
    if (!tr) {
      this.chart?.destroy();
      this.chart = undefined;
      return;
    }
    setText(byId('diff-trajectory-title'), tr.label);
    const fg = cssVar('--vscode-foreground', '#ccc');
    const colours = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2'];
    this.chart?.destroy();
    this.chart = new Chart(byId<HTMLCanvasElement>('diff-trajectory-chart'), {
      type: 'line',
      data: {
        labels: Array.from(new Float64Array(tr.epochs), String),
        datasets: tr.series.map((s, i) => ({ label: s.name, data: Array.from(new Float64Array(s.values)), borderColor: colours[i % 6], backgroundColor: colours[i % 6] })),
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { title: { display: true, text: 'epoch', color: fg }, ticks: { color: fg } }, y: { type: 'logarithmic', ticks: { color: fg } } }, plugins: { legend: { labels: { color: fg } } } },
    });
  }
}
