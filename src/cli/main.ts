// `gatescope <command> [args]`: each command lives in its own module exporting run(args) → exit code.
import { UsageError } from './errors';
import { ConfigError } from '../core/config';
import { FormatError, oneLine } from '../core/formats/errors';
import { ModelFileError } from '../node/modelFile';
import { installEnvLoadLimits } from '../node/loadModelFile';

type CommandModule = { run(args: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  trace: { summary: 'per-timestep trace (and gradients) of a model, as PyTorch computes it', load: () => import('./trace') },
  fit: { summary: 'replay a PyTorch training case (or the seed experiment) step by step and write the weights after each step', load: () => import('./fit') },
  train: { summary: 'train an LSTM/GRU/RNN: a char or word language model on text files, or a sequence classifier on labelled examples', load: () => import('./train') },
  sample: { summary: 'generate text from a trained model', load: () => import('./sample') },
  bench: { summary: 'training throughput per engine vs PyTorch (char LM, word LM, classifier), and a 1M-char trace', load: () => import('./bench') },
  diff: { summary: 'whether two model/trace files of any format compute the same model: EQUIVALENT or DIFFERENT, and what to change on which side', load: () => import('./diff') },
  convert: { summary: 'import a model from any supported format and write safetensors, .npz or Keras .h5', load: () => import('./convert') },
  compare: { summary: 'train two engines (e.g. reference,tfjs) from the same weights and batches; per-step errors', load: () => import('./compare') },
};

/** Bad input (arguments, configs, files): one line on stderr and exit 2, never a stack trace. */
export function isInputError(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof ConfigError || err instanceof FormatError || err instanceof ModelFileError;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: gatescope <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`gatescope: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    installEnvLoadLimits(); // GATESCOPE_MAX_INFLATE_BYTES and the other budgets of file readers
    return await (await command.load()).run(rest);
  } catch (err) {
    if (isInputError(err)) {
      process.stderr.write(`gatescope ${name}: ${oneLine(err.message)}\n`);
      return 2;
    }
    throw err;
  }
}

if (require.main === module || process.argv[1]?.endsWith('gatescope')) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`gatescope: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
