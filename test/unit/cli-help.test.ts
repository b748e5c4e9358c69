// Every command answers --help with its usage on stdout and exit 0; the command list names each one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main';

async function stdoutOf(argv: string[]): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true; }) as typeof process.stdout.write;
  try {
    return { code: await main(argv), out };
  } finally {
    process.stdout.write = write;
  }
}

const COMMANDS = ['trace', 'fit', 'train', 'sample', 'bench', 'diff', 'convert', 'compare'];

test('gatescope --help lists every command; each command answers --help with its usage', async () => {
  const list = await stdoutOf(['--help']);
  assert.equal(list.code, 0);
  for (const c of COMMANDS) assert.match(list.out, new RegExp(`^  ${c} +\\S`, 'm'));
  for (const c of COMMANDS) {
    const r = await stdoutOf([c, '--help']);
    assert.equal(r.code, 0, c);
    assert.match(r.out, new RegExp(`usage: gatescope ${c}\\b`), c);
  }
});
