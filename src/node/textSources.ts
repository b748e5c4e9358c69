// Training text from files and glob patterns: reads each, skips binary files (NUL bytes, invalid UTF-8)
// and reports exactly what was used and what was skipped.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { decodeTextBytes, normalizeNewlines } from '../core/data/text';

export interface TextSource {
  readonly path: string;
  readonly chars: number;
}

export interface SkippedSource {
  readonly path: string;
  readonly reason: string;
}

export interface LoadedText {
  /** The files' texts joined (CRLF → LF), each ending in a newline. */
  readonly text: string;
  readonly used: readonly TextSource[];
  readonly skipped: readonly SkippedSource[];
}

export class TextSourceError extends Error {}

const hasGlob = (p: string): boolean => /[*?[]/.test(p);

/** Files matching a pattern with `*`, `?`, `[...]` and `**` (any depth), sorted. */
export function expandGlob(pattern: string, cwd = process.cwd()): string[] {
  const abs = resolve(cwd, pattern);
  const parts = abs.split(sep);
  const firstGlob = parts.findIndex(hasGlob);
  if (firstGlob < 0) return [abs];
  const root = parts.slice(0, firstGlob).join(sep) || sep;
  const rest = parts.slice(firstGlob).join('/');
  const re = new RegExp(`^${globToRegex(rest)}$`);
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try { names = readdirSync(dir); } catch { return; }
    for (const name of names) {
      if (name === 'node_modules' || name === '.git') continue;
      const p = join(dir, name);
      let st;
      try { st = statSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p);
      else if (re.test(relative(root, p).split(sep).join('/'))) out.push(p);
    }
  };
  walk(root);
  return out.sort();
}

function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) re += '\\[';
      else { re += glob.slice(i, end + 1); i = end; }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return re;
}

/** Reads the files (patterns expanded); throws when nothing usable remains. */
export function loadTextSources(patterns: readonly string[], cwd = process.cwd()): LoadedText {
  if (!patterns.length) throw new TextSourceError('no text given (use --text FILE)');
  const used: TextSource[] = [];
  const skipped: SkippedSource[] = [];
  const parts: string[] = [];
  for (const pattern of patterns) {
    const files = expandGlob(pattern, cwd);
    if (!files.length) throw new TextSourceError(`${pattern}: no files match`);
    for (const path of files) {
      let bytes: Uint8Array;
      try {
        if (statSync(path).isDirectory()) { skipped.push({ path, reason: 'is a directory' }); continue; }
        bytes = readFileSync(path);
      } catch (e) {
        throw new TextSourceError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      const verdict = decodeTextBytes(bytes);
      if (verdict.binary) { skipped.push({ path, reason: `binary: ${verdict.reason}` }); continue; }
      if (!verdict.text.length) { skipped.push({ path, reason: 'is empty' }); continue; }
      let text = normalizeNewlines(verdict.text);
      if (!text.endsWith('\n')) text += '\n';
      used.push({ path, chars: text.length });
      parts.push(text);
    }
  }
  if (!used.length) {
    const why = skipped.map((s) => `${s.path} ${s.reason}`).join('; ');
    throw new TextSourceError(`no usable text: ${why}`);
  }
  return { text: parts.join(''), used, skipped };
}
