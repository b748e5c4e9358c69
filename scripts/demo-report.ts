// The headless demo's report: one self-contained HTML page showing the extension's own webview bundle
// (dist/webview.js) twice — the training dashboard and the trace view — fed from a trained model file,
// a `gatescope trace` output and a sample, instead of from the extension host. A small stand-in for
// acquireVsCodeApi() replays the protocol messages (src/protocol/webview.ts) and answers window requests.
// Usage: node --import tsx scripts/demo-report.ts --model M.safetensors --trace T.safetensors
//          --text EXCERPT.txt --sample SAMPLE.txt --out report.html
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseCheckpoint } from '../src/core/checkpoint';
import { describeModel } from '../src/core/model';
import { learningRateAt } from '../src/core/train/settings';
import { parseSafetensors } from '../src/core/formats/safetensors';
import type { DashboardHistoryMessage, StepEvent, ToWebviewMessage, TraceLayout } from '../src/protocol/webview';

const root = join(__dirname, '..');
const { values } = parseArgs({ options: {
  model: { type: 'string' }, trace: { type: 'string' }, text: { type: 'string' }, sample: { type: 'string' }, out: { type: 'string' },
} });
for (const k of ['model', 'trace', 'text', 'sample', 'out'] as const) {
  if (!values[k]) { console.error(`demo-report: missing --${k}`); process.exit(2); }
}

const ck = parseCheckpoint(new Uint8Array(readFileSync(values.model!)), values.model!);
const trace = parseSafetensors(new Uint8Array(readFileSync(values.trace!)), values.trace!).tensors;
const text = readFileSync(values.text!, 'utf8');
const sample = readFileSync(values.sample!, 'utf8');
const rnn = ck.config.rnn;
const history = ck.training?.lossHistory ?? [];
const validation = ck.training?.validationHistory ?? [];
const f64 = (xs: readonly number[]) => new Float64Array(xs).buffer;

const training = ck.training;
const settings = training?.settings;
const run = { runId: 'demo', label: `${rnn.module} ${rnn.numLayers}×${rnn.hiddenSize} on ${basename(training?.data.sources[0] ?? values.text!)}`,
  status: 'done' as const, totalSteps: settings?.steps ?? history.length, engine: ck.engine, model: describeModel(ck.config),
  ...(settings ? { evalEvery: settings.evalEvery, sampleEvery: settings.sampleEvery, ...(settings.clip > 0 ? { clip: settings.clip } : {}) } : {}) };
const withGrad = history.filter((p) => p.gradNorm !== undefined);
const lastPoint = history.at(-1);
// The figures the dashboard's cards show for the run's last step (a finished run: its average speed).
const lastStep: StepEvent | undefined = lastPoint && training && settings ? {
  kind: 'step', step: lastPoint.step, totalSteps: settings.steps, epoch: training.epoch, loss: lastPoint.loss, gradNorm: lastPoint.gradNorm ?? NaN,
  lr: learningRateAt(settings, lastPoint.step), elapsedSeconds: training.elapsedSeconds,
  tokensPerSecond: (lastPoint.step * settings.batchSize * settings.seqLen) / Math.max(training.elapsedSeconds, 1e-9),
} : undefined;
const dashboardHistory: DashboardHistoryMessage = {
  type: 'dashboardHistory', run,
  train: { steps: f64(history.map((p) => p.step)), values: f64(history.map((p) => p.loss)) },
  validation: { steps: f64(validation.map((p) => p.step)), values: f64(validation.map((p) => p.loss)) },
  gradNorm: { steps: f64(withGrad.map((p) => p.step)), values: f64(withGrad.map((p) => p.gradNorm!)) },
  saturation: validation.filter((p) => p.saturation).map((p) => ({ step: p.step, entries: p.saturation! })),
  ...(lastStep ? { lastStep } : {}),
  samples: [{ step: training?.step ?? 0, temperature: 0.8, text: sample }],
};

// Trace tensors trace_l{l}_{h|c|gate_*}: [T, H] float32.
const kinds = [...trace.keys()].filter((k) => k.startsWith('trace_l0_')).map((k) => k.slice('trace_l0_'.length));
const offsets = Array.from(trace.get('offsets')!.data as ArrayLike<number>);
const T = offsets.length - 1;
const layout: TraceLayout = { traceId: 'demo', documentLabel: basename(values.text!), module: rnn.module, length: T,
  hiddenSize: rnn.hiddenSize, numLayers: rnn.numLayers, directions: 1, tensors: kinds };
const tensors: Record<string, ArrayBuffer> = {};
for (let l = 0; l < rnn.numLayers; l++) {
  for (const kind of kinds) {
    const t = trace.get(`trace_l${l}_${kind}`)!;
    tensors[`${l}_${kind}`] = new Float32Array(t.data as ArrayLike<number>).buffer;
  }
}
const tokens = Array.from({ length: T }, (_, k) => text.slice(offsets[k], offsets[k + 1]));

/** JSON with ArrayBuffers as {"$b64": "..."} (the page turns them back into ArrayBuffers). */
function encode(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (v instanceof ArrayBuffer ? { $b64: Buffer.from(v).toString('base64') } : v))
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const theme: ToWebviewMessage = { type: 'init', view: 'dashboard', theme: 'light' };
// Runs in the page before the bundle: the host side of the protocol, from embedded data.
const hostShim = (data: string) => `
const DATA = JSON.parse(${JSON.stringify(data)}, (k, v) => v && typeof v === 'object' && typeof v.$b64 === 'string'
  ? Uint8Array.from(atob(v.$b64), (c) => c.charCodeAt(0)).buffer : v);
let savedState;
const send = (m) => setTimeout(() => window.postMessage(m, '*'), 0);
window.acquireVsCodeApi = () => ({
  getState: () => savedState, setState: (s) => { savedState = s; },
  postMessage(m) {
    switch (m.type) {
      case 'ready': for (const msg of DATA.onReady) send(msg); break;
      case 'requestWindow': {
        const t = DATA.tensors[m.selector.layer + '_' + m.selector.tensor];
        if (!t) { send({ type: 'error', id: m.id, message: 'no such tensor in this report' }); break; }
        const H = DATA.hiddenSize;
        send({ type: 'window', id: m.id, traceId: m.traceId, selector: m.selector, start: m.start, end: m.end,
          tokens: DATA.tokens.slice(m.start, m.end), data: t.slice(m.start * H * 4, m.end * H * 4) });
        break;
      }
      case 'findSpans': send({ type: 'error', id: m.id, message: 'span search needs the extension (static report)' }); break;
      default: break; // selections, reveal-in-editor: nothing to do in a static page
    }
  },
});`;

const bundle = readFileSync(join(root, 'dist/webview.js'), 'utf8');
const css = readFileSync(join(root, 'media/webview.css'), 'utf8');
/** Text for HTML element content or a quoted attribute: everything from a file (engine, names, numbers) goes through this. */
const escapeHtml = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const escapeScript = (s: string) => s.replace(/<\/script/gi, '<\\/script');
// Light theme values for the --vscode-* variables the webview reads (VS Code injects them in the editor).
const vscodeVars = `:root{--vscode-foreground:#3b3b3b;--vscode-editor-background:#fff;--vscode-font-family:system-ui,sans-serif;
--vscode-font-size:13px;--vscode-editor-font-family:monospace;--vscode-button-background:#005fb8;--vscode-button-foreground:#fff;
--vscode-input-background:#fff;--vscode-input-foreground:#3b3b3b;--vscode-panel-border:#e5e5e5;--vscode-descriptionForeground:#717171}
body{background:var(--vscode-editor-background);color:var(--vscode-foreground);font-family:var(--vscode-font-family)}`;

// Each view is an iframe whose document the page assembles at load time from inert text blocks: the
// bundle and the style sheet are in the file once, not once per view (and not entity-escaped in srcdoc).
const BUNDLE_SLOT = '<!--gatescope-bundle-->';
function viewPage(view: 'dashboard' | 'trace', data: object): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><style>${vscodeVars}\n${css}</style></head>
<body data-view="${view}"><div id="app-error" role="alert"></div><main id="app"></main>
<script>${escapeScript(hostShim(encode(data)))}</script>${BUNDLE_SLOT}</body></html>`;
}
/** An inert block holding text for the page's script (never parsed as HTML or run). */
const textBlock = (id: string, text: string) => `<script type="text/plain" id="${id}">${escapeScript(text)}</script>`;

const dashboardPage = viewPage('dashboard', { onReady: [theme, dashboardHistory], tensors: {}, tokens: [], hiddenSize: 0 });
const tracePage = viewPage('trace', { onReady: [{ ...theme, view: 'trace' }, { type: 'traceLayout', layout }], tensors, tokens,
  hiddenSize: rnn.hiddenSize });
const loss = (x: unknown): string => (typeof x === 'number' ? x.toFixed(3) : escapeHtml(x));
const first = history[0]?.loss;
const last = history.at(-1)?.loss;
const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>gatescope demo report</title>
<style>body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}iframe{width:100%;border:1px solid #ddd;border-radius:4px}
pre{background:#f6f6f6;padding:.75rem;white-space:pre-wrap}</style></head><body>
<h1>gatescope demo</h1>
<p>${escapeHtml(run.label)}: ${history.length ? `${escapeHtml(history.at(-1)!.step)} steps, training loss ${loss(first)} → ${loss(last)} nats/char` : 'no training history'},
engine ${escapeHtml(ck.engine)}. Trace of the first ${T} characters; the views below are the extension's own webviews.</p>
<h2>Training</h2><iframe id="dashboard" title="training dashboard" style="height:900px"></iframe>
<h2>Sample (temperature 0.8)</h2><pre id="sample">${escapeHtml(sample)}</pre>
<h2>Trace</h2><iframe id="trace" title="trace view" style="height:720px"></iframe>
${textBlock('bundle', bundle)}${textBlock('page-dashboard', dashboardPage)}${textBlock('page-trace', tracePage)}
<script>
// The pages' own tags were written as <\\/script to sit in the text blocks; the bundle stays as written (the
// same JavaScript either way) so that it cannot close the script element it is put in.
const bundle = document.getElementById('bundle').textContent;
for (const view of ['dashboard', 'trace']) {
  const page = document.getElementById('page-' + view).textContent.replace(/<\\\\\\/script/gi, '</script');
  const at = page.indexOf(${JSON.stringify(BUNDLE_SLOT)});
  document.getElementById(view).srcdoc = page.slice(0, at) + '<script>' + bundle + '</' + 'script>' + page.slice(at + ${JSON.stringify(BUNDLE_SLOT)}.length);
}
</script>
</body></html>`;
writeFileSync(values.out!, html);
console.log(`wrote ${values.out} (${(html.length / 1e6).toFixed(1)} MB)`);
