// The dashboard's part for a run written by a PyTorch script (gatescope: Open run…): how the run stands
// (or where it stopped), the watched modules, the scalars the loss charts do not show, the probe's
// heatmap per snapshot with a slider over the snapshots, and — with two watched modules — their weight and
// gate diff per snapshot with the diff's verdict. Hidden for gatescope's own training runs.
import { Chart } from 'chart.js';
import type { ExternalRunInfo, RunModuleDiff, RunProbeResponse, ToWebviewMessage } from '../src/protocol/webview';
import { dashboardSeries } from '../src/core/run/runState';
import { toPoints, type XY } from '../src/extension/logic/series';
import { colour, scaleFor } from './colormap';
import { formatNumber, h, setText } from './dom';
import { byId, cssVar, type HostChannel } from './vscodeApi';

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f'];

const exp = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : 'shape');

export class RunView {
  private readonly box: HTMLElement;
  private runId: string | undefined;
  private info: ExternalRunInfo | undefined;
  /** The other scalars: complete from runInfo, appended from runScalars. */
  private readonly scalars = new Map<string, { xs: number[]; ys: number[] }>();
  private chart: Chart<'line', XY[]> | undefined;
  /** The snapshot shown; undefined: follow the latest. */
  private picked: number | undefined;
  private heat: RunProbeResponse | undefined;
  private requested = '';
  private redrawQueued = false;

  constructor(private readonly host: HostChannel, root: HTMLElement) {
    this.box = h('section', { id: 'run-view', 'aria-label': 'PyTorch run', hidden: true },
      h('h3', { text: 'PyTorch run' }),
      h('p', { id: 'run-outcome', role: 'status', 'aria-live': 'polite' }),
      h('ul', { id: 'run-modules', class: 'note' }),
      h('ul', { id: 'run-notes', class: 'note' }),
      h('div', { id: 'run-scalars-box', class: 'chart-box small', hidden: true },
        h('canvas', { id: 'run-scalars-chart', role: 'img', 'aria-label': 'Other logged scalars per step' })),
      h('div', { id: 'probe-box', hidden: true },
        h('h3', { text: 'Probe' }),
        h('div', { class: 'toolbar' },
          h('label', { for: 'probe-module', text: 'Module' }), h('select', { id: 'probe-module' }),
          h('label', { for: 'probe-layer', text: 'Layer' }), h('select', { id: 'probe-layer' }),
          h('label', { for: 'probe-tensor', text: 'Tensor' }), h('select', { id: 'probe-tensor' })),
        h('div', { class: 'toolbar' },
          h('label', { for: 'snapshot-slider', text: 'Snapshot' }),
          h('input', { id: 'snapshot-slider', type: 'range', min: 0, max: 0, step: 1, value: 0, 'aria-label': 'Snapshot' }),
          h('output', { id: 'snapshot-label', for: 'snapshot-slider' })),
        h('div', { class: 'heatmap-box' },
          h('canvas', { id: 'probe-heatmap', role: 'img', 'aria-label': 'Probe heatmap: timesteps across, units down', width: 1, height: 1 })),
        h('p', { id: 'probe-hover', class: 'note' })),
      h('div', { id: 'run-diff', hidden: true },
        h('h3', { id: 'run-diff-title', text: 'Module diff' }),
        h('p', { id: 'run-diff-verdict' }),
        h('ul', { id: 'run-diff-changes' }),
        h('table', { id: 'run-diff-table', class: 'diff-table' }),
        h('h4', { text: 'Per snapshot' }),
        h('table', { id: 'run-diff-snapshots', class: 'diff-table' })));
    root.append(this.box);
    for (const id of ['probe-module', 'probe-layer', 'probe-tensor']) byId(id).addEventListener('change', () => this.requestHeat());
    const slider = byId<HTMLInputElement>('snapshot-slider');
    slider.addEventListener('input', () => {
      const n = this.info?.snapshots.length ?? 0;
      const v = Number(slider.value);
      this.picked = v >= n - 1 ? undefined : v;
      this.showSnapshot();
    });
    const canvas = byId<HTMLCanvasElement>('probe-heatmap');
    canvas.addEventListener('mousemove', (ev) => this.hover(ev, canvas));
  }

  handle(m: ToWebviewMessage): void {
    switch (m.type) {
      case 'dashboardReset':
      case 'dashboardHistory':
        if (m.run.external && m.run.runId === this.runId) return;
        if (!m.run.external) this.hide();
        break;
      case 'runInfo':
        if (m.runId !== this.runId) this.clear(m.runId);
        this.info = m.info;
        this.scalars.clear();
        for (const s of m.info.scalars) this.scalars.set(s.name, { xs: Array.from(new Float64Array(s.series.steps)), ys: Array.from(new Float64Array(s.series.values)) });
        this.box.hidden = false;
        this.render();
        break;
      case 'runScalars': {
        if (m.runId !== this.runId) return;
        let changed = false;
        for (const p of m.points) {
          if (dashboardSeries(p.name)) continue; // on the loss charts
          let series = this.scalars.get(p.name);
          if (!series) this.scalars.set(p.name, series = { xs: [], ys: [] });
          series.xs.push(p.step);
          series.ys.push(p.value);
          changed = true;
        }
        if (changed) this.queueChart();
        break;
      }
      default:
        break;
    }
  }

  private hide(): void {
    this.runId = undefined;
    this.info = undefined;
    this.box.hidden = true;
  }

  private clear(runId: string): void {
    this.runId = runId;
    this.picked = undefined;
    this.heat = undefined;
    this.requested = '';
  }

  private render(): void {
    const info = this.info!;
    const outcome = byId('run-outcome');
    setText(outcome, `${info.dir}: ${info.outcome}`);
    outcome.dataset.phase = info.phase;
    byId('run-modules').replaceChildren(...info.modules.map((m) => h('li', { text: m })));
    byId('run-notes').replaceChildren(...info.notes.map((n) => h('li', { text: n })));
    this.fillSelects();
    const slider = byId<HTMLInputElement>('snapshot-slider');
    const n = info.snapshots.length;
    slider.max = String(Math.max(0, n - 1));
    slider.disabled = n <= 1;
    byId('probe-box').hidden = !info.probed.length || !info.snapshots.some((s) => s.probe);
    this.queueChart();
    this.showSnapshot();
  }

  private fillSelects(): void {
    const info = this.info!;
    const fill = (id: string, options: { value: string; label: string }[]): void => {
      const sel = byId<HTMLSelectElement>(id);
      const keep = sel.value;
      const same = sel.options.length === options.length && options.every((o, i) => sel.options[i].value === o.value);
      if (!same) sel.replaceChildren(...options.map((o) => h('option', { value: o.value, text: o.label })));
      if (options.some((o) => o.value === keep)) sel.value = keep;
    };
    fill('probe-module', info.probed.map((p) => ({ value: p.name, label: p.name || '(unnamed)' })));
    const mod = info.probed.find((p) => p.name === byId<HTMLSelectElement>('probe-module').value) ?? info.probed[0];
    const layers: { value: string; label: string }[] = [];
    for (let l = 0; l < (mod?.layers ?? 0); l++) {
      layers.push({ value: `${l}:0`, label: `${l}` });
      if (mod.directions === 2) layers.push({ value: `${l}:1`, label: `${l} reverse` });
    }
    fill('probe-layer', layers);
    fill('probe-tensor', (mod?.kinds ?? []).map((k) => ({ value: k, label: k })));
  }

  /** The snapshot index shown: the picked one, or the latest. */
  private get index(): number {
    const n = this.info?.snapshots.length ?? 0;
    return this.picked === undefined ? n - 1 : Math.min(this.picked, n - 1);
  }

  private showSnapshot(): void {
    const info = this.info;
    if (!info) return;
    const i = this.index;
    const snap = info.snapshots[i];
    const slider = byId<HTMLInputElement>('snapshot-slider');
    if (i >= 0) slider.value = String(i);
    setText(byId('snapshot-label'), snap ? `${snap.tag}${snap.step === null ? '' : ` (step ${snap.step})`} · ${i + 1} of ${info.snapshots.length}` : 'no snapshot yet');
    this.requestHeat();
    this.showDiff(snap ? info.diffs.find((d) => d.tag === snap.tag) : undefined);
  }

  private requestHeat(): void {
    const info = this.info;
    const snap = info?.snapshots[this.index];
    if (!info || !this.runId || !snap?.probe) return;
    this.fillSelects();
    const module = byId<HTMLSelectElement>('probe-module').value;
    const [layer, dir] = (byId<HTMLSelectElement>('probe-layer').value || '0:0').split(':').map(Number);
    const tensor = byId<HTMLSelectElement>('probe-tensor').value || 'h';
    const key = `${snap.tag}|${module}|${layer}|${dir}|${tensor}`;
    if (key === this.requested) return;
    this.requested = key;
    const runId = this.runId;
    this.host.request<RunProbeResponse>((id) => ({ type: 'requestRunProbe', id, runId, tag: snap.tag, module, layer, reverse: dir === 1, tensor, row: 0 }))
      .then((r) => {
        if (this.requested !== key) return;
        this.heat = r;
        this.drawHeat();
      }, (e: unknown) => {
        if (this.requested === key) this.requested = '';
        setText(byId('probe-hover'), e instanceof Error ? e.message : String(e));
      });
  }

  private drawHeat(): void {
    const r = this.heat;
    if (!r) return;
    const canvas = byId<HTMLCanvasElement>('probe-heatmap');
    // Timesteps across, units down (as the trace view).
    canvas.width = Math.max(1, r.rows);
    canvas.height = Math.max(1, r.cols);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const img = ctx.createImageData(canvas.width, canvas.height);
    const data = new Float32Array(r.data);
    const scale = scaleFor(r.tensor, r.maxAbs);
    for (let t = 0; t < r.rows; t++) {
      for (let u = 0; u < r.cols; u++) colour(data[t * r.cols + u], scale, img.data, (u * canvas.width + t) * 4);
    }
    ctx.putImageData(img, 0, 0);
    canvas.style.width = '100%';
    canvas.style.height = `${Math.min(320, Math.max(60, r.cols * 6))}px`;
    canvas.style.imageRendering = 'pixelated';
    Object.assign(canvas.dataset, { tag: r.tag, module: r.module, tensor: r.tensor, rows: String(r.rows), cols: String(r.cols) });
    setText(byId('probe-hover'), `${r.module ? `${r.module}.` : ''}trace_l${r.layer}${r.reverse ? '_reverse' : ''}_${r.tensor} at ${r.tag}: ${r.rows} timesteps × ${r.cols} units (hover for values)`);
  }

  private hover(ev: MouseEvent, canvas: HTMLCanvasElement): void {
    const r = this.heat;
    if (!r) return;
    const rect = canvas.getBoundingClientRect();
    const t = Math.floor(((ev.clientX - rect.left) / rect.width) * r.rows);
    const u = Math.floor(((ev.clientY - rect.top) / rect.height) * r.cols);
    if (t < 0 || u < 0 || t >= r.rows || u >= r.cols) return;
    const v = new Float32Array(r.data)[t * r.cols + u];
    setText(byId('probe-hover'), `step ${t} (${JSON.stringify(r.tokens[t] ?? '')}), unit ${u}: ${r.tensor} = ${formatNumber(v, 4)}`);
  }

  private showDiff(d: RunModuleDiff | undefined): void {
    const info = this.info!;
    const box = byId('run-diff');
    box.hidden = !info.diffs.length;
    if (!info.diffs.length) return;
    const shown = d ?? info.diffs.at(-1)!;
    setText(byId('run-diff-title'), `Module diff: ${shown.a} (A) vs ${shown.b} (B) at ${shown.tag}`);
    const verdict = byId('run-diff-verdict');
    setText(verdict, shown.verdict);
    verdict.dataset.ok = String(shown.ok);
    byId('run-diff-changes').replaceChildren(...shown.changes.map((c) => h('li', { text: c })));
    const row = (name: string, relErr: number, ok: boolean, gates: string): HTMLElement =>
      h('tr', { 'data-ok': ok }, h('td', { text: name }), h('td', { class: 'num', text: exp(relErr) }), h('td', { text: gates }));
    byId('run-diff-table').replaceChildren(
      h('tr', {}, h('th', { text: 'compared' }), h('th', { text: 'rel. error' }), h('th', { text: 'per gate' })),
      ...shown.weights.map((w) => row(w.name, w.relErr, w.ok, (w.gates ?? []).map((g) => `${g.gate} ${exp(g.relErr)}`).join('  '))),
      ...shown.traces.map((t) => row(t.name, t.relErr, t.ok, '')));
    byId('run-diff-snapshots').replaceChildren(
      h('tr', {}, h('th', { text: 'snapshot' }), h('th', { text: 'max rel. error' }), h('th', { text: 'verdict' })),
      ...info.diffs.map((x) => h('tr', { 'data-ok': x.ok, 'data-tag': x.tag },
        h('td', { text: `${x.tag}${x.step === null ? '' : ` (step ${x.step})`}` }), h('td', { class: 'num', text: exp(x.maxRelErr) }), h('td', { text: x.verdict }))));
  }

  private queueChart(): void {
    if (this.redrawQueued) return;
    this.redrawQueued = true;
    requestAnimationFrame(() => {
      this.redrawQueued = false;
      this.drawChart();
    });
  }

  private drawChart(): void {
    const box = byId('run-scalars-box');
    box.hidden = this.scalars.size === 0;
    if (!this.scalars.size) return;
    if (!this.chart) {
      const fg = cssVar('--vscode-foreground', '#ccc');
      const grid = cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
      this.chart = new Chart(byId<HTMLCanvasElement>('run-scalars-chart'), {
        type: 'line',
        data: { datasets: [] },
        options: {
          animation: false, parsing: false, normalized: true, responsive: true, maintainAspectRatio: false,
          elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
          scales: {
            x: { type: 'linear', title: { display: true, text: 'step', color: fg }, ticks: { color: fg }, grid: { color: grid } },
            y: { type: 'linear', ticks: { color: fg }, grid: { color: grid } },
          },
          plugins: { legend: { labels: { color: fg, boxWidth: 12 } }, decimation: { enabled: true, algorithm: 'lttb', samples: 1000, threshold: 2000 } },
        },
      });
    }
    this.chart.data.datasets = [...this.scalars].map(([label, s], i) => ({
      label, data: toPoints(s.xs, s.ys), borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
    }));
    this.chart.update('none');
    byId('run-scalars-chart').dataset.points = String([...this.scalars.values()].reduce((n, s) => n + s.xs.length, 0));
  }
}
