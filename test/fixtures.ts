// Where the PyTorch reference fixtures live: test/fixtures/pytorch (committed copy) or ../shared.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const candidates = [resolve(__dirname, 'fixtures/pytorch'), resolve(__dirname, '../../shared/fixtures/pytorch')];
export const FIXTURE_ROOT = candidates.find((p) => existsSync(p)) ?? candidates[0];

export function fixturePath(rel: string): string {
  return join(FIXTURE_ROOT, rel);
}
