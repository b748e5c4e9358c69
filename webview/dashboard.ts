// Training dashboard: live train/validation loss (decimated, zoomable, smoothed, in nats or bits, optional
// log scale), elapsed time and ETA, tokens/s, gradient norm with the clip line, latest samples and gate
// saturation over training; for a sequence classifier, train and validation accuracy instead of samples (it
// generates no text). Chart colours come from the theme's --vscode-* variables and follow a theme change.
import { Chart, type ChartDataset, registerables, type Scale } from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';
import type { RunSummary, SampleAtTemperature, SaturationPoint, SeriesBuffers, StepEvent, ToWebviewMessage, TrainEvent, ValidationCover } from '../src/protocol/webview';
import { formatCompact, formatDuration, etaSeconds } from '../src/extension/logic/formatCount';
import { MAX_SAMPLES, mergeSamples } from '../src/extension/logic/samples';
import { logTicks, natsToBits, saturationSeries, smoothEma, toPoints, type XY } from '../src/extension/logic/series';
import { type DashboardViewState, type LossUnit, parseViewState, type SaturationMode } from '../src/extension/logic/viewState';
import { formatNumber, h, setText } from './dom';
import { byId, cssVar, type HostChannel } from './vscodeApi';
import { dashboardSeries } from '../src/core/run/runState';
import { RunView } from './runView';

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

/** The theme's colours, read again on every theme change. */
interface ThemeColors {
  readonly fg: string;
  readonly muted: string;
  readonly grid: string;
  readonly palette: readonly string[];
}

function themeColors(): ThemeColors {
  const fg = cssVar('--vscode-foreground', '#616161');
  return {
    fg,
    muted: cssVar('--vscode-descriptionForeground', fg),
    grid: cssVar('--vscode-charts-lines', 'rgba(128,128,128,0.35)'),
    // VS Code's chart colours (used by its own charts) are tuned per theme, high contrast included.
    palette: [
      cssVar('--vscode-charts-blue', '#4e79a7'), cssVar('--vscode-charts-orange', '#f28e2b'), cssVar('--vscode-charts-green', '#59a14f'),
      cssVar('--vscode-charts-purple', '#b07aa1'), cssVar('--vscode-charts-red', '#e15759'), cssVar('--vscode-charts-yellow', '#edc948'),
    ],
  };
}

/** A colour with opacity (hex colours; others are returned as they are). */
function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return `#${hex}${Math.round(alpha * 255).toString(16).padStart(2, '0')}`;
}

const LAYER_DASH: readonly (number[] | undefined)[] = [undefined, [6, 3], [2, 2], [8, 3, 2, 3]];

export class DashboardView {
  private state: DashboardViewState;
  private readonly train = new Series();
  private readonly validation = new Series();
  private readonly grad = new Series();
  private readonly accuracy = new Series();
  private readonly validationAccuracy = new Series();
  private saturation: SaturationPoint[] = [];
  /** What the latest validation figure covers: validation batches read, of all in the split (live runs only). */
  private validationCover: ValidationCover | undefined;
  private samples: SampleAtTemperature[] = [];
  private run: RunSummary | undefined;
  private lastStep: Pick<StepEvent, 'step' | 'totalSteps' | 'elapsedSeconds' | 'tokensPerSecond' | 'gradNorm'> | undefined;
  private colors = themeColors();
  private readonly lossChart: Chart<'line', XY[]>;
  private readonly accuracyChart: Chart<'line', XY[]>;
  private readonly gradChart: Chart<'line', XY[]>;
  private readonly saturationChart: Chart<'line', XY[]>;
  private redrawQueued = false;
  /** A PyTorch script's run (Open run…): its probe heatmaps, other scalars and module diff. */
  private readonly runView: RunView;

  constructor(private readonly host: HostChannel, root: HTMLElement) {
    this.state = parseViewState('dashboard', host.getState()) as DashboardViewState;
    root.append(
      h('header', { class: 'toolbar' },
        h('span', { id: 'run-label', class: 'title', text: 'No training run yet — run “gatescope: Train char LSTM”.' }),
        h('span', { id: 'run-status', class: 'badge', role: 'status', 'aria-live': 'polite', text: 'idle' }),
        h('button', { id: 'cancel-run', type: 'button', disabled: true, text: 'Cancel' })),
      h('div', { id: 'run-model', class: 'subtitle' }),
      h('div', { id: 'run-checkpoint', class: 'subtitle checkpoint', hidden: true },
        h('span', { class: 'stat-label', text: 'Checkpoint ' }), h('code', { id: 'checkpoint-path' })),
      h('section', { class: 'stats', 'aria-label': 'Training statistics' },
        stat('Step', 'step'), stat('Elapsed', 'elapsed'), stat('Time left', 'eta'),
        stat('First loss', 'first-loss'), stat('Last loss', 'last-loss'), stat('Validation loss', 'val-loss'),
        stat('Accuracy', 'accuracy'), stat('Validation accuracy', 'val-accuracy'),
        stat('Tokens/s', 'tokens-per-sec'), stat('Gradient norm', 'grad-norm'), stat('Engine', 'engine')),
      h('div', { class: 'toolbar' },
        h('label', { for: 'smoothing', text: 'Smoothing' }),
        h('input', { id: 'smoothing', type: 'range', min: 0, max: 0.99, step: 0.01, value: this.state.smoothing, 'aria-label': 'Loss smoothing' }),
        h('output', { id: 'smoothing-value', for: 'smoothing', text: this.state.smoothing.toFixed(2) }),
        h('label', { for: 'loss-unit', text: 'Loss in' }),
        h('select', { id: 'loss-unit', 'aria-label': 'Loss unit' },
          h('option', { value: 'nats', text: 'nats', selected: this.lossUnit === 'nats' }),
          h('option', { value: 'bits', text: 'bits', selected: this.lossUnit === 'bits' })),
        h('label', { title: 'Logarithmic y axis for the loss chart' },
          h('input', { id: 'log-scale', type: 'checkbox', checked: this.state.logScale }), ' Log scale (loss)'),
        h('button', { id: 'reset-zoom', type: 'button', text: 'Reset zoom' })),
      h('div', { class: 'chart-box' }, h('canvas', { id: 'loss-chart', role: 'img', 'aria-label': 'Training and validation loss per step' })),
      h('div', { id: 'accuracy-box', class: 'chart-box small' },
        h('canvas', { id: 'accuracy-chart', role: 'img', 'aria-label': 'Training and validation accuracy per step' })),
      h('div', { class: 'grid2' },
        h('div', { class: 'chart-box small' },
          h('canvas', { id: 'grad-chart', role: 'img', 'aria-label': 'Gradient norm per step' }),
          h('p', { id: 'grad-empty', class: 'empty-state' })),
        h('div', { class: 'chart-panel' },
          h('div', { class: 'toolbar compact' },
            h('label', { for: 'saturation-mode', text: 'Saturated gates' }),
            h('select', { id: 'saturation-mode', 'aria-label': 'Which saturated gates to plot' },
              ...([['either', 'below 0.1 or above 0.9'], ['low', 'below 0.1 (closed)'], ['high', 'above 0.9 (open)']] as const)
                .map(([value, text]) => h('option', { value, text, selected: this.saturationMode === value })))),
          h('div', { class: 'chart-box saturation' },
            h('canvas', { id: 'saturation-chart', role: 'img', 'aria-label': 'Gate saturation per evaluation' }),
            h('p', { id: 'saturation-empty', class: 'empty-state' })))),
      h('section', { 'aria-label': 'Samples' }, h('h3', { text: 'Latest samples' }),
        h('p', { id: 'samples-note', class: 'note' }),
        h('div', { id: 'sample-text', 'aria-live': 'polite' })),
    );
    this.lossChart = this.makeChart('loss-chart', 'Loss', 'loss (nats/token)');
    this.accuracyChart = this.makeChart('accuracy-chart', 'Accuracy', 'accuracy');
    this.accuracyChart.options.scales!.y!.min = 0;
    this.accuracyChart.options.scales!.y!.max = 1;
    this.gradChart = this.makeChart('grad-chart', 'Gradient norm (before clipping)', 'L2 norm');
    this.saturationChart = this.makeChart('saturation-chart', 'Gate saturation', 'fraction of activations');
    this.saturationChart.options.scales!.y!.min = 0;
    this.saturationChart.options.plugins!.legend!.position = 'bottom';
    this.configureLossScale();
    this.showTask();
    this.showEmptyStates();
    const smoothing = byId<HTMLInputElement>('smoothing');
    smoothing.addEventListener('input', () => {
      this.setState({ ...this.state, smoothing: Number(smoothing.value) });
      setText(byId('smoothing-value'), this.state.smoothing.toFixed(2));
      this.queueRedraw();
    });
    const logScale = byId<HTMLInputElement>('log-scale');
    logScale.addEventListener('change', () => {
      this.setState({ ...this.state, logScale: logScale.checked });
      this.configureLossScale();
      this.queueRedraw();
    });
    const unit = byId<HTMLSelectElement>('loss-unit');
    unit.addEventListener('change', () => {
      this.setState({ ...this.state, lossUnit: unit.value === 'bits' ? 'bits' : 'nats' });
      this.showTask();
      this.queueRedraw();
    });
    const mode = byId<HTMLSelectElement>('saturation-mode');
    mode.addEventListener('change', () => {
      this.setState({ ...this.state, saturation: mode.value as SaturationMode });
      this.queueRedraw();
    });
    this.runView = new RunView(host, root);
    byId('reset-zoom').addEventListener('click', () => this.lossChart.resetZoom());
    byId('cancel-run').addEventListener('click', () => {
      if (this.run) this.host.post({ type: 'cancelRun', runId: this.run.runId });
    });
    // VS Code swaps the body's theme class (vscode-light / vscode-dark / vscode-high-contrast) and the
    // variables on <html> when the colour theme changes: read the colours again then.
    const observer = new MutationObserver(() => requestAnimationFrame(() => this.applyTheme()));
    observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  }

  private get lossUnit(): LossUnit {
    return this.state.lossUnit ?? 'nats';
  }

  private get saturationMode(): SaturationMode {
    return this.state.saturation ?? 'either';
  }

  handle(m: ToWebviewMessage): void {
    this.runView.handle(m);
    switch (m.type) {
      case 'dashboardReset':
        this.run = m.run;
        for (const s of [this.train, this.validation, this.grad, this.accuracy, this.validationAccuracy]) s.reset();
        this.saturation = [];
        this.samples = [];
        this.lastStep = undefined;
        this.validationCover = undefined;
        this.showRun();
        this.showStep();
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
        this.samples = mergeSamples([], m.samples, MAX_SAMPLES);
        this.lastStep = m.lastStep;
        this.validationCover = m.validationCover;
        this.showRun();
        this.showStep();
        this.renderSamples();
        this.remember();
        this.queueRedraw();
        break;
      case 'trainEvent':
        if (this.run?.runId !== m.runId) return;
        this.acceptEvents([m.event]);
        break;
      case 'trainEvents':
        if (this.run?.runId !== m.runId) return;
        this.acceptEvents(m.events);
        break;
      case 'runStatus':
        if (this.run && this.run.runId !== m.run.runId) return;
        this.run = m.run;
        this.showRun();
        this.remember();
        break;
      case 'runScalars': // an external run's points as its events.jsonl grows
        if (this.run?.runId !== m.runId) return;
        for (const p of m.points) {
          const series = dashboardSeries(p.name);
          if (series) (series === 'train' ? this.train : series === 'validation' ? this.validation : this.grad).push(p.step, p.value);
        }
        this.showStep();
        this.queueRedraw();
        break;
      default:
        break; // messages for other views
    }
  }

  private acceptEvents(events: readonly TrainEvent[]): void {
    let sampled = false;
    for (const e of events) {
      switch (e.kind) {
        case 'step':
          this.train.push(e.step, e.loss);
          this.grad.push(e.step, e.gradNorm);
          if (e.accuracy !== undefined) this.accuracy.push(e.step, e.accuracy);
          this.lastStep = e;
          break;
        case 'eval':
          this.validation.push(e.step, e.validationLoss);
          if (e.validationAccuracy !== undefined) this.validationAccuracy.push(e.step, e.validationAccuracy);
          this.saturation.push({ step: e.step, entries: e.gateSaturation });
          this.validationCover = { batches: e.validationBatches, of: e.validationBatchesTotal };
          break;
        case 'sample':
          this.samples = mergeSamples(this.samples, [{ step: e.step, temperature: e.temperature, text: e.text }], MAX_SAMPLES);
          sampled = true;
          break;
      }
    }
    this.showStep();
    if (sampled) {
      this.renderSamples();
      this.remember();
    }
    this.queueRedraw();
  }

  /** Keeps the run (with its checkpoint path) and its samples in the view state: after a window reload the
   * host reads the run's history back from that checkpoint. */
  private remember(): void {
    const { smoothing, logScale, lossUnit, saturation } = this.state;
    this.setState({
      view: 'dashboard', smoothing, logScale, ...(lossUnit ? { lossUnit } : {}), ...(saturation ? { saturation } : {}),
      ...(this.run ? { run: this.run } : {}), ...(this.run && this.samples.length ? { samples: this.samples } : {}),
    });
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
    (byId('cancel-run') as HTMLButtonElement).disabled = r.status !== 'training' || !!r.external;
    shown(byId('cancel-run'), r.status === 'training' && !r.external);
    setText(byId('engine'), r.engine ?? '–');
    const checkpoint = byId('run-checkpoint');
    shown(checkpoint, !!r.checkpointPath);
    setText(byId('checkpoint-path'), r.checkpointPath ?? '');
    byId('checkpoint-path').title = r.checkpointPath ?? '';
    this.showTask();
    this.showStep();
    this.showEmptyStates();
  }

  /** A classifier: no samples (it generates no text), accuracy shown. Older runs without a task: by their data. */
  private get classifier(): boolean {
    return this.run?.task === 'classify' || this.accuracy.xs.length > 0 || this.validationAccuracy.xs.length > 0;
  }

  /** "nats/char", "bits/word", "bits/example"... */
  private lossUnitLabel(unit: LossUnit = this.lossUnit): string {
    const per = this.classifier ? 'example' : this.run?.tokenLevel ?? 'token';
    return `${unit}/${per}`;
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
    this.lossChart.options.scales!.y!.title!.text = `loss (${this.lossUnitLabel()})`;
  }

  private showStep(): void {
    // A PyTorch run directory has no step events: its step and gradient norm are its latest logged points.
    const external = this.run?.external && this.train.xs.length ? {
      step: this.train.xs[this.train.xs.length - 1], totalSteps: NaN, elapsedSeconds: NaN, tokensPerSecond: NaN,
      gradNorm: this.grad.ys.length ? this.grad.ys[this.grad.ys.length - 1] : NaN,
    } : undefined;
    const s = this.lastStep ?? external;
    const training = this.run?.status === 'training';
    setText(byId('step'), !s ? '–' : Number.isFinite(s.totalSteps) ? `${s.step.toLocaleString('en-US')} / ${s.totalSteps.toLocaleString('en-US')}` : s.step.toLocaleString('en-US'));
    setText(byId('tokens-per-sec'), s && Number.isFinite(s.tokensPerSecond) ? formatCompact(Math.round(s.tokensPerSecond)) : '–');
    setText(byId('grad-norm'), formatNumber(s?.gradNorm, 3));
    setText(byId('elapsed'), s && s.elapsedSeconds > 0 ? formatDuration(s.elapsedSeconds) : '–');
    const eta = s && training ? etaSeconds(s.step, s.totalSteps, s.elapsedSeconds) : undefined;
    setText(byId('eta-label'), training || !this.run ? 'Time left' : 'Finished');
    setText(byId('eta'), eta !== undefined ? `≈ ${formatDuration(eta)}` : training ? '–' : this.run ? this.run.status : '–');
  }

  /** Says when an empty chart or list gets its first points (the first minutes of a run show nothing else). */
  private showEmptyStates(): void {
    const r = this.run;
    const training = r?.status === 'training';
    const noSaturation = this.saturation.length === 0 || this.saturation.every((p) => p.entries.length === 0);
    const evalAt = r?.evalEvery && r.evalEvery > 0 ? Math.min(r.evalEvery, r.totalSteps || r.evalEvery) : undefined;
    const saturationText = !r ? 'Gate saturation appears here once a run is evaluated.'
      : this.saturation.length > 0 && noSaturation ? 'This model has no sigmoid gates (a plain RNN): nothing to saturate.'
        : training ? `Gate saturation appears after the first evaluation${evalAt ? ` at step ${evalAt.toLocaleString('en-US')}` : ''}.`
          : 'This run recorded no gate saturation.';
    setText(byId('saturation-empty'), noSaturation ? saturationText : '');
    shown(byId('saturation-empty'), noSaturation);
    const noGrad = this.grad.xs.length === 0;
    setText(byId('grad-empty'), noGrad ? (r && !training ? 'This run recorded no gradient norms.' : 'The gradient norm appears with the first step.') : '');
    shown(byId('grad-empty'), noGrad);
  }

  private renderSamples(): void {
    const box = byId('sample-text');
    if (!this.samples.length && !this.classifier) {
      const r = this.run;
      const every = r?.sampleEvery ?? 0;
      const text = !r ? 'Samples of generated text appear here during and after training.'
        : r.status === 'training'
          ? every > 0 && every <= r.totalSteps
            ? `A sample appears at step ${every.toLocaleString('en-US')}, and at a few temperatures when training ends.`
            : 'Samples at a few temperatures appear when training ends.'
          : 'This run has no samples.';
      box.replaceChildren(h('p', { class: 'empty-state inline', text }));
      return;
    }
    box.replaceChildren(...[...this.samples].reverse().map((s) =>
      h('figure', { class: 'sample', 'data-temperature': s.temperature, 'data-step': s.step },
        h('figcaption', { text: `step ${s.step.toLocaleString('en-US')} · temperature ${s.temperature}` }),
        h('pre', { text: s.text }))));
  }

  private makeChart(id: string, title: string, yTitle: string): Chart<'line', XY[]> {
    const { fg, grid } = this.colors;
    const canvas = byId<HTMLCanvasElement>(id);
    canvas.dataset.textColor = fg;
    return new Chart(canvas, {
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
          x: { type: 'linear', title: { display: true, text: 'step', color: fg }, ticks: { color: fg }, grid: { color: grid }, border: { color: grid } },
          y: { type: 'linear', title: { display: true, text: yTitle, color: fg }, ticks: { color: fg }, grid: { color: grid }, border: { color: grid } },
        },
        plugins: {
          title: { display: true, text: title, color: fg, align: 'start', font: { weight: 'bold' } },
          legend: { labels: { color: fg, boxWidth: 14, boxHeight: 2 } },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label ?? ''}: ${formatNumber(c.parsed.y ?? undefined, 4)}` } },
          decimation: { enabled: true, algorithm: 'lttb', samples: 1000, threshold: 2000 },
          zoom: {
            zoom: { wheel: { enabled: true }, pinch: { enabled: true }, drag: { enabled: false }, mode: 'x' },
            pan: { enabled: true, mode: 'x' },
          },
        },
      },
    });
  }

  private get charts(): Chart<'line', XY[]>[] {
    return [this.lossChart, this.accuracyChart, this.gradChart, this.saturationChart];
  }

  /** Reads the theme's colours again and gives them to every chart (axes, titles, legends, and series). */
  private applyTheme(): void {
    const c = themeColors();
    this.colors = c;
    for (const chart of this.charts) {
      const o = chart.options;
      for (const axis of [o.scales!.x!, o.scales!.y!]) {
        axis.title!.color = c.fg;
        axis.ticks!.color = c.fg;
        axis.grid!.color = c.grid;
        (axis as { border?: { color?: string } }).border = { color: c.grid };
      }
      o.plugins!.title!.color = c.fg;
      o.plugins!.legend!.labels!.color = c.fg;
      chart.canvas.dataset.textColor = c.fg;
    }
    this.redraw(); // the series colours too
  }

  /** Log scale for the loss chart only, with ticks that never collide (round values, a few of them). */
  private configureLossScale(): void {
    const y = this.lossChart.options.scales!.y!;
    const log = this.state.logScale;
    y.type = log ? 'logarithmic' : 'linear';
    (y as { afterBuildTicks?: (s: Scale) => void }).afterBuildTicks = log
      ? (s: Scale) => {
        const ticks = logTicks(s.min, s.max, Math.max(3, Math.floor(s.height / 40)));
        s.ticks = ticks.map((value) => ({ value }));
        this.lossChart.canvas.dataset.yTicks = ticks.map(formatTick).join(' ');
      }
      : undefined;
    y.ticks = { ...y.ticks, callback: log ? (v) => formatTick(Number(v)) : undefined, autoSkip: true };
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
    const { palette } = this.colors;
    const log = this.state.logScale;
    const w = this.state.smoothing;
    const scale = this.lossUnit === 'bits' ? natsToBits : (v: number): number => v;
    const trainYs = this.train.ys.map(scale);
    const trainRaw = toPoints(this.train.xs, trainYs, log);
    const trainSmooth = toPoints(this.train.xs, w > 0 ? smoothEma(trainYs, w) : trainYs, log);
    const val = toPoints(this.validation.xs, this.validation.ys.map(scale), log);
    const datasets: ChartDataset<'line', XY[]>[] = [
      { label: 'train', data: trainSmooth, borderColor: palette[0], backgroundColor: palette[0] },
      { label: 'validation', data: val, borderColor: palette[1], backgroundColor: palette[1], pointRadius: 2 },
    ];
    if (w > 0) datasets.push({ label: 'train (raw)', data: trainRaw, borderColor: withAlpha(palette[0], 0.3), backgroundColor: withAlpha(palette[0], 0.3), borderWidth: 1 });
    this.lossChart.data.datasets = datasets;
    this.lossChart.update('none');
    const first = this.train.ys[0];
    const last = this.train.ys.at(-1);
    this.showLoss('first-loss', first);
    this.showLoss('last-loss', last);
    this.showLoss('val-loss', this.validation.ys.at(-1));
    const cover = this.validationCover;
    if (cover && cover.of > 0 && this.validation.ys.length) {
      // During a run each evaluation reads a bounded part of the validation split; the last reads all of it.
      const part = cover.batches < cover.of ? `on ${cover.batches.toLocaleString('en-US')} of ${cover.of.toLocaleString('en-US')} batches` : 'on the whole split';
      setText(byId('val-loss-sub'), `${byId('val-loss-sub').textContent ?? ''} · ${part}`);
      byId('val-loss').title = cover.batches < cover.of
        ? `Validation loss on the first ${cover.batches} of the split's ${cover.of} batches (a bounded subsample during training; the whole split at the end)`
        : `Validation loss on the whole validation split (${cover.of} batches)`;
    }
    const lastAccuracy = this.accuracy.ys.at(-1);
    setText(byId('accuracy'), percent(lastAccuracy));
    setText(byId('val-accuracy'), percent(this.validationAccuracy.ys.at(-1)));
    byId('val-accuracy').dataset.value = String(this.validationAccuracy.ys.at(-1) ?? '');
    byId('accuracy').dataset.value = lastAccuracy === undefined ? '' : String(lastAccuracy);
    if (this.classifier) {
      const accSmooth = toPoints(this.accuracy.xs, w > 0 ? smoothEma(this.accuracy.ys, w) : this.accuracy.ys);
      this.accuracyChart.data.datasets = [
        { label: 'train', data: accSmooth, borderColor: palette[0], backgroundColor: palette[0] },
        { label: 'validation', data: toPoints(this.validationAccuracy.xs, this.validationAccuracy.ys), borderColor: palette[1], backgroundColor: palette[1], pointRadius: 2 },
      ];
      this.accuracyChart.update('none');
      byId('accuracy-chart').dataset.points = String(this.validationAccuracy.xs.length);
      this.showTask();
    }
    byId('last-loss').dataset.value = last === undefined ? '' : String(last);
    byId('first-loss').dataset.value = first === undefined ? '' : String(first);

    const gradData = toPoints(this.grad.xs, this.grad.ys);
    const gradSets: ChartDataset<'line', XY[]>[] = [{ label: 'gradient norm', data: gradData, borderColor: palette[3], backgroundColor: palette[3] }];
    const clip = this.run?.clip;
    const gradMax = gradData.reduce((m, p) => Math.max(m, p.y), 0);
    // The clip line where the norms come near it; far above them it would squash the curve flat.
    const clipShown = clip !== undefined && gradData.length > 0 && clip <= 1.5 * gradMax;
    this.gradChart.options.plugins!.title!.text = clip === undefined ? 'Gradient norm (before clipping)'
      : clipShown ? 'Gradient norm (before clipping)' : `Gradient norm (before clipping; clip at ${clip}, not reached)`;
    if (clipShown) {
      const x0 = gradData[0].x;
      const x1 = Math.max(gradData.at(-1)!.x, this.run?.totalSteps ?? 0);
      gradSets.push({ label: `clip at ${clip}`, data: [{ x: x0, y: clip }, { x: x1, y: clip }], borderColor: palette[4], backgroundColor: palette[4], borderDash: [6, 4], borderWidth: 1 });
    }
    this.gradChart.data.datasets = gradSets;
    this.gradChart.update('none');
    byId('grad-chart').dataset.points = String(this.grad.xs.length);
    byId('grad-chart').dataset.clip = clip === undefined ? '' : String(clip);

    const mode = this.saturationMode;
    const series = saturationSeries(this.saturation, mode);
    const gates = [...new Set(series.map((s) => s.gate))];
    this.saturationChart.data.datasets = series.map((s) => {
      const color = palette[gates.indexOf(s.gate) % palette.length];
      const c = s.reverse ? withAlpha(color, 0.6) : color;
      return { label: s.label, data: s.data, borderColor: c, backgroundColor: c, borderDash: LAYER_DASH[s.layer % LAYER_DASH.length], pointRadius: 2 };
    });
    this.saturationChart.options.scales!.y!.title!.text = mode === 'low' ? 'fraction below 0.1' : mode === 'high' ? 'fraction above 0.9' : 'fraction below 0.1 or above 0.9';
    this.saturationChart.update('none');
    byId('saturation-chart').dataset.points = String(this.saturation.length);
    byId('saturation-chart').dataset.series = String(series.length);
    this.showEmptyStates();
  }

  /** A loss stat: nats, with bits per char/word/example under it. */
  private showLoss(id: string, nats: number | undefined): void {
    const unit = this.lossUnit;
    const value = nats === undefined ? undefined : unit === 'bits' ? natsToBits(nats) : nats;
    setText(byId(id), value === undefined || !Number.isFinite(value) ? '–' : `${formatNumber(value)}`);
    const other: LossUnit = unit === 'bits' ? 'nats' : 'bits';
    const otherValue = nats === undefined ? undefined : other === 'bits' ? natsToBits(nats) : nats;
    setText(byId(`${id}-sub`), otherValue === undefined || !Number.isFinite(otherValue)
      ? this.lossUnitLabel() : `${this.lossUnitLabel()} · ${formatNumber(otherValue, 3)} ${this.lossUnitLabel(other)}`);
  }
}

/** A log-axis tick: 0.5, 2, 10, 1e-4, 2e5. */
function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-3)) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

function stat(label: string, id: string): HTMLElement {
  return h('div', { class: 'stat', id: `${id}-stat` }, h('span', { class: 'stat-label', id: `${id}-label`, text: label }),
    h('span', { class: 'stat-value', id, 'aria-labelledby': `${id}-label`, text: '–' }),
    ...(id.endsWith('loss') ? [h('span', { class: 'stat-sub', id: `${id}-sub` })] : []));
}

/** Shows or hides an element (display too: the stylesheet's display rules would win over [hidden]). */
function shown(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
  el.style.display = visible ? '' : 'none';
}

function percent(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(1)}%`;
}
