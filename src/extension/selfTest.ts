// Runs a mocha-TDD-style test bundle (test/extension/*.test.ts, built by test/extension/build.mjs)
// inside this extension host and writes the results as JSON. This is how the @vscode/test-cli suite runs
// in code-server, where VS Code cannot be downloaded. The command exists only when the extension host
// was started with GATESCOPE_SELF_TEST=1 (the e2e harness does that): a normal install never has it.
import * as vscode from 'vscode';

export const SELF_TEST_COMMAND = 'gatescope.selfTest';

export interface SelfTestRequest {
  readonly bundles: readonly string[]; // absolute paths of CommonJS test bundles
  readonly out: string; // where to write SelfTestReport JSON
}

export interface SelfTestResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

export interface SelfTestReport {
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly SelfTestResult[];
}

type Body = () => unknown;
interface Case { readonly name: string; readonly body: Body; readonly setups: readonly Body[]; readonly teardowns: readonly Body[] }

const TEST_TIMEOUT_MS = 120_000;

/** Collects suite()/test()/setup()/teardown()/suiteSetup()/suiteTeardown() calls the way mocha's TDD UI does. */
function collect(bundles: readonly string[]): { cases: Case[]; before: Body[]; after: Body[] } {
  const cases: Case[] = [];
  const before: Body[] = [];
  const after: Body[] = [];
  const path: string[] = [];
  const setups: Body[][] = [[]];
  const teardowns: Body[][] = [[]];
  const g = globalThis as Record<string, unknown>;
  const saved = ['suite', 'test', 'setup', 'teardown', 'suiteSetup', 'suiteTeardown'].map((k) => [k, g[k]] as const);
  g.suite = (name: string, fn: () => void) => {
    path.push(name); setups.push([]); teardowns.push([]);
    try { fn(); } finally { path.pop(); setups.pop(); teardowns.pop(); }
  };
  g.test = (name: string, body: Body) => {
    cases.push({ name: [...path, name].join(' › '), body, setups: setups.flat(), teardowns: teardowns.flat().reverse() });
  };
  g.setup = (fn: Body) => { setups[setups.length - 1].push(fn); };
  g.teardown = (fn: Body) => { teardowns[teardowns.length - 1].push(fn); };
  g.suiteSetup = (fn: Body) => { before.push(fn); };
  g.suiteTeardown = (fn: Body) => { after.push(fn); };
  try {
    for (const bundle of bundles) {
      // A fresh load each run: the bundle is rebuilt between runs.
      delete require.cache[require.resolve(bundle)];
      require(bundle);
    }
  } finally {
    for (const [k, v] of saved) g[k] = v;
  }
  return { cases, before, after };
}

async function withTimeout(body: Body, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(body),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const describe = (err: unknown) => (err instanceof Error ? err.stack ?? err.message : String(err));

export async function runSelfTest(request: SelfTestRequest): Promise<SelfTestReport> {
  const results: SelfTestResult[] = [];
  const { cases, before, after } = collect(request.bundles);
  let setupError: string | undefined;
  for (const fn of before) {
    try { await withTimeout(fn, TEST_TIMEOUT_MS); } catch (err) { setupError = describe(err); break; }
  }
  for (const c of cases) {
    const t0 = Date.now();
    if (setupError) { results.push({ name: c.name, ok: false, ms: 0, error: `suiteSetup failed: ${setupError}` }); continue; }
    try {
      for (const fn of c.setups) await withTimeout(fn, TEST_TIMEOUT_MS);
      await withTimeout(c.body, TEST_TIMEOUT_MS);
      for (const fn of c.teardowns) await withTimeout(fn, TEST_TIMEOUT_MS);
      results.push({ name: c.name, ok: true, ms: Date.now() - t0 });
    } catch (err) {
      results.push({ name: c.name, ok: false, ms: Date.now() - t0, error: describe(err) });
    }
  }
  for (const fn of after) {
    try { await withTimeout(fn, TEST_TIMEOUT_MS); } catch (err) {
      results.push({ name: 'suiteTeardown', ok: false, ms: 0, error: describe(err) });
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  return { passed: results.length - failed, failed, results };
}

/** Registers `gatescope.selfTest {bundles, out}` when GATESCOPE_SELF_TEST=1; otherwise nothing. */
export function registerSelfTest(): vscode.Disposable {
  if (process.env.GATESCOPE_SELF_TEST !== '1') return new vscode.Disposable(() => undefined);
  return vscode.commands.registerCommand(SELF_TEST_COMMAND, async (request: SelfTestRequest) => {
    if (!request || !Array.isArray(request.bundles) || typeof request.out !== 'string') {
      throw new Error(`${SELF_TEST_COMMAND}: expected {bundles: string[], out: string}`);
    }
    let report: SelfTestReport;
    try {
      report = await runSelfTest(request);
    } catch (err) {
      report = { passed: 0, failed: 1, results: [{ name: 'load test bundles', ok: false, ms: 0, error: describe(err) }] };
    }
    await vscode.workspace.fs.writeFile(vscode.Uri.file(request.out), Buffer.from(JSON.stringify(report, null, 2)));
    return report;
  });
}
