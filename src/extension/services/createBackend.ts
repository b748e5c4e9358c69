// The compute backend: the compute worker (dist/worker.js, built next to the extension), so training,
// tracing and model parsing never block the extension host. The host bundle deliberately does not import
// the worker's modules (they would pull every importer and engine into extension.js).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { totalmem } from 'node:os';
import type { Backend } from './backend';
import { WorkerBackend } from './workerBackend';
import { memoryWatchFor, resourceLimitsFor, workerMemoryLimitMb } from '../logic/workerLimits';

export const WORKER_BUNDLE = 'worker.js';

/**
 * `memoryLimitSetting`: gatescope.workerMemoryLimitMb (0: automatic), read each time a worker starts; each
 * worker gets that heap limit, the compute worker also the memory watch.
 */
export function createBackend(distDir: string, log: (message: string) => void, memoryLimitSetting: () => number = () => 0): Backend {
  const script = join(distDir, WORKER_BUNDLE);
  if (!existsSync(script)) throw new Error(`${script} is missing: the extension was not built completely (npm run build)`);
  let announced = 0;
  const limits = () => {
    const mb = workerMemoryLimitMb(memoryLimitSetting(), totalmem());
    if (mb !== announced) log(`workers' memory limit: ${mb} MB (gatescope.workerMemoryLimitMb)`);
    announced = mb;
    return { resourceLimits: resourceLimitsFor(mb), memoryWatch: memoryWatchFor(mb, totalmem(), process.platform) };
  };
  log(`compute backend: worker threads (${WORKER_BUNDLE}): one for training, one for loading and tracing`);
  return new WorkerBackend({ workerPath: script, limits }, log);
}
