// `gatescope bench --train-run`: the wall time per step of a default "Train char LSTM" run (the run the
// extension's worker makes: evaluations with checkpoint saves, samples, the final full evaluation, the
// events) next to the bare step time of the same model on the same data (no evaluation, no sample), both
// through trainToFile, alternating for `rounds` rounds; medians. Not part of the run: the worker↔host
// messages and the dashboard (another thread and process).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCadence, trainSettings } from '../core/train/settings';
import type { EngineChoice } from '../engines';
import { trainToFile } from '../node/trainRun';
import { intOption, parseCli } from './args';
import { UsageError } from './errors';
import { median } from './stats';

/** The extension's defaults (package.json gatescope.*): LSTM 1×128, 500 steps, batch 32, seq 64, Adam 2e-3, samples of 200. */
const DEFAULT_RUN = { module: 'LSTM', hiddenSize: 128, numLayers: 1, steps: 500, batchSize: 32, seqLen: 64, lr: 0.002, sampleLength: 200 } as const;

interface RunTiming {
  /** Wall time from the first step to the end of the run (final evaluation and save included), per step. */
  readonly wallMsPerStep: number;
  /** Median time between consecutive step events. */
  readonly stepMs: number;
}

async function timeRun(textPath: string, out: string, engine: EngineChoice, steps: number, interactive: boolean): Promise<RunTiming> {
  const cadence = interactive ? runCadence(steps) : { evalEvery: 0, sampleEvery: 0 };
  const settings = trainSettings({
    steps, batchSize: DEFAULT_RUN.batchSize, seqLen: DEFAULT_RUN.seqLen, optimizer: { kind: 'adam', lr: DEFAULT_RUN.lr },
    sampleLength: DEFAULT_RUN.sampleLength, ...cadence,
  });
  const stepTimes: number[] = [];
  let first: number | undefined, last = 0;
  for await (const e of trainToFile({
    textPaths: [textPath], out, engine, settings,
    model: { module: DEFAULT_RUN.module, hiddenSize: DEFAULT_RUN.hiddenSize, numLayers: DEFAULT_RUN.numLayers },
  })) {
    const now = performance.now();
    if (e.kind === 'step') {
      if (first === undefined) first = now;
      else stepTimes.push(now - last);
      last = now;
    }
    if (e.kind === 'done') last = now;
  }
  if (first === undefined || !stepTimes.length) throw new Error('the run made no steps');
  return { wallMsPerStep: (last - first) / (steps - 1), stepMs: median(stepTimes) };
}

/** The bundled sample text (from dist/ or from src/cli/ under tsx). */
function sampleText(): string | undefined {
  return [join(__dirname, '../samples/tinyshakespeare.txt'), join(__dirname, '../../samples/tinyshakespeare.txt')].find((p) => existsSync(p));
}

/** `args` without `--train-run`. */
export async function benchTrainRun(args: string[]): Promise<number> {
  const { values } = parseCli(args, {
    json: { type: 'boolean' }, engine: { type: 'string' }, steps: { type: 'string' }, rounds: { type: 'string' }, text: { type: 'string' },
  });
  const textPath = values.text ?? sampleText();
  if (!textPath) throw new UsageError('no sample text found next to the CLI: give --text FILE');
  const engine = (values.engine ?? 'native') as EngineChoice;
  const steps = intOption(values.steps, '--steps', DEFAULT_RUN.steps, 20);
  const rounds = intOption(values.rounds, '--rounds', 3, 1);
  const dir = mkdtempSync(join(tmpdir(), 'gatescope-bench-run-'));
  const log = (line: string): void => { if (!values.json) process.stdout.write(`${line}\n`); };
  try {
    const text = join(dir, 'input.txt');
    writeFileSync(text, readFileSync(textPath));
    const cadence = runCadence(steps);
    log(`gatescope bench --train-run: a default Train char LSTM run (${DEFAULT_RUN.module} ${DEFAULT_RUN.numLayers}×${DEFAULT_RUN.hiddenSize}, `
      + `${steps} steps, batch ${DEFAULT_RUN.batchSize}, seq ${DEFAULT_RUN.seqLen}; evaluation every ${cadence.evalEvery} steps with a save, `
      + `a ${DEFAULT_RUN.sampleLength}-char sample every ${cadence.sampleEvery}, a full evaluation at the end) against the same run bare, engine ${engine}, ${rounds} rounds`);
    const bare: RunTiming[] = [], full: RunTiming[] = [];
    for (let r = 0; r < rounds; r++) {
      bare.push(await timeRun(text, join(dir, `bare${r}.safetensors`), engine, steps, false));
      full.push(await timeRun(text, join(dir, `run${r}.safetensors`), engine, steps, true));
    }
    const stepMs = median(bare.map((t) => t.stepMs));
    const bareWall = median(bare.map((t) => t.wallMsPerStep));
    const runWall = median(full.map((t) => t.wallMsPerStep));
    const result = { engine, steps, rounds, ...cadence, bareStepMs: stepMs, bareWallMsPerStep: bareWall, runWallMsPerStep: runWall, ratio: runWall / stepMs };
    log(`bare step (median)            ${stepMs.toFixed(2)} ms`);
    log(`bare run, wall per step       ${bareWall.toFixed(2)} ms`);
    log(`default run, wall per step    ${runWall.toFixed(2)} ms  = ${(runWall / stepMs).toFixed(2)}× the bare step (target ≤ 1.25×)`);
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
