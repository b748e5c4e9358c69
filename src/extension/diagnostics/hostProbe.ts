// A diagnostic for "no extension-host task > 50 ms": with GATESCOPE_HOST_PROBE=1 in the extension host's
// environment (scripts/measure-host.sh sets it) the extension measures its host's event loop from
// activation on: perf_hooks' event-loop delay histogram, a timer that notices stalls (fires late), and a V8
// CPU profile of the host's main thread that names what ran during each stall (ours or code-server's).
// The command gatescope.writeHostProbe(path) writes the report as JSON and starts a new measurement (each
// report covers the time since the previous one: one per phase). Without the variable nothing runs.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Session } from 'node:inspector';
import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { attributeStalls, type CpuProfile, type StallWindow } from './longTasks';

export const HOST_PROBE_COMMAND = 'gatescope.writeHostProbe';
/** Stalls longer than this are kept and attributed. */
const STALL_MS = 30;
const TICK_MS = 5;

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export function registerHostProbe(bundleDir: string): vscode.Disposable {
  if (process.env.GATESCOPE_HOST_PROBE !== '1') return new vscode.Disposable(() => undefined);
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const stalls: StallWindow[] = [];
  let expected = nowUs() + TICK_MS * 1000;
  const timer = setInterval(() => {
    const now = nowUs();
    const late = now - expected;
    if (late > STALL_MS * 1000) stalls.push({ start: now - late - TICK_MS * 1000, end: now });
    expected = now + TICK_MS * 1000;
  }, TICK_MS);
  const profiling = process.env.GATESCOPE_HOST_PROBE_PROFILE !== '0';
  const session = new Session();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((ok, fail) => session.post(method, params ?? {}, (err, res) => (err ? fail(err) : ok(res as T))));
  const started = profiling ? (async () => {
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
  })() : Promise.resolve();
  let since = Date.now();

  const command = vscode.commands.registerCommand(HOST_PROBE_COMMAND, async (out: unknown) => {
    if (typeof out !== 'string') throw new Error(`${HOST_PROBE_COMMAND}: expected the path of the report`);
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    const loop = {
      seconds: Math.round((Date.now() - since) / 1000), count: histogram.count,
      meanMs: ms(histogram.mean), p50Ms: ms(histogram.percentile(50)), p99Ms: ms(histogram.percentile(99)),
      p999Ms: ms(histogram.percentile(99.9)), maxMs: ms(histogram.max),
    };
    let attribution: ReturnType<typeof attributeStalls> | undefined;
    if (profiling) {
      await started;
      const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop');
      attribution = attributeStalls(profile, stalls, (url) => url.includes(bundleDir));
    }
    const report = { eventLoop: loop, stallThresholdMs: STALL_MS, stallCount: stalls.length, profiled: profiling, ...attribution };
    // The next report covers the time from here (the profile's stop and the write above not included).
    await writeFile(out, JSON.stringify(report, null, 2));
    if (profiling) await post('Profiler.start');
    histogram.reset();
    stalls.length = 0;
    since = Date.now();
    expected = nowUs() + TICK_MS * 1000;
    return report;
  });

  return new vscode.Disposable(() => {
    command.dispose();
    clearInterval(timer);
    histogram.disable();
    if (profiling) session.disconnect();
  });
}
