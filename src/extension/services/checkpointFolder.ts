// Where "Train char LSTM" writes its checkpoint: `gatescope.checkpointFolder` inside the workspace folder,
// never outside it (a workspace's settings could otherwise point the writes anywhere: `../../.ssh`, `/etc`,
// or a symlink inside the workspace that leads out). Plain node (paths, realpath); no vscode.
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export type FolderResult = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly message: string };

export const DEFAULT_CHECKPOINT_FOLDER = '.gatescope';

/** Is `p` the folder `dir` or inside it (compared by path components, not by string prefix)? */
export function isWithin(dir: string, p: string): boolean {
  const r = relative(dir, p);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

/** The realpath of `p`, or of its deepest existing ancestor with the rest appended (the folder may not exist yet). */
function realpathOfExisting(p: string, realpath: (p: string) => string): string {
  const rest: string[] = [];
  let at = p;
  for (;;) {
    try {
      return join(realpath(at), ...rest.reverse());
    } catch {
      const up = dirname(at);
      if (up === at) return p;
      rest.push(at.slice(up.length).replace(/^[\\/]+/, ''));
      at = up;
    }
  }
}

/**
 * The absolute checkpoint folder for `setting` in the workspace folder `root`: a relative path (default
 * .gatescope) or an absolute one, which must resolve inside the workspace, before and after following
 * symlinks. Otherwise a message saying why and what to set instead.
 */
export function resolveCheckpointFolder(root: string, setting: string | undefined, realpath: (p: string) => string = realpathSync): FolderResult {
  const value = (setting ?? '').trim() || DEFAULT_CHECKPOINT_FOLDER;
  const shown = JSON.stringify(value);
  const refuse = (why: string): FolderResult => ({
    ok: false,
    message: `gatescope.checkpointFolder ${shown} ${why}: checkpoints are only written inside the workspace folder ${root}. `
      + `Set it to a workspace-relative folder such as ${DEFAULT_CHECKPOINT_FOLDER}.`,
  });
  if (value.includes('\0')) return refuse('contains a NUL character');
  const target = resolve(root, value);
  if (!isWithin(resolve(root), target)) return refuse(isAbsolute(value) ? 'is outside the workspace' : 'leads out of the workspace');
  const realRoot = realpathOfExisting(resolve(root), realpath);
  if (!isWithin(realRoot, realpathOfExisting(target, realpath))) return refuse('goes through a link that leads out of the workspace');
  return { ok: true, path: target };
}

/** `stem-YYYYMMDD-HHMMSS.safetensors`, with -2, -3, … when that name is taken (two runs in one second). */
export function checkpointFileName(stem: string, when: Date, taken: (name: string) => boolean): string {
  const stamp = when.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const base = `${stem.replace(/[^\w.-]+/g, '_')}-${stamp}`;
  for (let k = 1; ; k++) {
    const name = `${base}${k === 1 ? '' : `-${k}`}.safetensors`;
    if (!taken(name)) return name;
  }
}
