// `gatescope train --engine torch` trains with PyTorch (python/gatescope/trainer.py) inside gatescope's own
// loop: with the same seed, data and --dtype float64 it ends where `--engine reference` ends — in one
// process and in two (torch.distributed.run, gloo, each batch's rows split) — for a char LM that carries
// its state across windows and epochs and for a classifier with padded lengths; a run moves between the
// engines with --resume, a cancel stops after the step and saves, and a Python without torch gets one line.
// Runs where /usr/bin/python3 has torch (CI installs Debian's python3-torch).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommandOutput, parseTrainArgs, run as train } from '../../src/cli/train';
import { UsageError } from '../../src/cli/errors';
import type { Checkpoint } from '../../src/core/checkpoint';
import { rnnConfig } from '../../src/core/config';
import type { LmBatch, LmTrainOptions } from '../../src/core/engine';
import { relativeError, values } from '../../src/core/diff/metrics';
import { modelConfig } from '../../src/core/model';
import { initModelParameters } from '../../src/core/init';
import { createRng } from '../../src/core/random';
import { createReferenceLmEngine } from '../../src/core/reference/lmEngine';
import type { TensorMap } from '../../src/core/tensor';
import { readModelFile } from '../../src/node/modelFile';
import { type TrainRequest, trainToFile } from '../../src/node/trainRun';
import { TorchProcess, TorchUnavailableError, createTorchLmEngine } from '../../src/node/torchTrainer';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, torch.distributed as d; assert d.is_available() and d.is_gloo_available(); print(torch.cuda.device_count() if torch.cuda.is_available() else 0)'], { encoding: 'utf8' });
const gpus = probe.status === 0 ? Number(probe.stdout.trim()) : 0;
const skip = probe.status !== 0 && `${PYTHON} cannot import torch with gloo (install Debian's python3-torch): ${(probe.stderr || String(probe.error ?? '')).trim().split('\n').pop()}`;

// The engine-level test's trainer boots while the first tests run.
const early = skip ? null : TorchProcess.launch({ python: PYTHON });
after(() => early?.close(0)); // when that test did not run
const dir = mkdtempSync(join(tmpdir(), 'gatescope-torch-engine-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const TOL = 1e-9;

// A char LM: 5 streams of 8 characters, 12 windows an epoch, so 30 steps cross two epoch boundaries (state
// reset) and the two ranks hold 2 and 3 streams.
const textPath = join(dir, 'play.txt');
writeFileSync(textPath, 'ROMEO:\nBut soft, what light through yonder window breaks?\n'.repeat(9));
const lm = ['--text', textPath, '--hidden', '6', '--layers', '2', '--seq', '8', '--batch', '5', '--eval-every', '10', '--dtype', 'float64',
  '--clip', '0.5', '--lr', '0.01', '--seed', '3'];

// A classifier: words, embedding with padding_idx, bidirectional GRU, max readout, MLP head, SGD with
// Nesterov momentum; batches of 7 bucketed by length (the last of an epoch smaller), 30 steps > 1 epoch.
const topics: Record<string, string[]> = { sports: ['game', 'team', 'win', 'score'], world: ['war', 'minister', 'vote', 'treaty'], tech: ['chip', 'phone', 'cloud', 'code'] };
let seed = 7;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const rows = ['text,label'];
for (let i = 0; i < 110; i++) {
  const label = Object.keys(topics)[i % 3];
  rows.push(`"${Array.from({ length: 2 + Math.floor(rand() * 9) }, () => (rand() < 0.6 ? topics[label][Math.floor(rand() * 4)] : 'the')).join(' ')}",${label}`);
}
const csv = join(dir, 'news.csv');
writeFileSync(csv, rows.join('\n') + '\n');
const cls = ['--data', csv, '--words', '--embedding', '5', '--model', 'gru', '--hidden', '4', '--bidirectional', '--readout', 'max', '--head', '6,relu',
  '--batch', '7', '--eval-every', '10', '--dtype', 'float64', '--optimizer', 'sgd', '--lr', '0.05', '--momentum', '0.9', '--nesterov',
  '--weight-decay', '0.001', '--clip-value', '0.3', '--seed', '5'];

const torch = (nproc: number): string[] => ['--engine', 'torch', '--python', PYTHON, '--nproc', String(nproc)];

async function quietly(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const io: CommandOutput = { out: () => undefined, err: (s) => { stderr += s; }, tty: false };
  const code = await train(args, io);
  return { code, stderr };
}

async function trained(name: string, args: string[]): Promise<Checkpoint> {
  const out = join(dir, `${name}.safetensors`);
  const r = await quietly([...args, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  return readModelFile(out);
}

function assertClose(what: string, a: TensorMap | undefined, b: TensorMap | undefined, tol = TOL): void {
  assert.deepEqual([...(b ?? new Map()).keys()].sort(), [...(a ?? new Map()).keys()].sort(), `${what}: the same tensors`);
  for (const [k, t] of a ?? []) {
    const u = b!.get(k)!;
    assert.deepEqual(u.shape, t.shape, `${what} ${k}: shape`);
    assert.equal(u.dtype, t.dtype, `${what} ${k}: dtype`);
    const err = relativeError(values(t), values(u));
    assert.ok(err <= tol, `${what} ${k}: relative error ${err} > ${tol}`);
  }
}

/**
 * Same weights, optimizer state, carried state, position and histories (losses within TOL). `extraEvalAt`:
 * a step where `b` stopped with `--steps` and so evaluated once more than an uninterrupted run.
 */
function assertSameRun(what: string, a: Checkpoint, b: Checkpoint, extraEvalAt?: number): void {
  assertClose(`${what} params`, a.params, b.params);
  assertClose(`${what} optimizer`, a.optimizer, b.optimizer);
  assertClose(`${what} carried state`, a.carried, b.carried);
  const ta = a.training!, tb = b.training!;
  assert.deepEqual([tb.step, tb.window, tb.epoch, tb.rngState], [ta.step, ta.window, ta.epoch, ta.rngState], `${what}: position`);
  assert.deepEqual(tb.settings, ta.settings, `${what}: settings`);
  for (const key of ['lossHistory', 'validationHistory'] as const) {
    const hb = tb[key].filter((p) => key === 'lossHistory' || p.step !== extraEvalAt);
    assert.deepEqual(hb.map((p) => p.step), ta[key].map((p) => p.step), `${what} ${key}: steps`);
    ta[key].forEach((p, i) => assert.ok(Math.abs(p.loss - hb[i].loss) <= TOL * Math.abs(p.loss), `${what} ${key}[${i}]: ${hb[i].loss} vs ${p.loss}`));
  }
}

test('char LM with carried state: --engine torch, 1 and 2 processes, ends where --engine reference does after 30 steps', { skip, timeout: 120_000 }, async () => {
  // At the same time: the trainers boot (most of the time here) while the others train.
  const [ref, one, two] = await Promise.all([
    trained('lm-ref', [...lm, '--steps', '30', '--engine', 'reference']),
    trained('lm-torch1', [...lm, '--steps', '30', ...torch(1)]),
    trained('lm-torch2', [...lm, '--steps', '30', ...torch(2)]),
  ]);
  assert.equal(ref.training!.epoch, 2, 'the run crosses two epoch boundaries');
  assert.ok(ref.carried?.has('h') && ref.carried.has('c'));
  assert.equal(one.engine, 'torch-cpu');
  assertSameRun('1 process', ref, one);
  assert.equal(two.engine, 'torch-cpu-2p');
  assertSameRun('2 processes', ref, two);
});

test('classifier with lengths (embedding, bidirectional GRU, max readout, MLP head, SGD Nesterov, value clip): torch 1 and 2 processes = reference', { skip, timeout: 120_000 }, async () => {
  const [ref, one, two] = await Promise.all([
    trained('cls-ref', [...cls, '--steps', '30', '--engine', 'reference']),
    trained('cls-torch1', [...cls, '--steps', '30', ...torch(1)]),
    trained('cls-torch2', [...cls, '--steps', '30', ...torch(2)]),
  ]);
  assert.ok(ref.training!.epoch >= 1, 'the run reshuffles into a second epoch');
  assertSameRun('1 process', ref, one);
  assertSameRun('2 processes', ref, two);
});

test('--resume across engines: a cancelled torch run finishes on reference, a reference run on torch (2 processes), exactly', { skip, timeout: 120_000 }, async () => {
  const ref = readModelFile(join(dir, 'lm-ref.safetensors'));
  const torchToReference = async (): Promise<void> => {
    // Cancel (the CLI's Ctrl-C, the extension's stop) after 15 steps: the step finishes, the run is saved.
    const out = join(dir, 'lm-cancelled.safetensors');
    const req = parseTrainArgs([...lm, '--steps', '30', ...torch(1), '--out', out]) as TrainRequest;
    const kinds: string[] = [];
    let steps = 0;
    for await (const e of trainToFile(req, () => steps >= 15)) {
      kinds.push(e.kind);
      if (e.kind === 'step') steps = e.step;
      if (e.kind === 'done') assert.deepEqual([e.reason, e.step], ['cancelled', 15]);
    }
    assert.deepEqual(kinds.filter((k) => k !== 'step'), ['start', 'eval', 'saved', 'saved', 'done']);
    assert.equal(readModelFile(out).training!.step, 15);
    const r = await quietly([...lm, '--resume', '--engine', 'reference', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /carried hidden state was not restored/);
    assertSameRun('torch → reference', ref, readModelFile(out));
  };
  const referenceToTorch = async (): Promise<void> => {
    const half = join(dir, 'lm-half.safetensors');
    assert.equal((await quietly([...lm, '--steps', '15', '--engine', 'reference', '--out', half])).code, 0);
    const resumed = await quietly([...lm, '--steps', '15', '--resume', ...torch(2), '--out', half]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assertSameRun('reference → torch ×2', ref, readModelFile(half), 15);
  };
  await Promise.all([torchToReference(), referenceToTorch()]);
});

test('engine level: RMSprop (centered, momentum) then Adagrad (rebuilt on the change), value + norm clipping, evaluation between steps, a loss that overflows', { skip, timeout: 60_000 }, () => {
  const V = 6;
  const cfg = modelConfig({ rnn: rnnConfig({ module: 'RNN', nonlinearity: 'relu', inputSize: V, hiddenSize: 4, numLayers: 1, dtype: 'float64' }), vocabSize: V, outputSize: V });
  const params = initModelParameters(cfg, createRng(11));
  const batch = (s: number): LmBatch => {
    const rng = createRng(s);
    const lengths = Int32Array.from({ length: 3 }, () => 2 + rng.int(4));
    return { batchSize: 3, seqLen: 5, lengths, inputs: Int32Array.from({ length: 15 }, () => rng.int(V)), targets: Int32Array.from({ length: 15 }, () => rng.int(V)) };
  };
  const ref = createReferenceLmEngine(cfg, params);
  const tch = createTorchLmEngine(cfg, { params, process: early! });
  try {
    const plan: LmTrainOptions[] = [
      ...Array.from({ length: 8 }, (_, i) => ({ optimizer: { kind: 'rmsprop' as const, lr: 0.01 * 0.9 ** i, centered: true, momentum: 0.5, weightDecay: 0.01 }, clip: { value: 0.2, maxNorm: 0.3 }, stateful: false })),
      ...Array.from({ length: 8 }, () => ({ optimizer: { kind: 'adagrad' as const, lr: 0.05, lrDecay: 0.01, initialAccumulatorValue: 0.1 }, clip: { maxNorm: 1 }, stateful: false })),
    ];
    plan.forEach((o, i) => {
      const a = ref.trainStep(batch(i), o), b = tch.trainStep(batch(i), o);
      assert.ok(Math.abs(a.loss - b.loss) <= 1e-12 * a.loss && Math.abs(a.gradNorm - b.gradNorm) <= 1e-12 * a.gradNorm, `step ${i}: ${JSON.stringify([a, b])}`);
      const ea = ref.evaluate(batch(100 + i), false), eb = tch.evaluate(batch(100 + i), false);
      assert.ok(Math.abs(ea.loss - eb.loss) <= 1e-12 * ea.loss, `evaluation ${i}`);
    });
    assertClose('params', ref.getParameters(), tch.getParameters());
    assertClose('optimizer', ref.getOptimizerState(), tch.getOptimizerState());
    // A loss that is no number comes back as one (NaN, ±Infinity), so the session can roll back.
    const blown = new Map(ref.getParameters());
    const w = blown.get('head.weight')!;
    blown.set('head.weight', { ...w, data: (w.data as Float64Array).map((v) => v * 1e308) });
    ref.setParameters(blown);
    tch.setParameters(blown);
    const a = ref.trainStep(batch(99), plan[0]), b = tch.trainStep(batch(99), plan[0]);
    assert.ok(!Number.isFinite(a.loss) && !Number.isFinite(b.loss), `${a.loss} ${b.loss}`);
  } finally {
    tch.dispose();
  }
});

test('a Python without torch, or none at all: one line saying so', { skip: process.platform === 'win32' && 'needs a shell script as the Python', timeout: 60_000 }, async () => {
  // A real interpreter whose `import torch` fails the way a missing package does.
  const fake = join(dir, 'no-torch');
  mkdirSync(join(fake, 'torch'), { recursive: true });
  writeFileSync(join(fake, 'torch', '__init__.py'), 'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n');
  const py = join(fake, 'python');
  writeFileSync(py, `#!/bin/sh\nPYTHONPATH="${fake}:$PYTHONPATH" exec ${PYTHON} "$@"\n`);
  chmodSync(py, 0o755);
  const out = join(dir, 'never.safetensors');
  const r = await quietly([...lm, '--steps', '2', '--engine', 'torch', '--python', py, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^gatescope train: the torch engine needs PyTorch, and .*no-torch\/python cannot import torch \(No module named 'torch'\); install it .* or give --python PATH\n$/);
  const missing = await quietly([...lm, '--steps', '2', '--engine', 'torch', '--python', join(dir, 'nowhere', 'python3'), '--out', out]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^gatescope train: cannot run .*nowhere\/python3: not found \(the torch engine runs --python PY, default python3\)\n$/);
  assert.throws(() => createTorchLmEngine(modelConfig({ rnn: rnnConfig({ module: 'GRU', inputSize: 3, hiddenSize: 2, gruReset: 'before' }), vocabSize: 3, outputSize: 3 }),
    { params: new Map() }), (e: Error) => e instanceof TorchUnavailableError && /resets before the recurrent product/.test(e.message));
});

test('--device cuda: trains on the GPU when there is one (float32, 1 and 2 processes with nccl when there are two), else says why in one line', { skip, timeout: 120_000 }, async () => {
  const out = join(dir, 'cuda.safetensors');
  const args = [...lm.map((a) => (a === 'float64' ? 'float32' : a)), '--steps', '4', '--engine', 'torch', '--python', PYTHON, '--device', 'cuda', '--out', out];
  if (!gpus) {
    const r = await quietly(args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^gatescope train: --device cuda: torch \S+ in \S+ sees no CUDA device \(torch\.cuda\.is_available\(\) is False\)\n$/);
    return;
  }
  for (const nproc of gpus >= 2 ? [1, 2] : [1]) {
    const r = await quietly([...args, '--nproc', String(nproc)]);
    assert.equal(r.code, 0, r.stderr);
    const ck = readModelFile(out);
    assert.equal(ck.engine, `torch-cuda${nproc > 1 ? '-2p' : ''}`);
    assert.equal(ck.training!.step, 4);
    assert.ok(ck.training!.lossHistory.every((p) => Number.isFinite(p.loss)));
  }
});

test('CLI flags: --python / --nproc / --device belong to --engine torch', () => {
  const req = parseTrainArgs(['--text', textPath, '--out', 'x.safetensors', '--engine', 'torch', '--nproc', '2', '--device', 'cuda', '--python', 'py']) as TrainRequest;
  assert.deepEqual([req.engine, req.torch], ['torch', { python: 'py', nproc: 2, device: 'cuda' }]);
  assert.throws(() => parseTrainArgs(['--text', textPath, '--out', 'x', '--nproc', '2']), (e: Error) => e instanceof UsageError && /--nproc applies to --engine torch/.test(e.message));
  assert.throws(() => parseTrainArgs(['--text', textPath, '--out', 'x', '--engine', 'torch', '--device', 'tpu']), (e: Error) => e instanceof UsageError && /--device must be cpu or cuda/.test(e.message));
  assert.throws(() => parseTrainArgs(['--text', textPath, '--out', 'x', '--engine', 'torch', '--nproc', '0']), (e: Error) => e instanceof UsageError && /--nproc must be a positive integer/.test(e.message));
});
