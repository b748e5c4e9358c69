// Two state_dicts of the same recurrent model often differ only in the module prefix ("rnn.", "lstm.",
// none): strip each side's recurrent prefix when they differ, so the tensors meet under one name.
import type { TensorMap } from '../tensor';

function recurrentPrefix(m: TensorMap): string | undefined {
  for (const k of m.keys()) {
    const x = /^(.*?)weight_ih_l0$/.exec(k);
    if (x && !/^epoch\d+\./.test(k)) return x[1];
  }
  return undefined;
}

export function alignRecurrentPrefixes(a: TensorMap, b: TensorMap): { a: TensorMap; b: TensorMap; note?: string } {
  const pa = recurrentPrefix(a);
  const pb = recurrentPrefix(b);
  if (pa === undefined || pb === undefined || pa === pb) return { a, b };
  const strip = (m: TensorMap, p: string): TensorMap =>
    new Map([...m].map(([k, v]) => [k.startsWith(p) && /(weight|bias)_(ih|hh)_l\d+(_reverse)?$/.test(k) ? k.slice(p.length) : k, v]));
  return { a: strip(a, pa), b: strip(b, pb), note: `recurrent prefixes "${pa}" (A) and "${pb}" (B) removed to align names` };
}
