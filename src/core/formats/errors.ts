// The one error type of every file reader: a one-line message that names the file and the problem. The
// CLI prints it and exits 2; the extension shows it as a notification.
import { ConfigError } from '../config';

/** Control characters, line separators and bidi overrides (from names in a file) shown escaped. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A message on one line: newlines and other control characters from file contents are escaped. */
export function oneLine(message: string): string {
  return message.replace(UNPRINTABLE, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

export class FormatError extends Error {
  override name = 'FormatError';

  constructor(message: string) {
    super(oneLine(message));
  }
}

/**
 * The last line of defence at a reader's entry point: a FormatError gets the file's name in front when it
 * lacks it (layout errors name the format); an exception that is not a FormatError (a bug, or a check the
 * reader lacks) still becomes one line naming the file, marked "unexpected" so that the fuzz tests, which
 * never accept that word, find the missing check.
 */
export function asFormatError(source: string, e: unknown): FormatError {
  if (e instanceof FormatError) return e.message.startsWith(source) ? e : new (e.constructor as typeof FormatError)(`${source}: ${e.message}`);
  if (e instanceof ConfigError) return new FormatError(e.message.startsWith(source) ? e.message : `${source}: ${e.message}`);
  const err = e instanceof Error ? e : new Error(String(e));
  const first = err.message.split('\n')[0].slice(0, 200);
  if (err instanceof RangeError && /call stack/i.test(err.message)) return new FormatError(`${source}: nested too deeply to read (unexpected: ${first})`);
  if (err instanceof RangeError && /allocation|array length|buffer length/i.test(err.message)) return new FormatError(`${source}: too large to read (unexpected: ${first})`);
  return new FormatError(`${source}: malformed file (unexpected ${err.name}: ${first})`);
}

/**
 * A question the file leaves open (a ModelAmbiguityError: a ConfigError naming the option that decides) stays
 * what it is, so that callers can ask it (a flag, a quick pick); its message gets the file's name in front.
 */
function openQuestion(source: string, e: unknown): Error | undefined {
  if (!(e instanceof ConfigError) || typeof (e as { option?: unknown }).option !== 'string') return undefined;
  if (!e.message.startsWith(source)) e.message = oneLine(`${source}: ${e.message}`);
  return e;
}

/** Runs a reader, turning whatever it throws into a FormatError (see asFormatError), open questions aside. */
export function guardRead<T>(source: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw openQuestion(source, e) ?? asFormatError(source, e);
  }
}

export async function guardReadAsync<T>(source: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw openQuestion(source, e) ?? asFormatError(source, e);
  }
}
