// Picks the compute backend: a worker thread (training and tracing never block the extension host)
// when its bundle is present, else computing on the host in small slices.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend';
import { InHostBackend } from './inHostBackend';
import { ThreadBackend } from './threadBackend';

export const BACKEND_THREAD_BUNDLE = 'backend-thread.js';

export function createBackend(distDir: string, log: (message: string) => void): Backend {
  const script = join(distDir, BACKEND_THREAD_BUNDLE);
  if (existsSync(script)) return new ThreadBackend(script, log);
  log(`compute backend: extension host (${script} is missing)`);
  return new InHostBackend();
}
