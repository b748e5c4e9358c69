// Picks the compute backend: the worker thread (so training and tracing never block the extension
// host) when its bundle is present, else the in-host fallback.
import type { Backend } from './backend';
import { InHostBackend } from './inHostBackend';

export function createBackend(_distDir: string, log: (message: string) => void): Backend {
  log('compute backend: extension host (worker client not available in this build)');
  return new InHostBackend();
}
