// karpathy/recurrentjs' saved models: the character demo's saveModel() JSON,
//   {hidden_sizes, generator: 'lstm' | 'rnn', letter_size, model: {NAME: {n, d, w}}, solver: {...},
//    letterToIndex, indexToLetter, vocab}
// Each matrix is row-major n × d, and `w` is a Float64Array serialised by JSON.stringify: an object
// {"0": w0, "1": w1, ...}, not a list (a plain list is accepted too). solver.step_cache holds RMSProp caches
// under the same names, not weights. The names are read by src/core/layouts/named.ts; this file turns the
// JSON into float64 tensors and reads the vocabulary: ids from 1 in indexToLetter, id 0 being the demo's
// START (as input) and END (as output) token.
import type { Tensor, TensorMap } from '../tensor';
import { FormatError } from './errors';
import { type LoadLimits, TensorBudget, checkedNumel, describe, loadLimits } from './limits';
import type { RecordedVocabulary } from '../layouts/model';

export interface RecurrentjsModel {
  readonly tensors: TensorMap;
  readonly generator: 'lstm' | 'rnn';
  readonly hiddenSizes?: readonly number[];
  readonly vocabulary?: RecordedVocabulary;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Does this parsed JSON look like a recurrentjs saveModel() file (a `model` of {n, d, w} matrices)? */
export function isRecurrentjsJson(json: unknown): boolean {
  if (!isObject(json) || !isObject(json.model)) return false;
  const first = Object.values(json.model)[0];
  return isObject(first) && 'n' in first && 'd' in first && 'w' in first;
}

/**
 * The matrices and vocabulary of a recurrentjs model. `token0` is what id 0 (START/END) is read as in the
 * vocabulary: a line break by default (the demo trains one sentence per line, so END-then-START is a line
 * boundary).
 */
export function readRecurrentjs(json: unknown, source = 'model.json', limits?: Partial<LoadLimits>, token0 = '\n'): RecurrentjsModel {
  const fail = (msg: string): never => { throw new FormatError(`${source}: ${msg} (not a recurrentjs saveModel() file?)`); };
  if (!isObject(json) || !isObject(json.model)) return fail('no "model" object of matrices');
  const generator = json.generator === undefined ? undefined : json.generator;
  if (generator !== undefined && generator !== 'lstm' && generator !== 'rnn') fail(`generator ${describe(generator)} is neither "lstm" nor "rnn"`);
  const budget = new TensorBudget(source, loadLimits(limits));
  const tensors: TensorMap = new Map();
  for (const [name, m] of Object.entries(json.model)) {
    if (!isObject(m)) fail(`model.${name} is not a matrix {n, d, w}`);
    const mat = m as Record<string, unknown>;
    const n = mat.n, d = mat.d;
    if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || (n as number) < 1 || (d as number) < 1) fail(`model.${name} has sizes n=${describe(n)}, d=${describe(d)}, not positive integers`);
    const count = checkedNumel([n as number, d as number]);
    budget.take(count * 8, `matrix ${name}`);
    const data = new Float64Array(count);
    const w = mat.w;
    if (Array.isArray(w)) {
      if (w.length !== count) fail(`model.${name}.w has ${w.length} values for ${n} × ${d}`);
      for (let i = 0; i < count; i++) data[i] = number(w[i], name, i);
    } else if (isObject(w)) {
      const keys = Object.keys(w);
      if (keys.length !== count) fail(`model.${name}.w has ${keys.length} values for ${n} × ${d}`);
      for (let i = 0; i < count; i++) {
        if (!Object.hasOwn(w, String(i))) fail(`model.${name}.w has no value ${i} (a serialised Float64Array has the keys 0..${count - 1})`);
        data[i] = number(w[String(i)], name, i);
      }
    } else fail(`model.${name}.w is neither a list nor a serialised Float64Array`);
    // Column vectors (biases, n × 1) are vectors.
    tensors.set(name, { dtype: 'float64', shape: (d as number) === 1 && /^b/.test(name) ? [n as number] : [n as number, d as number], data } satisfies Tensor);
  }
  const hiddenSizes = Array.isArray(json.hidden_sizes) && json.hidden_sizes.every((h) => Number.isSafeInteger(h)) ? json.hidden_sizes as number[] : undefined;
  return { tensors, generator: (generator ?? (tensors.has('Wix0') ? 'lstm' : 'rnn')) as 'lstm' | 'rnn', ...(hiddenSizes ? { hiddenSizes } : {}), ...vocabularyOf(json, source, token0) };

  function number(v: unknown, name: string, i: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`model.${name}.w[${i}] is ${describe(v)}, not a finite number`);
    return v as number;
  }
}

function vocabularyOf(json: Record<string, unknown>, source: string, token0: string): { vocabulary?: RecordedVocabulary } {
  const ix = json.indexToLetter;
  if (!isObject(ix)) return {};
  const entries = Object.entries(ix);
  const tokens: string[] = new Array(entries.length + 1);
  tokens[0] = token0;
  for (const [k, v] of entries) {
    const id = Number(k);
    if (!Number.isSafeInteger(id) || id < 1 || id > entries.length || typeof v !== 'string' || tokens[id] !== undefined) {
      throw new FormatError(`${source}: indexToLetter maps ${describe(k)} to ${describe(v)}; ids must be 1..${entries.length}, each once, with one string each`);
    }
    tokens[id] = v;
  }
  if (tokens.includes(token0, 1)) throw new FormatError(`${source}: the vocabulary already has ${JSON.stringify(token0)}, which would stand for START/END`);
  return {
    vocabulary: {
      tokens,
      note: `vocabulary: ${entries.length} characters from the file's indexToLetter, and id 0 (recurrentjs' START/END token) read as a line break: each line is a sentence, so start the text with a newline to begin as the demo does`,
    },
  };
}
