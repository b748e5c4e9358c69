// gatescope sample MODEL --prime "ROMEO:" --temperature 0.8 -n 300 [--top-k K] [--seed S]
import { sampleFast } from '../engines';
import { describeModel, taskOf } from '../core/model';
import { OPEN_FLAGS_HELP, OPEN_FLAG_OPTIONS, openModelForCli } from './openFlags';
import { parseCli } from './args';
import { UsageError } from './errors';
import type { CommandOutput } from './train';

const HELP = `usage: gatescope sample MODEL [--prime TEXT] [--temperature T] [-n N] [--top-k K] [--seed S]
  --prime TEXT       text to start from (the model continues it; printed first)
  --temperature T    0 = greedy, 1 = the model's distribution (default 0.8)
  -n N               tokens to generate (default 300)
  --top-k K          sample only among the K most likely tokens
  --seed S           same seed, same sample (default 0)
${OPEN_FLAGS_HELP}`;

export async function run(args: string[], io?: CommandOutput): Promise<number> {
  const write = io?.out ?? ((s: string) => process.stdout.write(s));
  const { values, positionals } = parseCli(args, {
    prime: { type: 'string' }, temperature: { type: 'string' }, n: { type: 'string', short: 'n' }, length: { type: 'string' },
    'top-k': { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...OPEN_FLAG_OPTIONS,
  }, true);
  if (values.help) {
    write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('give exactly one MODEL.safetensors');
  const num = (v: string | undefined, flag: string, dflt: number, ok: (n: number) => boolean): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!ok(n)) throw new UsageError(`${flag} has a bad value "${v}"`);
    return n;
  };
  const temperature = num(values.temperature, '--temperature', 0.8, (n) => Number.isFinite(n) && n >= 0);
  const length = num(values.n ?? values.length, '-n', 300, (n) => Number.isInteger(n) && n >= 0);
  const topK = num(values['top-k'], '--top-k', 0, (n) => Number.isInteger(n) && n >= 0);
  const seed = num(values.seed, '--seed', 0, Number.isInteger);
  const opened = await openModelForCli(positionals[0], values);
  for (const note of opened.notes) (io?.err ?? ((s: string) => process.stderr.write(s)))(`${note}\n`);
  const ck = opened.model;
  if (taskOf(ck.config) !== 'lm') {
    throw new UsageError(`${positionals[0]}: is a sequence classifier (${describeModel(ck.config)}); sampling needs a language model — use "gatescope trace MODEL --text FILE" to classify a text`);
  }
  const r = sampleFast(ck.config, ck.params, ck.vocab, { prime: values.prime ?? '', length, temperature, topK, seed });
  const sep = ck.vocab.kind === 'word' && r.prime ? ' ' : '';
  write(`${r.prime}${sep}${r.generated}\n`);
  return 0;
}
