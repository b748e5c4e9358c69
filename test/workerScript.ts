// The compute worker run from source in tests: a tiny bootstrap that loads tsx's require hook, then
// src/worker/main.ts (the build bundles the same entry to dist/worker.js).
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Writes the bootstrap into `dir` and returns its path (a WorkerClient's workerPath). */
export function workerScript(dir: string): string {
  const path = join(dir, 'worker-bootstrap.cjs');
  writeFileSync(path, `require(${JSON.stringify(require.resolve('tsx/cjs'))});\nrequire(${JSON.stringify(resolve(__dirname, '../src/worker/main.ts'))});\n`);
  return path;
}
