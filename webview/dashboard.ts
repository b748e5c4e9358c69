// Training dashboard: live train/validation loss (decimated, zoomable, smoothed, optional log scale),
// tokens/s, gradient norm, latest samples at a few temperatures and gate saturation over training; for a
// sequence classifier, train and validation accuracy instead of samples (it generates no text).
import { Chart, type ChartDataset, registerables } from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';
import type { RunSummary, SampleAtTemperature, SaturationPoint, SeriesBuffers, ToWebviewMessage } from '../src/protocol/webview';
import { smoothEma, toPoints, type XY } from '../src/extension/logic/series';
import { type DashboardViewState, parseViewState } from '../src/extension/logic/viewState';
import { formatNumber, h, setText } from './dom';
import { byId, cssVar, type HostChannel } from './vscodeApi';

Chart.register(...registerables, zoomPlugin);

/** Growable float arrays for a live series. */
class Series {
  xs: number[] = [];
  ys: number[] = [];
  reset(buffers?: SeriesBuffers): void {
    this.xs = buffers ? Array.from(new Float64Array(buffers.steps)) : [];
    this.ys = buffers ? Array.from(new Float64Array(buffers.values)) : [];
  }
  push(x: number, y: number): void {
    this.xs.push(x);
    this.ys.push(y);
  }
}

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f'];

export class DashboardView {
  private state: DashboardViewState;
  private readonly train = new Series();
  private readonly validation = new Series();
  private readonly grad = new Series();
  private readonly accuracy = new Series();
  private readonly validationAccuracy = new Series();
  private saturation: SaturationPoint[] = [];
  private samples: SampleAtTemperature[] = [];
  private run: RunSummary | undefined;
  private readonly lossChart: Chart<'line', XY[]>;
  private readonly accuracyChart: Chart<'line', XY[]>;
  private readonly gradChart: Chart<'line', XY[]>;
  private readonly saturationChart: Chart<'line', XY[]>;
  private redrawQueued = false;

  constructor(private readonly host: HostChannel, root: HTMLElement) {
    this.state = parseViewState('dashboard', host.getState()) as DashboardViewState;
    root.append(
      h('header', { class: 'toolbar' },
        h('span', { id: 'run-label', class: 'title', text: 'No training run yet — run “gatescope: Train char LSTM”.' }),
        h('span', { id: 'run-status', class: 'badge', role: 'status', 'aria-live': 'polite', text: 'idle' }),
        h('button', { id: 'cancel-run', type: 'button', disabled: true, text: 'Cancel' })),
      h('div', { id: 'run-model', class: 'subtitle' }),
      h('section', { class: 'stats', 'aria-label': 'Training statistics' },
        stat('Step', 'step'), stat('First loss', 'first-loss'), stat('Last loss', 'last-loss'),
        stat('Validation loss', 'val-loss'), stat('Accuracy', 'accuracy'), stat('Validation accuracy', 'val-accuracy'),
        stat('Tokens/s', 'tokens-per-sec'), stat('Gradient norm', 'grad-norm'), stat('Engine', 'engine')),
      h('div', { class: 'toolbar' },
        h('label', { for: 'smoothing', text: 'Smoothing' }),
        h('input', { id: 'smoothing', type: 'range', min: 0, max: 0.99, step: 0.01, value: this.state.smoothing, 'aria-label': 'Loss smoothing' }),
        h('output', { id: 'smoothing-value', for: 'smoothing', text: this.state.smoothing.toFixed(2) }),
        h('label', {}, h('input', { id: 'log-scale', type: 'checkbox', checked: this.state.logScale }), ' Log scale'),
        h('button', { id: 'reset-zoom', type: 'button', text: 'Reset zoom' })),
      h('div', { class: 'chart-box' }, h('canvas', { id: 'loss-chart', role: 'img', 'aria-label': 'Training and validation loss per step' })),
      h('div', { id: 'accuracy-box', class: 'chart-box small' },
        h('canvas', { id: 'accuracy-chart', role: 'img', 'aria-label': 'Training and validation accuracy per step' })),
      h('div', { class: 'grid2' },
        h('div', { class: 'chart-box small' }, h('canvas', { id: 'grad-chart', role: 'img', 'aria-label': 'Gradient norm per step' })),
        h('div', { class: 'chart-box small' }, h('canvas', { id: 'saturation-chart', role: 'img', 'aria-label': 'Gate saturation per evaluation' }))),
      h('section', { 'aria-label': 'Samples' }, h('h3', { text: 'Latest samples' }),
        h('p', { id: 'samples-note', class: 'note' }),
        h('div', { id: 'sample-text', 'aria-live': 'polite' })),
    );
    this.lossChart = this.makeChart('loss-chart', 'loss (nats/token)');
    this.accuracyChart = this.makeChart('accuracy-chart', 'accuracy');
    this.accuracyChart.options.scales!.y!.min = 0;
    this.accuracyChart.options.scales!.y!.max = 1;
    this.showTask();
    this.gradChart = this.makeChart('grad-chart', 'gradient norm');
    this.saturationChart = this.makeChart('saturation-chart', 'fraction saturated');
    const smoothing = byId<HTMLInputElement>('smoothing');
    smoothing.addEventListener('input', () => {
      this.setState({ ...this.state, smoothing: Number(smoothing.value) });
      setText(byId('smoothing-value'), this.state.smoothing.toFixed(2));
      this.queueRedraw();
    });
    const logScale = byId<HTMLInputElement>('log-scale');
    logScale.addEventListener('change', () => {
      this.setState({ ...this.state, logScale: logScale.checked });
      this.queueRedraw();
    });
    byId('reset-zoom').addEventListener('click', () => this.lossChart.resetZoom());
    byId('cancel-run').addEventListener('click', () => {
      if (this.run) this.host.post({ type: 'cancelRun', runId: this.run.runId });
    });
  }

  handle(m: ToWebviewMessage): void {
    switch (m.type) {
      case 'dashboardReset':
        this.run = m.run;
        for (const s of [this.train, this.validation, this.grad, this.accuracy, this.validationAccuracy]) s.reset();
        this.saturation = [];
        this.samples = [];
        this.showRun();
        this.renderSamples();
        this.remember();
        this.queueRedraw();
        break;
      case 'dashboardHistory':
        this.run = m.run;
        this.train.reset(m.train);
        this.validation.reset(m.validation);
        this.grad.reset(m.gradNorm);
        this.accuracy.reset(m.accuracy);
        this.validationAccuracy.reset(m.validationAccuracy);
        this.saturation = [...m.saturation];
        this.samples = [...m.samples];
        if (m.lastStep) this.showStep(m.lastStep.tokensPerSecond, m.lastStep.gradNorm, m.lastStep.step, m.lastStep.totalSteps);
        this.showRun();
        this.renderSamples();
        this.remember();
        this.queueRedraw();
        break;
      case 'trainEvent': {
        if (this.run?.runId !== m.runId) return;
        const e = m.event;
        switch (e.kind) {
          case 'step':
            this.train.push(e.step, e.loss);
            this.grad.push(e.step, e.gradNorm);
            if (e.accuracy !== undefined) this.accuracy.push(e.step, e.accuracy);
            this.showStep(e.tokensPerSecond, e.gradNorm, e.step, e.totalSteps);
            break;
          case 'eval':
            this.validation.push(e.step, e.validationLoss);
            if (e.validationAccuracy !== undefined) this.validationAccuracy.push(e.step, e.validationAccuracy);
            this.saturation.push({ step: e.step, entries: e.gateSaturation });
            break;
          case 'sample':
            this.samples = [...this.samples, { step: e.step, temperature: 0.8, text: e.text }].slice(-12);
            this.renderSamples();
            this.remember();
            break;
        }
        this.queueRedraw();
        break;
      }
      case 'runStatus':
        if (this.run && this.run.runId !== m.run.runId) return;
        this.run = m.run;
        this.showRun();
        this.remember();
        break;
      default:
        break; // messages for other views
    }
  }

  /** Keeps the run (with its checkpoint path) and its samples in the view state: after a window reload the
   * host reads the run's history back from that checkpoint. */
  private remember(): void {
    const { smoothing, logScale } = this.state;
    this.setState({ view: 'dashboard', smoothing, logScale, ...(this.run ? { run: this.run } : {}), ...(this.run && this.samples.length ? { samples: this.samples } : {}) });
  }

  private setState(s: DashboardViewState): void {
    this.state = s;
    this.host.setState(s);
  }

  private showRun(): void {
    const r = this.run;
    if (!r) return;
    setText(byId('run-label'), r.label);
    const status = byId('run-status');
    setText(status, r.status + (r.error ? `: ${r.error}` : ''));
    status.dataset.status = r.status;
    (byId('cancel-run') as HTMLButtonElement).disabled = r.status !== 'training';
    setText(byId('engine'), r.engine ?? '–');
    this.showTask();
  }

  /** A classifier: no samples (it generates no text), accuracy shown. Older runs without a task: by their data. */
  private get classifier(): boolean {
    return this.run?.task === 'classify' || this.accuracy.xs.length > 0 || this.validationAccuracy.xs.length > 0;
  }

  private showTask(): void {
    const classifier = this.classifier;
    const r = this.run;
    const model = r?.model ? `${classifier ? 'Sequence classifier' : 'Language model'}: ${r.model}` : '';
    const classes = r?.classes?.length ? ` · ${r.classes.length} classes: ${r.classes.join(', ')}` : '';
    setText(byId('run-model'), model + classes);
    for (const id of ['accuracy-box', 'accuracy-stat', 'val-accuracy-stat']) shown(byId(id), classifier);
    setText(byId('samples-note'), classifier
      ? 'No samples: a sequence classifier labels a text, it does not generate one. Trace a document (“gatescope: Trace active document”) to see its prediction.'
      : '');
    shown(byId('samples-note'), classifier);
    this.lossChart.options.scales!.y!.title!.text = classifier ? 'loss (nats/example)' : 'loss (nats/token)';
  }

  private showStep(tokensPerSec: number, gradNorm: number, step: number, total: number): void {
    setText(byId('step'), `${step} / ${total}`);
    setText(byId('tokens-per-sec'), Number.isFinite(tokensPerSec) ? Math.round(tokensPerSec).toLocaleString('en-US') : '–');
    setText(byId('grad-norm'), formatNumber(gradNorm, 3));
  }

  private renderSamples(): void {
    const box = byId('sample-text');
    box.replaceChildren(...[...this.samples].reverse().map((s) =>
      h('figure', { class: 'sample', 'data-temperature': s.temperature, 'data-step': s.step },
        h('figcaption', { text: `step ${s.step} · temperature ${s.temperature}` }),
        h('pre', { text: s.text }))));
  }

  private makeChart(id: string, yTitle: string): Chart<'line', XY[]> {
    const fg = cssVar('--vscode-foreground', '#ccc');
    const grid = cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
    return new Chart(byId<HTMLCanvasElement>(id), {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
        scales: {
          x: { type: 'linear', title: { display: true, text: 'step', color: fg }, ticks: { color: fg }, grid: { color: grid } },
          y: { type: 'linear', title: { display: true, text: yTitle, color: fg }, ticks: { color: fg }, grid: { color: grid } },
        },
        plugins: {
          legend: { labels: { color: fg, boxWidth: 12 } },
          decimation: { enabled: true, algorithm: 'lttb', samples: 1000, threshold: 2000 },
          zoom: {
            zoom: { wheel: { enabled: true }, pinch: { enabled: true }, drag: { enabled: false }, mode: 'x' },
            pan: { enabled: true, mode: 'x' },
          },
        },
      },
    });
  }

  private queueRedraw(): void {
    if (this.redrawQueued) return;
    this.redrawQueued = true;
    requestAnimationFrame(() => {
      this.redrawQueued = false;
      this.redraw();
    });
  }

  private redraw(): void {
    const log = this.state.logScale;
    const w = this.state.smoothing;
    const trainRaw = toPoints(this.train.xs, this.train.ys, log);
    const trainSmooth = toPoints(this.train.xs, w > 0 ? smoothEma(this.train.ys, w) : this.train.ys, log);
    const val = toPoints(this.validation.xs, this.validation.ys, log);
    const dim = (c: string): string => c + '55';
    const datasets: ChartDataset<'line', XY[]>[] = [
      { label: 'train', data: trainSmooth, borderColor: PALETTE[0], backgroundColor: PALETTE[0] },
      { label: 'validation', data: val, borderColor: PALETTE[1], backgroundColor: PALETTE[1], pointRadius: 2 },
    ];
    if (w > 0) datasets.push({ label: 'train (raw)', data: trainRaw, borderColor: dim(PALETTE[0]), backgroundColor: dim(PALETTE[0]), borderWidth: 1 });
    this.lossChart.data.datasets = datasets;
    this.lossChart.options.scales!.y!.type = log ? 'logarithmic' : 'linear';
    this.lossChart.update('none');
    const first = this.train.ys[0];
    const last = this.train.ys.at(-1);
    setText(byId('first-loss'), formatNumber(first));
    setText(byId('last-loss'), formatNumber(last));
    setText(byId('val-loss'), formatNumber(this.validation.ys.at(-1)));
    const lastAccuracy = this.accuracy.ys.at(-1);
    setText(byId('accuracy'), percent(lastAccuracy));
    setText(byId('val-accuracy'), percent(this.validationAccuracy.ys.at(-1)));
    byId('val-accuracy').dataset.value = String(this.validationAccuracy.ys.at(-1) ?? '');
    byId('accuracy').dataset.value = lastAccuracy === undefined ? '' : String(lastAccuracy);
    if (this.classifier) {
      const accSmooth = toPoints(this.accuracy.xs, w > 0 ? smoothEma(this.accuracy.ys, w) : this.accuracy.ys);
      this.accuracyChart.data.datasets = [
        { label: 'train', data: accSmooth, borderColor: PALETTE[0], backgroundColor: PALETTE[0] },
        { label: 'validation', data: toPoints(this.validationAccuracy.xs, this.validationAccuracy.ys), borderColor: PALETTE[1], backgroundColor: PALETTE[1], pointRadius: 2 },
      ];
      this.accuracyChart.update('none');
      byId('accuracy-chart').dataset.points = String(this.validationAccuracy.xs.length);
      this.showTask();
    }
    byId('last-loss').dataset.value = last === undefined ? '' : String(last);
    byId('first-loss').dataset.value = first === undefined ? '' : String(first);

    this.gradChart.data.datasets = [{ label: 'gradient norm', data: toPoints(this.grad.xs, this.grad.ys, log), borderColor: PALETTE[2], backgroundColor: PALETTE[2] }];
    this.gradChart.options.scales!.y!.type = log ? 'logarithmic' : 'linear';
    this.gradChart.update('none');
    byId('grad-chart').dataset.points = String(this.grad.xs.length);

    const keys = new Map<string, XY[]>();
    for (const p of this.saturation) {
      for (const e of p.entries) {
        const base = `l${e.layer}${e.reverse ? 'r' : ''} ${e.gate}`;
        for (const [suffix, v] of [['<0.1', e.low], ['>0.9', e.high]] as const) {
          const k = `${base} ${suffix}`;
          if (!keys.has(k)) keys.set(k, []);
          keys.get(k)!.push({ x: p.step, y: v });
        }
      }
    }
    this.saturationChart.data.datasets = [...keys.entries()].map(([label, data], i) => ({
      label, data, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
      borderDash: label.endsWith('<0.1') ? [4, 3] : undefined, pointRadius: 2,
    }));
    this.saturationChart.update('none');
    byId('saturation-chart').dataset.points = String(this.saturation.length);
  }
}

function stat(label: string, id: string): HTMLElement {
  return h('div', { class: 'stat', id: `${id}-stat` }, h('span', { class: 'stat-label', id: `${id}-label`, text: label }),
    h('span', { class: 'stat-value', id, 'aria-labelledby': `${id}-label`, text: '–' }));
}

/** Shows or hides an element (display too: the stylesheet's display rules would win over [hidden]). */
function shown(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
  el.style.display = visible ? '' : 'none';
}

function percent(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(1)}%`;
}
