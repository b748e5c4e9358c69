// gatescope train --text FILE... | --data FILE|DIR --out MODEL.safetensors: trains a char or word language
// model, or a sequence classifier, with a progress line on stderr; Ctrl-C stops after the current step and
// saves, --resume continues exactly (on any engine, --engine torch included).
import { existsSync } from 'node:fs';
import type { OptimizerKind } from '../core/engine';
import type { TrainSettings } from '../core/checkpoint';
import type { RnnModule } from '../core/config';
import { READOUTS, type Readout, parseHeadSpec } from '../core/model';
import type { ModelShape } from '../core/train/model';
import { TrainingDivergedError } from '../core/train/events';
import { DataTooSmallError } from '../core/train/session';
import { FormatError } from '../core/formats/safetensors';
import { EngineUnavailableError } from '../engines/index';
import { type TrainEngine, type TrainRequest, type TrainRunEvent, TrainInputError, trainToFile } from '../node/trainRun';
import { TorchTrainerError, TorchUnavailableError } from '../node/torchTrainer';
import { TextSourceError } from '../node/textSources';
import { ModelFileError } from '../node/modelFile';
import { parseCli } from './args';
import { UsageError } from './errors';

const HELP = `usage: gatescope train --text FILE... --out MODEL.safetensors [options]      (language model)
       gatescope train --data FILE|DIR --out MODEL.safetensors [options]     (sequence classifier)
Data
  --text FILE        training text; repeat or use a glob ("docs/**/*.md"); binary files are skipped
  --data FILE|DIR    labelled examples: CSV/TSV (text and label columns), JSON Lines {"text":..,"label":..},
                     or a folder with one subfolder of .txt files per class; labels are names or integers
  --text-column C    --label-column C   column name or 0-based index (CSV/TSV; default: detected)
  --header / --no-header                 whether the CSV/TSV's first row names the columns (default: detected)
  --max-length N     classifier: truncate sequences to N tokens (400)
  --words            word-level tokens (torchtext basic_english) instead of characters; --min-freq N
  --validation F     fraction held out for validation (0.1)
  --out FILE         model file (safetensors, loadable in PyTorch); saved at every evaluation and on Ctrl-C
  --resume           continue the run saved in --out (--steps / --epochs / --minutes then count from there)
Model
  --model M          lstm (default), gru, rnn (tanh) or rnn-relu
  --hidden N         hidden size (128)              --layers N       stacked layers (1)
  --bidirectional    bidirectional layers           --no-bias        layers without biases
  --embedding E      nn.Embedding of width E (default: one-hot tokens)
  --dropout P        nn.LSTM dropout between layers (training only)
  --readout R        per_step (language model), or last (default for --data), mean, max (classifier)
  --head SPEC        layers before the output Linear, e.g. 128,relu,dropout0.2 (default: one Linear)
  --dtype D          float32 (default) or float64 (reference, js and torch engines; matches PyTorch bit for bit)
Training
  --seq N            BPTT window (64)               --batch N        sequences per step (32)
  --steps N          optimizer steps (1000)         --epochs N       passes over the data instead of --steps
  --minutes M        stop and save after M minutes of training
  --optimizer O      adam (default), sgd, rmsprop or adagrad
  --lr X             learning rate (adam 0.002, sgd 0.1, rmsprop 0.002, adagrad 0.01)
  --momentum X       sgd / rmsprop momentum          --nesterov       sgd Nesterov momentum
  --weight-decay X   L2 penalty added to the gradient (torch.optim's weight_decay)
  --clip X           max gradient norm (5; 0 = off) --clip-value X   clamp each gradient to ±X
  --lr-decay F@N     multiply the rate by F every N steps, e.g. 0.5@2000
  --eval-every N     validation + checkpoint interval in steps (250)
  --shuffle          independent random windows instead of stateful streams (language model)
  --seed N           (1)
  --engine E         auto (default), native, wasm, js, reference, tfjs, or torch (PyTorch, below)
PyTorch (--engine torch: the same model, loop, checkpoints and events, trained by torch.optim in your Python)
  --python PY        the Python that has torch (default python3 on PATH)
  --nproc N          processes (1); N > 1 runs torch.distributed.run with DistributedDataParallel, each batch's
                     rows split across them (gloo on cpu, nccl on cuda)
  --device D         cpu (default) or cuda (rank r uses GPU r)
`;

const MODULES: Record<string, { module: RnnModule; nonlinearity?: 'tanh' | 'relu' }> = {
  lstm: { module: 'LSTM' }, gru: { module: 'GRU' }, rnn: { module: 'RNN', nonlinearity: 'tanh' },
  'rnn-tanh': { module: 'RNN', nonlinearity: 'tanh' }, 'rnn-relu': { module: 'RNN', nonlinearity: 'relu' },
};
const OPTIMIZERS: readonly OptimizerKind[] = ['adam', 'sgd', 'rmsprop', 'adagrad'];
const ENGINES: readonly TrainEngine[] = ['auto', 'native', 'wasm', 'js', 'reference', 'tfjs', 'torch'];

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}

function nonNegative(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a number >= 0, got "${v}"`);
  return n;
}

function fraction(v: string | undefined, flag: string): number | undefined {
  const n = nonNegative(v, flag);
  if (n !== undefined && !(n < 1)) throw new UsageError(`${flag} must be in [0, 1), got "${v}"`);
  return n;
}

/** A column given as a 0-based index or a name. */
const column = (v: string | undefined): string | number | undefined => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export function parseTrainArgs(args: string[]): TrainRequest | 'help' {
  const { values } = parseCli(args, {
    text: { type: 'string', multiple: true }, data: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' },
    'text-column': { type: 'string' }, 'label-column': { type: 'string' }, header: { type: 'boolean' }, 'no-header': { type: 'boolean' },
    'max-length': { type: 'string' }, validation: { type: 'string' },
    model: { type: 'string' }, hidden: { type: 'string' }, layers: { type: 'string' }, bidirectional: { type: 'boolean' },
    'no-bias': { type: 'boolean' }, embedding: { type: 'string' }, dropout: { type: 'string' }, readout: { type: 'string' },
    head: { type: 'string' }, dtype: { type: 'string' },
    seq: { type: 'string' }, batch: { type: 'string' }, steps: { type: 'string' }, epochs: { type: 'string' }, minutes: { type: 'string' },
    lr: { type: 'string' }, optimizer: { type: 'string' }, momentum: { type: 'string' }, nesterov: { type: 'boolean' },
    'weight-decay': { type: 'string' }, clip: { type: 'string' }, 'clip-value': { type: 'string' }, seed: { type: 'string' },
    'lr-decay': { type: 'string' }, 'eval-every': { type: 'string' }, shuffle: { type: 'boolean' },
    words: { type: 'boolean' }, 'min-freq': { type: 'string' }, engine: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    python: { type: 'string' }, nproc: { type: 'string' }, device: { type: 'string' },
  });
  if (values.help) return 'help';
  if (values.text?.length && values.data) throw new UsageError('give --text (language model) or --data (classifier), not both');
  if (!values.text?.length && !values.data) throw new UsageError('missing --text FILE (language model) or --data FILE|DIR (classifier)');
  if (!values.out) throw new UsageError('missing --out MODEL.safetensors');
  if (values.steps !== undefined && values.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  if (values.header && values['no-header']) throw new UsageError('give --header or --no-header, not both');
  const kind = values.model === undefined ? undefined : MODULES[values.model.toLowerCase()];
  if (values.model !== undefined && !kind) throw new UsageError(`--model must be lstm, gru, rnn or rnn-relu, got "${values.model}"`);
  const readout = values.readout as Readout | undefined;
  if (readout !== undefined && !READOUTS.includes(readout)) throw new UsageError(`--readout must be one of ${READOUTS.join(', ')}, got "${values.readout}"`);
  if (values.data && readout === 'per_step') throw new UsageError('--readout per_step is a language model: a classifier reads out last, mean or max');
  if (values.text?.length && readout !== undefined && readout !== 'per_step') throw new UsageError(`--readout ${readout} is for a classifier: give --data`);
  if (values.dtype !== undefined && values.dtype !== 'float32' && values.dtype !== 'float64') throw new UsageError(`--dtype must be float32 or float64, got "${values.dtype}"`);
  if (values.head !== undefined) {
    try {
      parseHeadSpec(values.head, 1, 1);
    } catch (e) {
      throw new UsageError(`--head: ${(e as Error).message}`);
    }
  }
  const optimizer = (values.optimizer ?? 'adam') as OptimizerKind;
  if (!OPTIMIZERS.includes(optimizer)) throw new UsageError(`--optimizer must be one of ${OPTIMIZERS.join(', ')}, got "${values.optimizer}"`);
  if (values.nesterov && optimizer !== 'sgd') throw new UsageError('--nesterov applies to --optimizer sgd');
  const momentum = nonNegative(values.momentum, '--momentum');
  if (momentum !== undefined && optimizer !== 'sgd' && optimizer !== 'rmsprop') throw new UsageError('--momentum applies to sgd and rmsprop');
  if (values.nesterov && !momentum) throw new UsageError('--nesterov needs --momentum > 0');
  const engine = (values.engine ?? 'auto') as TrainEngine;
  if (!ENGINES.includes(engine)) throw new UsageError(`--engine must be one of ${ENGINES.join(', ')}, got "${values.engine}"`);
  for (const flag of ['python', 'nproc', 'device'] as const) {
    if (values[flag] !== undefined && engine !== 'torch') throw new UsageError(`--${flag} applies to --engine torch`);
  }
  if (values.device !== undefined && values.device !== 'cpu' && values.device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got "${values.device}"`);
  if (values.python !== undefined && !values.python.trim()) throw new UsageError('--python needs the path or name of a Python');
  const torch = engine === 'torch'
    ? defined({ python: values.python, nproc: positiveInt(values.nproc, '--nproc'), device: values.device as 'cpu' | 'cuda' | undefined })
    : undefined;
  let lrDecay: TrainSettings['lrDecay'];
  if (values['lr-decay'] !== undefined) {
    const m = /^([0-9.eE+-]+)@(\d+)$/.exec(values['lr-decay']);
    if (!m || !(Number(m[1]) > 0) || !(Number(m[2]) > 0)) throw new UsageError(`--lr-decay must look like 0.5@2000, got "${values['lr-decay']}"`);
    lrDecay = { factor: Number(m[1]), every: Number(m[2]) };
  }
  const lr = nonNegative(values.lr, '--lr');
  const defaultLr = optimizer === 'adam' ? 2e-3 : optimizer === 'sgd' ? 0.1 : optimizer === 'rmsprop' ? 2e-3 : 0.01;
  const epochs = nonNegative(values.epochs, '--epochs');
  const minutes = nonNegative(values.minutes, '--minutes');
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
  const clipValue = nonNegative(values['clip-value'], '--clip-value');
  const settings: Partial<TrainSettings> = defined({
    seqLen: positiveInt(values.seq, '--seq'), batchSize: positiveInt(values.batch, '--batch'),
    steps: positiveInt(values.steps, '--steps'), clip: nonNegative(values.clip, '--clip'), seed,
    clipValue: clipValue || undefined, maxLength: positiveInt(values['max-length'], '--max-length'),
    validationFraction: fraction(values.validation, '--validation'),
    evalEvery: positiveInt(values['eval-every'], '--eval-every'), shuffle: values.shuffle, lrDecay,
    optimizer: {
      kind: optimizer, lr: lr ?? defaultLr,
      ...defined({ momentum, nesterov: values.nesterov, weightDecay: nonNegative(values['weight-decay'], '--weight-decay') }),
    },
  });
  const dropout = fraction(values.dropout, '--dropout');
  const model: Partial<ModelShape> = defined({
    module: kind?.module, nonlinearity: kind?.nonlinearity,
    hiddenSize: positiveInt(values.hidden, '--hidden'), numLayers: positiveInt(values.layers, '--layers'),
    bidirectional: values.bidirectional, bias: values['no-bias'] ? false : undefined,
    embeddingDim: positiveInt(values.embedding, '--embedding'), dropout, readout, head: values.head,
    dtype: values.dtype as ModelShape['dtype'] | undefined,
  });
  return {
    ...(values.data ? {
      classify: {
        path: values.data,
        options: defined({
          textColumn: column(values['text-column']), labelColumn: column(values['label-column']),
          header: values.header ? true : values['no-header'] ? false : undefined,
        }),
      },
    } : { textPaths: values.text }),
    out: values.out, resume: !!values.resume, level: values.words ? 'word' : 'char',
    minFreq: positiveInt(values['min-freq'], '--min-freq'), engine, settings, model, ...(torch ? { torch } : {}),
    ...(epochs !== undefined ? { epochs } : {}),
    ...(minutes !== undefined ? { maxSeconds: minutes * 60 } : {}),
  };
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** Renders run events as the progress line (rewritten in place on a terminal) and log lines. */
export class ProgressPrinter {
  private lastVal = '';
  private lastLine = 0;
  constructor(private readonly write: (s: string) => void, private readonly tty: boolean, private readonly maxSeconds?: number) {}

  event(e: TrainRunEvent): void {
    switch (e.kind) {
      case 'start': {
        for (const s of e.skipped) this.line(`skipped ${s.path}: ${s.reason}`);
        const files = e.sources.length === 1 ? e.sources[0].path : `${e.sources.length} files`;
        const what = e.classification ? `${e.classification.examples} examples in ${e.classification.classes.length} classes, ${e.tokens} tokens` : `${e.tokens} tokens`;
        this.line(`${e.resumed ? 'resuming' : 'training'} on ${files}: ${what}, vocabulary ${e.vocabSize}, ` +
          `${e.parameters} parameters, engine ${e.engine}, steps ${e.startStep}→${e.totalSteps}`);
        this.line(`model: ${e.model}`);
        for (const note of e.classification?.notes ?? []) this.line(`data: ${note}`);
        if (!e.exactResume) this.line('note: the carried hidden state was not restored (engine or checkpoint lacks it); training continues from a zero state');
        return;
      }
      case 'step': {
        const remaining = (e.totalSteps - e.step) * (e.elapsedSeconds / Math.max(1, e.step));
        const eta = this.maxSeconds !== undefined ? Math.min(remaining, this.maxSeconds - e.elapsedSeconds) : remaining;
        const acc = e.accuracy !== undefined ? `  acc ${(100 * e.accuracy).toFixed(1)}%` : '';
        const text = `step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(3)}${acc}${this.lastVal}  ` +
          `${Math.round(e.tokensPerSecond)} tokens/s  ETA ${formatDuration(Math.max(0, eta))}`;
        const now = Date.now();
        if (this.tty) { if (now - this.lastLine > 200 || e.step === e.totalSteps) { this.write(`\r${text}\x1b[K`); this.lastLine = now; } }
        else if (now - this.lastLine > 5000) { this.write(`${text}\n`); this.lastLine = now; }
        return;
      }
      case 'eval': {
        const cover = e.validationBatches < e.validationBatchesTotal ? ` (${e.validationBatches} of ${e.validationBatchesTotal} validation batches)` : '';
        if (e.validationAccuracy !== undefined) {
          this.lastVal = `  val ${e.validationLoss.toFixed(3)} acc ${(100 * e.validationAccuracy).toFixed(1)}%`;
          this.line(`step ${e.step}: train ${e.trainLoss.toFixed(4)}  val ${e.validationLoss.toFixed(4)} nats  val accuracy ${(100 * e.validationAccuracy).toFixed(2)}%${cover}`);
          return;
        }
        this.lastVal = `  val ${e.validationLoss.toFixed(3)} (${e.validationBits.toFixed(2)} bits)`;
        this.line(`step ${e.step}: train ${e.trainLoss.toFixed(4)}  val ${e.validationLoss.toFixed(4)} nats ` +
          `(${e.validationBits.toFixed(3)} bits)${cover}  saturated gates ${e.gateSaturation.map((g) => `${g.gate}${g.layer}:${(g.low * 100).toFixed(0)}/${(g.high * 100).toFixed(0)}%`).join(' ')}`);
        return;
      }
      case 'sample':
        this.line(`sample at step ${e.step}:\n${e.text}`);
        return;
      case 'saved':
        return;
      case 'done':
        this.line(`${e.reason === 'cancelled' ? 'stopped' : e.reason === 'time' ? 'time is up' : 'done'} at step ${e.step}; saved ${e.path}`);
        return;
    }
  }

  private line(s: string): void {
    this.write(`${this.tty ? '\r\x1b[K' : ''}${s}\n`);
  }
}

/** Where a command writes; tests pass their own. */
export interface CommandOutput {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly tty: boolean;
}

const processOutput: CommandOutput = {
  out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), tty: !!process.stderr.isTTY,
};

export async function run(args: string[], io: CommandOutput = processOutput): Promise<number> {
  const req = parseTrainArgs(args);
  if (req === 'help') {
    io.out(HELP);
    return 0;
  }
  const printer = new ProgressPrinter(io.err, io.tty, req.maxSeconds);
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130); // a second Ctrl-C: give up on saving
    interrupted = true;
    io.err('\nstopping after this step and saving (Ctrl-C again to abandon)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    for await (const e of trainToFile(req, () => interrupted)) printer.event(e);
  } catch (e) {
    if (e instanceof TrainingDivergedError) throw new UsageError(`${e.message}; saved the last good state in ${req.out}`);
    // The trainer's own words, which may be a Python traceback: as they are, on several lines.
    if (e instanceof TorchUnavailableError) {
      io.err(`gatescope train: ${e.message}\n`);
      return 2;
    }
    if (e instanceof TorchTrainerError) {
      io.err(`gatescope train: ${e.message}\n${req.resume || existsSync(req.out) ? `${req.out} keeps the state of its last save\n` : ''}`);
      return 1;
    }
    if (e instanceof TrainInputError || e instanceof TextSourceError || e instanceof ModelFileError || e instanceof DataTooSmallError
        || e instanceof EngineUnavailableError || e instanceof FormatError) {
      throw new UsageError(e.message);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
  return interrupted ? 130 : 0;
}
