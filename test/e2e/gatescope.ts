// gatescope-specific pieces shared by the e2e scenarios: small training settings, the bundled sample
// text, the dashboard webview, and the CLI (the oracle the UI is checked against).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Frame } from 'playwright-core';
import { REPO, WaitFailed, waitFor, type Session } from './harness';

/** A small, fast model: the scenarios test the product, not the optimizer. */
export const SMALL_TRAINING = {
  'gatescope.model': 'LSTM',
  'gatescope.hiddenSize': 32,
  'gatescope.numLayers': 1,
  'gatescope.sequenceLength': 32,
  'gatescope.batchSize': 16,
  'gatescope.steps': 80,
  'gatescope.learningRate': 0.01,
  'gatescope.sampleLength': 80,
  'gatescope.sampleTemperatures': [0.8],
};

/** The first `chars` characters of the bundled sample (tiny Shakespeare), as workspace file contents. */
export function shakespeare(chars = 20_000): { text: string } {
  return { text: readFileSync(join(REPO, 'samples/tinyshakespeare.txt'), 'utf8').slice(0, chars) };
}

export const TRAIN_TITLE = 'gatescope: Train char LSTM';
export const TRACE_TITLE = 'gatescope: Trace';

/** The dashboard's webview frame (it holds #last-loss). */
export function dashboard(s: Session, timeoutMs = 90_000): Promise<Frame> {
  return s.webviewFrame('#last-loss', 'the training dashboard', timeoutMs);
}

export async function text(frame: Frame, selector: string): Promise<string> {
  return (await frame.locator(selector).first().textContent())?.trim() ?? '';
}

/** The step the dashboard shows ("1,234 / 20,000" reads 1234). */
export async function stepShown(frame: Frame): Promise<number> {
  return Number((await text(frame, '#step')).split('/')[0].replaceAll(',', '').trim());
}

/** Waits until the dashboard's run status reads one of `statuses`; fails early on "failed". */
export async function waitForRunStatus(frame: Frame, statuses: string[], timeoutMs = 240_000): Promise<string> {
  return waitFor(`the run status to become ${statuses.join(' or ')}`, async () => {
    const status = (await text(frame, '#run-status')).toLowerCase();
    if (/fail|error/.test(status)) throw new WaitFailed(`the run failed: "${status}"`);
    return statuses.find((st) => status.includes(st));
  }, timeoutMs, 1000);
}

/** The first/last training loss the dashboard shows (its data-value attributes). */
export async function losses(frame: Frame): Promise<{ first: number; last: number }> {
  const read = async (id: string) => Number(await frame.locator(id).getAttribute('data-value'));
  return waitFor('loss values on the dashboard', async () => {
    const first = await read('#first-loss');
    const last = await read('#last-loss');
    return Number.isFinite(first) && Number.isFinite(last) && first > 0 ? { first, last } : undefined;
  }, 60_000, 500);
}

/** How many points the gradient-norm chart and the gate-saturation chart hold (their data-points). */
export async function chartPoints(frame: Frame): Promise<{ gradNorm: number; saturation: number }> {
  const read = async (id: string) => Number(await frame.locator(id).getAttribute('data-points'));
  return { gradNorm: await read('#grad-chart'), saturation: await read('#saturation-chart') };
}

const exec = promisify(execFile);

/** Runs the gatescope CLI (the built dist/cli.js); returns stdout, or throws with stderr. */
export async function cli(args: string[], cwd = REPO): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, [join(REPO, 'dist/cli.js'), ...args], { cwd, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`gatescope ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}
