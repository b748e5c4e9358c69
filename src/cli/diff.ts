// gatescope diff A B [--rtol R] [--json]: two files of any supported format in canonical form,
// relative error per tensor and per gate block, names on one side only, the mistake that explains a
// difference, and a per-epoch table for trajectories. Exit 0 when equal within R, 1 when not.
import { diffTensors, type DiffReport } from '../core/diff/diff';
import { alignRecurrentPrefixes } from '../core/diff/align';
import { formatShape } from '../core/tensor';
import { parseCli } from './args';
import { UsageError } from './errors';
import { IMPORT_FLAGS_HELP, IMPORT_FLAG_OPTIONS, importOptions } from './importFlags';
import { loadCanonical } from '../node/loadCanonical';

const HELP = `usage: gatescope diff A B [--rtol R] [--json] [import flags]
  A, B     safetensors, .pt, .npz/.npy, Keras .h5/.weights.h5/.keras, TensorFlow.js model.json, .onnx
  --rtol   largest relative error ‖a−b‖/‖a‖ counted as equal (default 1e-12 when both sides are
           float64, else 1e-5: float32 rounding of a few operations)
  --json   print the structured report
${IMPORT_FLAGS_HELP}
exit code: 0 equal within rtol, 1 different, 2 bad input
`;

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : 'shape';
}

export function formatReport(r: DiffReport, nameA: string, nameB: string): string {
  const lines: string[] = [`A: ${nameA}`, `B: ${nameB}`, `rtol ${r.rtol}`];
  const width = Math.max(6, ...r.tensors.map((t) => t.name.length));
  lines.push(` ${'tensor'.padEnd(width)}  ${'shape'.padEnd(12)}  rel.err   max|a-b|  per gate`);
  for (const t of r.tensors) {
    if (r.epochs && /^epoch\d+\./.test(t.name) && !t.exceeds) continue;
    const shape = formatShape(t.shapeA) + (t.shapeA.join() === t.shapeB.join() ? '' : ` vs ${formatShape(t.shapeB)}`);
    const gates = t.gates ? t.gates.map((g) => `${g.gate} ${fmt(g.relErr)}`).join('  ') : '';
    lines.push(`${t.exceeds ? '!' : ' '}${t.name.padEnd(width)}  ${shape.padEnd(12)}  ${fmt(t.relErr).padEnd(8)}  ${fmt(t.maxAbs).padEnd(8)}  ${gates}`);
  }
  if (r.epochs) {
    lines.push('', 'epoch  max rel.err  worst tensor');
    for (const e of r.epochs) lines.push(`${e.exceeds ? '!' : ' '}${String(e.epoch).padStart(4)}  ${fmt(e.maxRelErr).padEnd(11)}  ${e.worst}`);
  }
  if (r.onlyInA.length) lines.push('', `only in A: ${r.onlyInA.join(', ')}`);
  if (r.onlyInB.length) lines.push('', `only in B: ${r.onlyInB.join(', ')}`);
  if (r.diagnoses.length) {
    lines.push('', 'likely cause:');
    for (const d of r.diagnoses) lines.push(`  ${d.message}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push('', r.differs ? 'DIFFERENT' : 'equal within rtol');
  return lines.join('\n') + '\n';
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    rtol: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...IMPORT_FLAG_OPTIONS,
  }, true);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError(`expected two files to compare, got ${positionals.length}`);
  let rtol: number | undefined;
  if (values.rtol !== undefined) {
    rtol = Number(values.rtol);
    if (!(rtol >= 0)) throw new UsageError(`--rtol must be a non-negative number, got "${values.rtol}"`);
  }
  const opts = importOptions(values);
  const [a, b] = await Promise.all(positionals.map((p) => loadCanonical(p, opts)));
  const aligned = alignRecurrentPrefixes(a.tensors, b.tensors);
  const report = diffTensors(aligned.a, aligned.b, { rtol });
  const notes = [...(aligned.note ? [aligned.note] : []), ...(a.model?.source.notes ?? []).map((n) => `A: ${n}`), ...(b.model?.source.notes ?? []).map((n) => `B: ${n}`)];
  if (values.json) {
    const json = { a: { file: positionals[0], read: a.description }, b: { file: positionals[1], read: b.description }, ...report, notes: [...report.notes, ...notes] };
    process.stdout.write(JSON.stringify(json, (_, v) => (v === Infinity ? 'Infinity' : v), 1) + '\n');
  } else {
    process.stdout.write(formatReport({ ...report, notes: [...report.notes, ...notes] }, `${positionals[0]} (${a.description})`, `${positionals[1]} (${b.description})`));
  }
  return report.differs ? 1 : 0;
}
