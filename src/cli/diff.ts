// gatescope diff A B [--rtol R] [--strict] [--json]: whether two files of any supported format compute
// the same model (core/diff/equivalence.ts): tensors aligned by what they are for, biases compared by
// what enters the gates, consistent transposed layouts accepted; a DIFFERENT verdict names the mistake
// and what to change on which side. Exit 0 equivalent, 1 different, 2 bad input.
import type { ModelDiffReport } from '../core/diff/equivalence';
import { verdictText } from '../core/diff/verdict';
import { formatShape } from '../core/tensor';
import { parseCli } from './args';
import { UsageError } from './errors';
import { IMPORT_FLAGS_HELP, IMPORT_FLAG_OPTIONS, importOptions } from './importFlags';
import { compareComparable, readComparable } from '../node/compareFiles';

const HELP = `usage: gatescope diff A B [--rtol R] [--strict] [--json] [import flags]
  A, B     safetensors, .pt, .npz/.npy, Keras .h5/.weights.h5/.keras, TensorFlow.js model.json, .onnx;
           weights, traces (gatescope trace, io.safetensors) or per-epoch/per-step trajectories
  --rtol   largest relative error ‖a−b‖/‖a‖ counted as equal (default 1e-12 when both sides are
           float64, else 1e-5: float32 rounding of a few operations)
  --strict tensors only one side holds (an embedding or head the other file lacks, outputs of a
           trace) make the verdict DIFFERENT too; inputs (x, h0, c0, lengths, loss_projection) never do
  --forget-bias-a F, --forget-bias-b F
           that side adds F to its LSTM forget-gate bias at run time (TF1 LSTMCell forget_bias), so
           its stored bias is compared with F folded in
  --json   print the structured report
${IMPORT_FLAGS_HELP}
What counts as the same model: tensors are aligned by function (embedding, recurrent stack under any
prefix, head layers fc/fc1/decoder/head.0, ...), biases by what enters the gates (b_ih + b_hh; a GRU's
n-gate b_hn stays separate: it sits inside r ⊙ (W_hn h + b_hn)), a missing bias as zeros, and a file
that stores every matrix transposed ([in, out]) as the same matrices. A DIFFERENT verdict names the
mistake (gate order, a transpose, hard sigmoid, GRU reset variant, architecture) and what to change in
which file (the from-scratch one if one is, else B), in that file's own names.
exit code: 0 equivalent, 1 different, 2 bad input
`;

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : 'shape';
}

/** The text report: files, the compared quantities, the per-snapshot table, then the verdict. */
export function formatReport(r: ModelDiffReport, nameA: string, nameB: string, labels?: { a: string; b: string }): string {
  const lines: string[] = [`A: ${nameA}`, `   ${r.structure.a}`, `B: ${nameB}`, `   ${r.structure.b}`, `rtol ${r.rtol}`];
  const shown = r.tensors.filter((t) => !(r.epochs && /^(epoch|step|snapshot|checkpoint)\d+\./.test(t.name) && !t.exceeds));
  if (shown.length) {
    const width = Math.max(8, ...shown.map((t) => t.name.length));
    lines.push('', ` ${'compared'.padEnd(width)}  ${'shape'.padEnd(12)}  rel.err   max|a-b|  per gate`);
    for (const t of shown) {
      const shape = formatShape(t.shapeA) + (t.shapeA.join() === t.shapeB.join() ? '' : ` vs ${formatShape(t.shapeB)}`);
      const gates = t.gates ? t.gates.map((g) => `${g.gate} ${fmt(g.relErr)}`).join('  ') : '';
      const mark = t.role === 'input' ? (t.exceeds ? '~' : ' ') : t.exceeds ? '!' : ' ';
      lines.push(`${mark}${t.name.padEnd(width)}  ${shape.padEnd(12)}  ${fmt(t.relErr).padEnd(8)}  ${fmt(t.maxAbs).padEnd(8)}  ${gates}${t.role === 'input' ? '(input)' : ''}`.trimEnd());
    }
  }
  if (r.epochs?.length) {
    const label = r.epochs[0].label ?? 'epoch';
    lines.push('', `${label.padStart(5)}  max rel.err  worst                finding`);
    for (const e of r.epochs) {
      lines.push(`${e.exceeds ? '!' : ' '}${String(e.epoch).padStart(4)}  ${fmt(e.maxRelErr).padEnd(11)}  ${e.worst.padEnd(19)}  ${e.finding ?? ''}`.trimEnd());
    }
  }
  const v = verdictText(r, labels);
  lines.push('', v.headline);
  for (const g of v.changes) {
    lines.push(`what to change in ${g.label}${g.side === 'B' ? ' (A is the reference)' : ''}:`);
    for (const c of g.items) lines.push(`  - ${c}`);
  }
  if (v.why.length) {
    lines.push(r.status === 'different' ? 'what does agree, although spelled differently:' : 'why, although the files differ:');
    for (const w of v.why) lines.push(`  - ${w}`);
  }
  if (v.notCompared.length) {
    lines.push(`not compared (only one side holds them${r.strict ? '; --strict counts all but inputs' : '; --strict would count them'}):`);
    for (const n of v.notCompared) lines.push(`  - ${n}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}

function number(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`${flag} must be a number, got "${v}"`);
  return x;
}

const OPTIONS = {
  rtol: { type: 'string' }, json: { type: 'boolean' }, strict: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  'forget-bias-a': { type: 'string' }, 'forget-bias-b': { type: 'string' }, ...IMPORT_FLAG_OPTIONS,
} as const;

/** `gatescope diff` without the printing: the report, its text (or JSON) and the exit code. */
export async function diffFiles(args: string[]): Promise<{ report?: ModelDiffReport; output: string; code: number }> {
  const { values, positionals } = parseCli(args, OPTIONS, true);
  if (values.help) return { output: HELP, code: 0 };
  if (positionals.length !== 2) throw new UsageError(`expected two files to compare, got ${positionals.length}`);
  let rtol: number | undefined;
  if (values.rtol !== undefined) {
    rtol = Number(values.rtol);
    if (!(rtol >= 0)) throw new UsageError(`--rtol must be a non-negative number, got "${values.rtol}"`);
  }
  const fbA = number(values['forget-bias-a'], '--forget-bias-a');
  const fbB = number(values['forget-bias-b'], '--forget-bias-b');
  const opts = importOptions(values);
  const [a, b] = await Promise.all([readComparable(positionals[0], 'A', { import: opts, forgetBias: fbA }), readComparable(positionals[1], 'B', { import: opts, forgetBias: fbB })]);
  const { report: full, labels } = compareComparable(a, b, { rtol, strict: !!values.strict });
  const output = values.json
    ? JSON.stringify({ a: { file: positionals[0], read: a.description }, b: { file: positionals[1], read: b.description }, ...full, verdict: verdictText(full, labels) },
      (_, x) => (x === Infinity ? 'Infinity' : x), 1) + '\n'
    : formatReport(full, `${positionals[0]} (${a.description})`, `${positionals[1]} (${b.description})`, labels);
  return { report: full, output, code: full.differs ? 1 : 0 };
}

export async function run(args: string[]): Promise<number> {
  const r = await diffFiles(args);
  process.stdout.write(r.output);
  return r.code;
}
