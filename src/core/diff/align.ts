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

const PREFIXED_TRACE = /^(.+)\.(trace_l\d+(?:_reverse)?_(?:h|c|gate_[a-z])|probe_tokens|probe_x)$/;
const PLAIN_TRACE = /^trace_l\d+(?:_reverse)?_(?:h|c|gate_[a-z])$/;

/**
 * A gatescope run's probe file names its traces `<module>.trace_l0_h` (python/README.md); `gatescope trace`
 * and PyTorch fixtures write `trace_l0_h`. When one side's traces all sit under one module prefix and the
 * other's have none, that prefix is removed so they meet (a probe file with several modules stays as it is).
 */
export function alignTracePrefixes(a: TensorMap, b: TensorMap): { a: TensorMap; b: TensorMap; note?: string } {
  const prefixes = (m: TensorMap): Set<string> => new Set([...m.keys()].map((k) => PREFIXED_TRACE.exec(k)?.[1]).filter((x): x is string => !!x));
  const plain = (m: TensorMap): boolean => [...m.keys()].some((k) => PLAIN_TRACE.test(k));
  const strip = (m: TensorMap, p: string): TensorMap => new Map([...m].map(([k, v]) => [PREFIXED_TRACE.test(k) && k.startsWith(`${p}.`) ? k.slice(p.length + 1) : k, v]));
  const [pa, pb] = [prefixes(a), prefixes(b)];
  if (pa.size === 1 && !plain(a) && plain(b) && !pb.size) {
    const p = [...pa][0];
    return { a: strip(a, p), b, note: `A's traces are module "${p}"'s of a run's probe file: its "${p}." prefix was removed to align names` };
  }
  if (pb.size === 1 && !plain(b) && plain(a) && !pa.size) {
    const p = [...pb][0];
    return { a, b: strip(b, p), note: `B's traces are module "${p}"'s of a run's probe file: its "${p}." prefix was removed to align names` };
  }
  return { a, b };
}
