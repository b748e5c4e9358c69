// Following a run directory while another program writes it (python/gatescope; the contract is in
// python/README.md): RunTail watches the folder (fs.watch: no timer, nothing runs while nothing is written)
// and reads events.jsonl from the last offset, keeping a partial last line until its "\n" arrives and
// starting over when the file is truncated or replaced. ExternalRun turns the records into the dashboard's
// messages: the loss charts' points, gate saturation and the two-module diff per snapshot (tensor files are
// parsed in the compute worker), probe heatmaps on request.
import { type FSWatcher, unwatchFile, watch, watchFile } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import {
  LineSplitter, RunState, dashboardSeries, diffModules, modulePair, parseRunLine, probeSaturation, probeTokenIds, probeTokenText,
  probedModules, traceSlab, type ModuleDescription, type RunOutcome, type RunRecord, type RunSnapshot,
} from '../../core/run';
import type { TensorMap } from '../../core/tensor';
import {
  type DashboardHistoryMessage, type ExternalRunInfo, type RunModuleDiff, type RunProbeRequest, type RunProbeResponse,
  type RunStatus, type RunSummary, type SaturationPoint, type ToWebviewMessage, exactBuffer, float64Buffer,
} from '../../protocol/webview';
import { Disposable, Emitter, type Event } from '../lifecycle';

export const EVENTS_FILE = 'events.jsonl';

/** Reads at most this much of events.jsonl per pass (a long history arrives in several). */
const CHUNK_BYTES = 4 << 20;

export interface TailOptions {
  /** fs.watch, replaceable in tests. */
  readonly watch?: (dir: string, listener: (event: string, file: string | null) => void) => FSWatcher;
}

/**
 * Tails RUN_DIR/events.jsonl: onDidRecords with the records of each batch of complete lines, onDidReset when
 * the file shrank (truncated, replaced): everything read before is void and it is read again from 0.
 */
export class RunTail extends Disposable {
  private readonly onDidRecordsEmitter = this.register(new Emitter<RunRecord[]>());
  readonly onDidRecords: Event<RunRecord[]> = this.onDidRecordsEmitter.event;
  private readonly onDidResetEmitter = this.register(new Emitter<void>());
  readonly onDidReset: Event<void> = this.onDidResetEmitter.event;
  private readonly onDidBadLineEmitter = this.register(new Emitter<string>());
  readonly onDidBadLine: Event<string> = this.onDidBadLineEmitter.event;
  private readonly lines = new LineSplitter();
  private offset = 0;
  private running = false;
  private again = false;
  private watcher: FSWatcher | undefined;

  constructor(readonly dir: string, private readonly options: TailOptions = {}) {
    super();
    this.register({ dispose: () => this.watcher?.close() });
  }

  get file(): string {
    return join(this.dir, EVENTS_FILE);
  }

  /** Starts watching and reads what is there; resolves after that first read. */
  async start(): Promise<void> {
    const w = this.options.watch ?? ((dir, l) => watch(dir, { persistent: false }, l));
    try {
      this.watcher = w(this.dir, (_event, file) => {
        if (file === null || file === EVENTS_FILE) void this.pump();
      });
      this.watcher.on?.('error', () => undefined); // the folder went away: nothing more to read
    } catch {
      // No file watch to be had (inotify instances or watches used up, a file system without events): stat
      // the file once a second instead, as the only fallback.
      const listener = (): void => void this.pump();
      watchFile(this.file, { persistent: false, interval: 1000 }, listener);
      this.register({ dispose: () => unwatchFile(this.file, listener) });
    }
    await this.pump();
  }

  /** Reads what was appended since the last read (one pass at a time; a change meanwhile reads again). */
  async pump(): Promise<void> {
    if (this.isDisposed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.readAppended();
      } while (this.again && !this.isDisposed);
    } finally {
      this.running = false;
    }
  }

  private async readAppended(): Promise<void> {
    let size: number;
    try {
      size = (await stat(this.file)).size;
    } catch {
      return; // not there yet: the folder watch says when it is
    }
    if (size < this.offset) {
      this.offset = 0;
      this.lines.reset();
      this.onDidResetEmitter.fire();
    }
    if (size === this.offset) return;
    const fh = await open(this.file, 'r');
    try {
      while (this.offset < size && !this.isDisposed) {
        const n = Math.min(CHUNK_BYTES, size - this.offset);
        const buf = new Uint8Array(n);
        const { bytesRead } = await fh.read(buf, 0, n, this.offset);
        if (bytesRead <= 0) break;
        this.offset += bytesRead;
        const records: RunRecord[] = [];
        for (const line of this.lines.push(buf.subarray(0, bytesRead))) {
          if (!line.trim()) continue;
          const p = parseRunLine(line);
          if ('record' in p) records.push(p.record);
          else this.onDidBadLineEmitter.fire(p.error);
        }
        if (records.length) this.onDidRecordsEmitter.fire(records);
      }
    } finally {
      await fh.close();
    }
  }
}

/** What the dashboard panel needs from a run it shows that is not one of its own training runs. */
export interface DashboardFeed {
  readonly runId: string;
  /** Everything to show now (a ready webview, a reset). */
  messages(): ToWebviewMessage[];
  /** Live updates. */
  readonly onDidPost: Event<ToWebviewMessage>;
  probe(request: RunProbeRequest): Promise<RunProbeResponse>;
}

/** A tensor file's tensors, parsed off the extension host (Backend.readTensors). */
export type TensorReader = (path: string) => Promise<TensorMap>;

/** Updates go out at most this often (a script may log thousands of steps a second). */
const FLUSH_MS = 100;
/** While a session has no end record, how often to ask whether its writer process still lives. */
const ALIVE_CHECK_MS = 2000;

function describeModule(name: string, d: ModuleDescription | undefined, info: { class?: string; layout?: string } | undefined): string {
  const what = d ? `${d.module} ${d.input_size ?? '?'}→${d.hidden_size}, ${d.num_layers} layer${d.num_layers === 1 ? '' : 's'}${d.bidirectional ? ', bidirectional' : ''}${d.dtype ? `, ${d.dtype}` : ''}` : '?';
  const extra = [info?.class, info?.layout].filter(Boolean).join(', ');
  return `${name}: ${what}${extra ? ` (${extra})` : ''}`;
}

/** Whether process `pid` runs on this machine (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface SnapshotResult {
  saturation?: SaturationPoint;
  diff?: RunModuleDiff;
  error?: string;
}

/** A run directory followed live, as the dashboard's feed. */
export class ExternalRun extends Disposable implements DashboardFeed {
  readonly runId: string;
  private readonly tail: RunTail;
  private state = new RunState();
  private readonly onDidPostEmitter = this.register(new Emitter<ToWebviewMessage>());
  readonly onDidPost = this.onDidPostEmitter.event;
  private readonly onDidChangeEmitter = this.register(new Emitter<RunOutcome>());
  /** The run's state changed (its outcome now). */
  readonly onDidChange = this.onDidChangeEmitter.event;
  private readonly results = new Map<string, SnapshotResult>();
  private readonly probeCache = new Map<string, Promise<{ tensors: TensorMap; metadata: Record<string, string> }>>();
  private pendingPoints: { name: string; step: number; value: number }[] = [];
  private structureDirty = false;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private aliveTimer: ReturnType<typeof setInterval> | undefined;
  private writerAlive: boolean | undefined;
  private badLines = 0;
  private generation = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string, private readonly readTensors: TensorReader, options: TailOptions = {}) {
    super();
    this.runId = `run:${dir}`;
    this.tail = this.register(new RunTail(dir, options));
    this.register(this.tail.onDidRecords((r) => this.apply(r)));
    this.register(this.tail.onDidReset(() => this.reset()));
    this.register(this.tail.onDidBadLine(() => { this.badLines++; }));
    this.register({ dispose: () => { clearTimeout(this.flushTimer); clearInterval(this.aliveTimer); } });
  }

  start(): Promise<void> {
    return this.tail.start();
  }

  /** How the run stands (for the command's messages and tests). */
  get outcome(): RunOutcome {
    return this.state.outcome(this.writerAlive);
  }

  get label(): string {
    return `Run ${basename(this.dir)}`;
  }

  messages(): ToWebviewMessage[] {
    return [this.history(), { type: 'runInfo', runId: this.runId, info: this.info() }];
  }

  private reset(): void {
    this.generation++;
    this.state = new RunState();
    this.results.clear();
    this.probeCache.clear();
    this.pendingPoints = [];
    this.structureDirty = true;
    this.schedule();
  }

  private apply(records: RunRecord[]): void {
    const change = this.state.apply(records);
    if (change.reset) {
      this.results.clear();
      this.probeCache.clear();
      this.pendingPoints = [];
    }
    this.pendingPoints.push(...change.points);
    if (change.structure) this.structureDirty = true;
    // One snapshot at a time (a long run opened late has many): each waits for the one before.
    for (const s of change.snapshots) this.queue = this.queue.then(() => this.process(s));
    this.checkWriter();
    this.schedule();
  }

  /**
   * Asks whether the session's writer lives while it has no end record; stops asking once it ended. A writer
   * on another host (the start record's `host`) is not asked about: its run counts as running.
   */
  private checkWriter(): void {
    const pid = this.state.start?.pid;
    const host = this.state.start?.host;
    const open = !!this.state.start && !this.state.end && pid !== undefined && (host === undefined || host === hostname());
    if (!open) {
      clearInterval(this.aliveTimer);
      this.aliveTimer = undefined;
      this.writerAlive = undefined;
      return;
    }
    const alive = processAlive(pid);
    if (alive !== this.writerAlive) {
      this.writerAlive = alive;
      this.structureDirty = true;
      this.schedule();
    }
    if (alive && !this.aliveTimer) this.aliveTimer = setInterval(() => this.checkWriter(), ALIVE_CHECK_MS);
    if (!alive) {
      clearInterval(this.aliveTimer);
      this.aliveTimer = undefined;
    }
  }

  private schedule(): void {
    if (this.isDisposed) return;
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.structureDirty) {
      this.structureDirty = false;
      this.pendingPoints = [];
      for (const m of this.messages()) this.onDidPostEmitter.fire(m);
      this.onDidChangeEmitter.fire(this.outcome);
    } else if (this.pendingPoints.length) {
      const points = this.pendingPoints;
      this.pendingPoints = [];
      this.onDidPostEmitter.fire({ type: 'runScalars', runId: this.runId, points });
    }
  }

  private readProbe(rel: string): Promise<{ tensors: TensorMap; metadata: Record<string, string> }> {
    let p = this.probeCache.get(rel);
    if (!p) {
      const path = join(this.dir, rel);
      p = Promise.all([this.readTensors(path), readSafetensorsMetadata(path)]).then(([tensors, metadata]) => ({ tensors, metadata }));
      p.catch(() => this.probeCache.delete(rel));
      this.probeCache.set(rel, p);
      while (this.probeCache.size > 4) this.probeCache.delete(this.probeCache.keys().next().value!);
    }
    return p;
  }

  /** Saturation and (two modules) the diff of one snapshot, then a refresh. */
  private async process(s: RunSnapshot): Promise<void> {
    const generation = this.generation;
    if (this.isDisposed || this.state.snapshots.get(s.tag) !== s) return; // replaced or reset meanwhile
    const result: SnapshotResult = {};
    try {
      const probe = s.probe ? (await this.readProbe(s.probe)).tensors : undefined;
      if (probe) {
        const sat = probeSaturation(probe);
        const several = new Set(sat.map((e) => e.module)).size > 1;
        result.saturation = {
          step: s.step ?? s.index,
          entries: sat.map((e) => ({ layer: e.layer, reverse: e.reverse, gate: several ? `${e.module}:${e.gate}` : e.gate, low: e.low, high: e.high })),
        };
      }
      const pair = modulePair([...this.state.models.keys()], this.state.modules);
      if (pair) {
        const weights = await this.readTensors(join(this.dir, s.weights));
        const d = diffModules(weights, probe, pair[0], pair[1], this.state.modules);
        result.diff = { tag: s.tag, step: s.step, ...d };
      }
    } catch (e) {
      result.error = `snapshot ${s.tag}: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (this.isDisposed || generation !== this.generation || this.state.snapshots.get(s.tag) !== s) return;
    this.results.set(s.tag, result);
    this.structureDirty = true;
    this.schedule();
  }

  private summary(): RunSummary {
    const o = this.outcome;
    const status: RunStatus = o.phase === 'waiting' || o.phase === 'running' ? 'training'
      : o.phase === 'stopped' || o.status === 'error' ? 'failed'
        : o.status === 'ok' ? 'done' : 'cancelled';
    const st = this.state;
    const models = [...st.models].map(([n, d]) => describeModule(n, d, st.modules.get(n)).replace(/ \(.*\)$/, ''));
    return {
      runId: this.runId, label: this.label, status, totalSteps: st.lastStep ?? 0, external: true, runDir: this.dir,
      engine: st.start?.torch ? `PyTorch ${st.start.torch}` : 'PyTorch',
      ...(status === 'failed' ? { error: o.error ?? o.text } : {}),
      ...(models.length ? { model: models.join('; ') } : {}),
    };
  }

  private series(name: string): { steps: ArrayBuffer; values: ArrayBuffer } {
    const s = this.state.scalars.get(name);
    return { steps: float64Buffer(s?.steps ?? []), values: float64Buffer(s?.values ?? []) };
  }

  private history(): DashboardHistoryMessage {
    const names = [...this.state.scalars.keys()];
    const pick = (kind: 'train' | 'validation' | 'gradNorm'): { steps: ArrayBuffer; values: ArrayBuffer } => {
      const name = names.find((n) => dashboardSeries(n) === kind);
      return this.series(name ?? '');
    };
    const saturation = this.state.snapshotList().map((s) => this.results.get(s.tag)?.saturation).filter((x): x is SaturationPoint => !!x);
    return {
      type: 'dashboardHistory', run: this.summary(), train: pick('train'), validation: pick('validation'), gradNorm: pick('gradNorm'),
      saturation, samples: [],
    };
  }

  private info(): ExternalRunInfo {
    const st = this.state;
    const snaps = st.snapshotList();
    const notes: string[] = [];
    if (st.stoppedSessions) notes.push(`${st.stoppedSessions} earlier session${st.stoppedSessions === 1 ? '' : 's'} of this folder stopped without an end record`);
    if (st.sessions > 1) notes.push(`session ${st.sessions} of this folder (the earlier ones are not shown)`);
    if (this.badLines) notes.push(`${this.badLines} line${this.badLines === 1 ? '' : 's'} of events.jsonl could not be read`);
    for (const s of snaps) {
      const e = this.results.get(s.tag)?.error;
      if (e) notes.push(e);
    }
    const probed = new Map<string, { name: string; layers: number; directions: 1 | 2; kinds: string[] }>();
    for (const name of st.probeNames === undefined ? [] : st.probedModules()) {
      const d = st.models.get(name);
      if (!d) continue;
      const kinds = ['h', ...(d.module === 'LSTM' ? ['c', 'gate_i', 'gate_f', 'gate_g', 'gate_o'] : d.module === 'GRU' ? ['gate_r', 'gate_z', 'gate_n'] : [])];
      probed.set(name, { name, layers: d.num_layers, directions: d.bidirectional ? 2 : 1, kinds });
    }
    return {
      dir: this.dir, phase: this.outcome.phase, outcome: this.outcome.text,
      modules: [...st.models].map(([n, d]) => describeModule(n, d, st.modules.get(n))),
      probed: [...probed.values()],
      snapshots: snaps.map((s) => ({ tag: s.tag, step: s.step, ...(s.epoch === undefined ? {} : { epoch: s.epoch }), probe: !!s.probe })),
      scalars: [...st.scalars.keys()].filter((n) => !dashboardSeries(n)).map((name) => ({ name, series: this.series(name) })),
      diffs: snaps.map((s) => this.results.get(s.tag)?.diff).filter((d): d is RunModuleDiff => !!d),
      notes,
    };
  }

  async probe(r: RunProbeRequest): Promise<RunProbeResponse> {
    const snap = this.state.snapshots.get(r.tag);
    if (!snap?.probe) throw new Error(`snapshot ${r.tag} has no probe`);
    const { tensors, metadata } = await this.readProbe(snap.probe);
    const mod = probedModules(tensors.keys()).find((m) => m.name === r.module);
    if (!mod) throw new Error(`the probe of ${r.tag} has no module ${r.module}`);
    const prefix = r.module ? `${r.module}.` : '';
    const name = `${prefix}trace_l${r.layer}${r.reverse ? '_reverse' : ''}_${r.tensor}`;
    const t = tensors.get(name);
    if (!t) throw new Error(`the probe of ${r.tag} has no ${name}`);
    const slab = traceSlab(t, r.row);
    const ids = mod.tokens && tensors.get(mod.tokens) ? probeTokenIds(tensors.get(mod.tokens)!, r.row) : undefined;
    const text = probeTokenText(metadata, r.row);
    const tokens = text && text.length === slab.rows ? text
      : ids ? ids.map(String) : Array.from({ length: slab.rows }, (_, i) => String(i));
    return {
      type: 'runProbe', id: r.id, runId: this.runId, tag: r.tag, module: r.module, layer: r.layer, reverse: r.reverse, tensor: r.tensor,
      rows: slab.rows, cols: slab.cols, maxAbs: slab.maxAbs, data: exactBuffer(slab.data), tokens,
    };
  }
}

/** A safetensors file's `__metadata__` (the header only is read). */
export async function readSafetensorsMetadata(path: string): Promise<Record<string, string>> {
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(8);
    await fh.read(head, 0, 8, 0);
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (!(n > 0 && n < 100 << 20)) return {};
    const buf = new Uint8Array(n);
    await fh.read(buf, 0, n, 8);
    const header: unknown = JSON.parse(new TextDecoder().decode(buf));
    const meta = typeof header === 'object' && header !== null ? (header as Record<string, unknown>).__metadata__ : undefined;
    if (typeof meta !== 'object' || meta === null) return {};
    return Object.fromEntries(Object.entries(meta).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  } finally {
    await fh.close();
  }
}
