// The webview's side of the host protocol: typed posting, request/response matching by id, and the
// persisted view state (vscode.getState/setState survives hiding and reloads).
import { isToWebviewMessage, type FromWebviewMessage, type ToWebviewMessage } from '../src/protocol/webview';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

type Handler = (m: ToWebviewMessage) => void;

export class HostChannel {
  private readonly api: VsCodeApi = acquireVsCodeApi();
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: ToWebviewMessage) => void; reject: (e: Error) => void }>();
  private handler: Handler = () => undefined;

  constructor() {
    window.addEventListener('message', (ev: MessageEvent) => {
      const m: unknown = ev.data;
      if (!isToWebviewMessage(m)) return;
      const id = 'id' in m ? m.id : undefined;
      if (typeof id === 'number' && this.waiting.has(id)) {
        const w = this.waiting.get(id)!;
        this.waiting.delete(id);
        if (m.type === 'error') w.reject(new Error(m.message));
        else w.resolve(m);
        return;
      }
      this.handler(m);
    });
    window.addEventListener('error', (ev) => this.post({ type: 'webviewError', message: String(ev.message) }));
  }

  onMessage(handler: Handler): void {
    this.handler = handler;
  }

  post(message: FromWebviewMessage): void {
    this.api.postMessage(message);
  }

  /** Sends a request built with a fresh id; resolves with the response carrying that id. */
  request<R extends ToWebviewMessage>(build: (id: number) => FromWebviewMessage): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (m: ToWebviewMessage) => void, reject });
      this.post(build(id));
    });
  }

  getState(): unknown {
    return this.api.getState();
  }

  setState(state: unknown): void {
    this.api.setState(state);
  }
}

/** document.getElementById that fails loudly: the HTML and the code must agree on ids. */
export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`webview: element #${id} is missing`);
  return el as T;
}

/** A CSS custom property's value (theme colours come from --vscode-* variables). */
export function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}
