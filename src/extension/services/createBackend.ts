// The compute backend: a worker thread running dist/backend-thread.js (built next to the extension), so
// training, tracing and model parsing never block the extension host. The host bundle deliberately does
// not import the in-process backend (it would pull every importer and engine into extension.js).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend';
import { ThreadBackend } from './threadBackend';

export const BACKEND_THREAD_BUNDLE = 'backend-thread.js';

export function createBackend(distDir: string, log: (message: string) => void): Backend {
  const script = join(distDir, BACKEND_THREAD_BUNDLE);
  if (!existsSync(script)) throw new Error(`${script} is missing: the extension was not built completely (npm run build)`);
  log(`compute backend: worker thread (${BACKEND_THREAD_BUNDLE})`);
  return new ThreadBackend(script, log);
}
