// The compute backend: the compute worker (dist/worker.js, built next to the extension), so training,
// tracing and model parsing never block the extension host. The host bundle deliberately does not import
// the worker's modules (they would pull every importer and engine into extension.js).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend';
import { WorkerBackend } from './workerBackend';

export const WORKER_BUNDLE = 'worker.js';

export function createBackend(distDir: string, log: (message: string) => void): Backend {
  const script = join(distDir, WORKER_BUNDLE);
  if (!existsSync(script)) throw new Error(`${script} is missing: the extension was not built completely (npm run build)`);
  log(`compute backend: worker thread (${WORKER_BUNDLE})`);
  return new WorkerBackend({ workerPath: script }, log);
}
