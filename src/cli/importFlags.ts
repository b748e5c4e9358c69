// Flags that tell an import what a file does not record (shared by diff, convert, compare, trace --weights,
// and, through src/cli/openFlags.ts, trace MODEL --text and sample).
import type { ModelImportOptions } from '../core/formats/model';
import { importOptionsFrom } from '../node/flagOptions';
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

/** The flags' values as import options (the mapping is src/node/flagOptions.ts's, shared with the extension's worker). */
export function importOptions(values: Record<string, unknown>): ModelImportOptions {
  return importOptionsFrom(values, (m) => new UsageError(m));
}
