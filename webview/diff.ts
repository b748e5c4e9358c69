// Diff view: the verdict in words, per-tensor / per-gate relative errors, a heatmap of the worst
// tensor's elementwise difference, and per-epoch trajectories when the report has them. The report is
// core/diff's (built by src/extension/logic/diffView.ts): left is side A, right side B.
import { Chart, registerables } from 'chart.js';
import type { DiffViewModel, ToWebviewMessage } from '../src/protocol/webview';
import { colour } from './colormap';
import { h, setText } from './dom';
import { byId, cssVar, type HostChannel } from './vscodeApi';
import { type DiffViewState, parseViewState } from '../src/extension/logic/viewState';

Chart.register(...registerables);

/** Shapes that differ give Infinity (null once the report went through the JSON view state). */
const num = (v: number | null): string => (typeof v === 'number' && Number.isFinite(v) ? v.toExponential(3) : 'shapes differ');

export class DiffView {
  private chart: Chart | undefined;

  constructor(private readonly host: HostChannel, root: HTMLElement) {
    root.append(
      h('header', { class: 'toolbar' }, h('span', { id: 'diff-title', class: 'title', text: 'No comparison yet — run “gatescope: Compare implementations / weights…”.' })),
      h('p', { id: 'diff-verdict', class: 'verdict', role: 'status', 'aria-live': 'polite' }),
      h('ul', { id: 'diff-notes', class: 'notes', 'aria-label': 'Notes' }),
      h('table', { id: 'diff-table', class: 'diff-table', 'aria-label': 'Relative error per tensor and gate' },
        h('thead', {}, h('tr', {}, ...['tensor', 'shape', 'max |Δ|', 'relative error', ''].map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', {})),
      h('section', { 'aria-label': 'Difference heatmap' }, h('h3', { id: 'diff-heatmap-title', text: 'Elementwise difference' }), h('canvas', { id: 'diff-heatmap', role: 'img', 'aria-label': 'Heatmap of the elementwise difference of the worst tensor' })),
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
    setText(byId('diff-title'), `${r.title}: A ${r.leftLabel} vs B ${r.rightLabel} (relative error ‖a−b‖/‖a‖ ≤ ${r.tolerance.toExponential(0)} counts as equal)`);
    const verdict = byId('diff-verdict');
    setText(verdict, r.verdict);
    verdict.dataset.ok = String(r.ok);
    byId('diff-notes').replaceChildren(...(r.notes ?? []).map((n) => h('li', { text: n })));
    const body = byId('diff-table').querySelector('tbody')!;
    body.replaceChildren(...r.rows.map((row) => h('tr', { 'data-ok': String(row.ok), 'data-name': row.name },
      h('th', { scope: 'row', text: row.name }),
      h('td', { text: `[${row.shape.join(', ')}]` }),
      h('td', { class: 'num', text: num(row.maxAbs) }),
      h('td', { class: 'num', text: num(row.relError) }),
      h('td', { text: row.ok ? '✓' : '✗', 'aria-label': row.ok ? 'within tolerance' : 'differs' }))));
    this.drawHeatmap(r);
    this.drawTrajectory(r);
  }

  private drawHeatmap(r: DiffViewModel): void {
    const canvas = byId<HTMLCanvasElement>('diff-heatmap');
    const hm = r.heatmap;
    if (!hm || hm.rows * hm.cols === 0) {
      canvas.width = canvas.height = 0;
      setText(byId('diff-heatmap-title'), 'Elementwise difference: none to show');
      return;
    }
    setText(byId('diff-heatmap-title'), `Elementwise difference of ${hm.name} [${hm.rows} × ${hm.cols}] (blue: right smaller, red: right larger)`);
    const data = new Float32Array(hm.data);
    const cw = Math.max(1, Math.min(8, Math.floor(800 / hm.cols)));
    const ch = Math.max(1, Math.min(8, Math.floor(600 / hm.rows)));
    canvas.width = hm.cols * cw;
    canvas.height = hm.rows * ch;
    let max = 0;
    for (const v of data) max = Math.max(max, Math.abs(v));
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(canvas.width, canvas.height);
    const cell = new Uint8ClampedArray(4);
    for (let i = 0; i < hm.rows; i++) {
      for (let j = 0; j < hm.cols; j++) {
        colour(data[i * hm.cols + j], { kind: 'diverging', max: max || 1 }, cell, 0);
        for (let y = i * ch; y < (i + 1) * ch; y++) for (let x = j * cw; x < (j + 1) * cw; x++) img.data.set(cell, (y * canvas.width + x) * 4);
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  private drawTrajectory(r: DiffViewModel): void {
    const section = byId('diff-trajectory');
    const tr = r.trajectory;
    section.hidden = !tr;
    if (!tr) return;
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
