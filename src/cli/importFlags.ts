// Flags that tell an import what a file does not record (shared by diff, convert, compare, trace --weights,
// and, through src/cli/openFlags.ts, trace MODEL --text and sample).
import type { ModelImportOptions } from '../core/formats/model';
import type { RnnModule } from '../core/config';
import { UsageError } from './errors';

export const IMPORT_FLAG_OPTIONS = {
  'gate-order': { type: 'string' },
  orientation: { type: 'string' },
  'input-weight': { type: 'string' },
  nonlinearity: { type: 'string' },
  'recurrent-activation': { type: 'string' },
  'gru-reset': { type: 'string' },
  module: { type: 'string' },
  epoch: { type: 'string' },
} as const;

export const IMPORT_FLAGS_HELP = `  --gate-order G         gate order of fused from-scratch arrays, e.g. i,f,o,g (Lua char-rnn), i,f,c,o
  --orientation O        out-in ([G*H, in], W x) or in-out ([in, G*H], x W) for from-scratch arrays
                         whose shapes do not show it (every matrix square)
  --input-weight L       W or U: which letter names the input weights of W/U arrays when both are square
                         (W x + U h, or U x + W h as some courses write it)
  --nonlinearity N       tanh or relu, for Elman RNN weights that do not record it
  --recurrent-activation sigmoid or hard_sigmoid, for Keras weights-only files
  --gru-reset R          after or before, for from-scratch GRU arrays
  --module M             LSTM, GRU or RNN when the names do not say
  --epoch E              per-epoch files: the epoch to take as the model (default: the last)`;

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

export function importOptions(values: Record<string, unknown>): ModelImportOptions {
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const epoch = s('epoch');
  if (epoch !== undefined && !/^\d+$/.test(epoch)) throw new UsageError(`--epoch must be a non-negative integer, got "${epoch}"`);
  return {
    gateOrder: s('gate-order'),
    orientation: oneOf(s('orientation'), ['out-in', 'in-out'] as const, '--orientation'),
    inputWeight: oneOf(s('input-weight')?.toUpperCase(), ['W', 'U'] as const, '--input-weight'),
    nonlinearity: oneOf(s('nonlinearity'), ['tanh', 'relu'] as const, '--nonlinearity'),
    recurrentActivation: oneOf(s('recurrent-activation'), ['sigmoid', 'hard_sigmoid'] as const, '--recurrent-activation'),
    gruReset: oneOf(s('gru-reset'), ['after', 'before'] as const, '--gru-reset'),
    module: oneOf(s('module')?.toUpperCase(), ['LSTM', 'GRU', 'RNN'] as const, '--module') as RnnModule | undefined,
    ...(epoch !== undefined ? { epoch: Number(epoch) } : {}),
  };
}
