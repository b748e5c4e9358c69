// Webview entry: one bundle for the three views; the host's HTML names the view in <body data-view>.
// The webview says "ready" first; the host answers with everything the view needs.
import { assertNever, VIEW_KINDS, type ToWebviewMessage, type ViewKind } from '../src/protocol/webview';
import { DashboardView } from './dashboard';
import { DiffView } from './diff';
import { TraceView } from './trace';
import { HostChannel } from './vscodeApi';

interface View {
  handle(m: ToWebviewMessage): void;
}

function createView(kind: ViewKind, host: HostChannel, root: HTMLElement): View {
  switch (kind) {
    case 'dashboard': return new DashboardView(host, root);
    case 'trace': return new TraceView(host, root);
    case 'diff': return new DiffView(host, root);
    default: return assertNever(kind, 'view kind');
  }
}

function start(): void {
  const kind = document.body.dataset.view as ViewKind;
  if (!VIEW_KINDS.includes(kind)) throw new Error(`webview: unknown view "${String(kind)}"`);
  const host = new HostChannel();
  const root = document.getElementById('app')!;
  const view = createView(kind, host, root);
  host.onMessage((m) => {
    if (m.type === 'init') {
      document.body.dataset.theme = m.theme;
      return;
    }
    if (m.type === 'error') {
      const el = document.getElementById('app-error');
      if (el) el.textContent = m.message;
      return;
    }
    view.handle(m);
  });
  host.post({ type: 'ready', view: kind });
}

start();
