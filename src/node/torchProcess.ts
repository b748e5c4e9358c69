// The PyTorch trainer process behind the torch engine (python/gatescope/trainer.py), and a synchronous
// request/reply channel to it. LmEngine calls are synchronous, so the main thread cannot wait on a socket
// itself: a small worker thread owns the process and its TCP connection, and the main thread posts a
// request to it and sleeps in Atomics.wait until the worker has the reply (or the process has died),
// then takes the reply with receiveMessageOnPort.
//
//   one process:  PY -m gatescope.trainer --connect 127.0.0.1:PORT --device D
//   N processes:  PY -m torch.distributed.run --nnodes 1 --nproc_per_node N --master_addr 127.0.0.1
//                   --master_port FREE --redirects 1 --tee 1 --log_dir TMP -m gatescope.trainer ...
// (torch 1.13 under Python 3.11, Debian's, cannot parse the default `0` of --redirects / --tee; `1` is
// accepted everywhere.) The trainer connects back to a listening socket on 127.0.0.1 and proves itself
// with a random token passed in its environment. It runs in its own process group, so the terminal's
// Ctrl-C reaches gatescope only (which stops after the current step and saves through the trainer), and
// it exits when the connection closes.
//
// Messages, both ways: uint32 JSON length n, uint64 data length m (little-endian), n bytes of JSON, m
// bytes of tensors listed in the JSON's `tensors` ({name, dtype, shape}), each padded to 8 bytes.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { DType, Tensor, TensorData, TensorMap } from '../core/tensor';
import { EngineUnavailableError } from '../engines/index';

export type TorchDevice = 'cpu' | 'cuda';

export interface TorchLaunchOptions {
  /** The Python that has torch (default `python3` on PATH). */
  readonly python?: string;
  /** Processes (ranks); more than one starts torch.distributed.run. */
  readonly nproc?: number;
  readonly device?: TorchDevice;
  /** The trainer's environment (default this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for the trainer to start and connect (ms; default 180 000). */
  readonly startTimeoutMs?: number;
}

/** The trainer could not start: no such Python, no torch, no CUDA, no gatescope package. */
export class TorchUnavailableError extends EngineUnavailableError {}

/** The trainer failed or went away after it started. */
export class TorchTrainerError extends Error {}

export interface Reply {
  readonly header: Record<string, unknown>;
  readonly tensors: TensorMap;
}

/** The folder holding the `gatescope` Python package (python/ of this repository), when shipped here. */
export function pythonPackageRoot(): string | null {
  // src/node (tests, tsx) or dist/ (bundles): python/ is next to the folder above.
  for (const dir of [resolve(__dirname, '../python'), resolve(__dirname, '../../python')]) {
    if (existsSync(join(dir, 'gatescope', 'trainer.py'))) return dir;
  }
  return null;
}

// ---- frames -------------------------------------------------------------------------------------------

const HEADER_BYTES = 12;

const ARRAYS: Partial<Record<DType, { new(b: ArrayBuffer, o: number, n: number): TensorData; BYTES_PER_ELEMENT: number }>> = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array,
};

const pad8 = (n: number): number => (n + 7) & ~7;

export function encodeFrame(header: Record<string, unknown>, tensors: Iterable<[string, Tensor]> = []): ArrayBuffer {
  const list = [...tensors];
  const descriptors = list.map(([name, t]) => {
    if (!ARRAYS[t.dtype]) throw new TypeError(`tensor ${name}: dtype ${t.dtype} cannot be sent to the trainer`);
    return { name, dtype: t.dtype, shape: [...t.shape] };
  });
  const json = Buffer.from(JSON.stringify({ ...header, tensors: descriptors }), 'utf8');
  const dataBytes = list.reduce((n, [, t]) => n + pad8(t.data.byteLength), 0);
  const frame = new Uint8Array(HEADER_BYTES + json.length + dataBytes);
  const view = new DataView(frame.buffer);
  view.setUint32(0, json.length, true);
  view.setBigUint64(4, BigInt(dataBytes), true);
  frame.set(json, HEADER_BYTES);
  let at = HEADER_BYTES + json.length;
  for (const [, t] of list) {
    frame.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += pad8(t.data.byteLength);
  }
  return frame.buffer;
}

export function decodeFrame(frame: ArrayBuffer): Reply {
  const view = new DataView(frame);
  const n = view.getUint32(0, true);
  const header = JSON.parse(Buffer.from(frame, HEADER_BYTES, n).toString('utf8')) as Record<string, unknown>;
  const descriptors = (header.tensors ?? []) as { name: string; dtype: DType; shape: number[] }[];
  delete header.tensors;
  const tensors: TensorMap = new Map();
  let at = HEADER_BYTES + n;
  for (const d of descriptors) {
    const Ctor = ARRAYS[d.dtype];
    if (!Ctor) throw new TorchTrainerError(`the trainer sent ${d.name} as ${d.dtype}`);
    const count = d.shape.reduce((a, b) => a * b, 1);
    const bytes = count * Ctor.BYTES_PER_ELEMENT;
    if (at + bytes > frame.byteLength) throw new TorchTrainerError(`the trainer's ${d.name} runs past its message`);
    // A copy into a buffer of its own: aligned, and independent of the frame.
    const data = new Ctor(frame.slice(at, at + bytes), 0, count);
    tensors.set(d.name, { dtype: d.dtype, shape: d.shape, data });
    at += pad8(bytes);
  }
  return { header, tensors };
}

// ---- the worker that owns the process -----------------------------------------------------------------

// Plain JavaScript, run with `eval: true`, so it needs no bundle entry of its own. It posts to `port`
// {kind:'frame', frame} for every message from the trainer and {kind:'error', message, tail} once when
// the trainer cannot go on, bumping the shared counter after each post so Atomics.wait returns.
const WORKER_SOURCE = String.raw`
const { workerData, parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const net = require('node:net');
const { command, args, env, token, signal: shared, port } = workerData;
const counter = new Int32Array(shared);
const post = (msg, transfer) => { port.postMessage(msg, transfer || []); Atomics.add(counter, 0, 1); Atomics.notify(counter, 0); };
// However this thread ends, the main thread must not wait for it any longer.
process.on('exit', () => { Atomics.store(counter, 1, 1); Atomics.add(counter, 0, 1); Atomics.notify(counter, 0); });
let child = null, socket = null, tail = '', failed = false, closing = false, exited = false, killTimer = null;
const fail = (message) => {
  if (failed || closing) return;
  failed = true;
  post({ kind: 'error', message, tail });
  stop(0);
};
const killGroup = () => {
  if (!child || exited) return;
  try { if (process.platform === 'win32') child.kill('SIGKILL'); else process.kill(-child.pid, 'SIGKILL'); } catch {}
};
const stop = (graceMs) => {
  if (socket) socket.end();
  server.close();
  if (killTimer) return;
  killTimer = setTimeout(killGroup, graceMs);
};
// Splits a connection's bytes into frames; the first must be the trainer's hello with the token.
const onData = (s, conn) => (data) => {
  conn.chunks.push(data);
  conn.buffered += data.length;
  for (;;) {
    if (conn.buffered < 12) return;
    const all = conn.chunks.length === 1 ? conn.chunks[0] : Buffer.concat(conn.chunks);
    conn.chunks = [all];
    const n = all.readUInt32LE(0), m = Number(all.readBigUInt64LE(4)), total = 12 + n + m;
    if (socket !== s && total > 65536) { s.destroy(); return; } // not a hello: not our trainer
    if (conn.buffered < total) return;
    const frame = new ArrayBuffer(total);
    new Uint8Array(frame).set(all.subarray(0, total));
    const rest = all.subarray(total);
    conn.chunks = rest.length ? [rest] : [];
    conn.buffered = rest.length;
    if (socket !== s) {
      let hello = null;
      try { hello = JSON.parse(all.toString('utf8', 12, 12 + n)); } catch {}
      if (socket || !hello || hello.op !== 'hello' || hello.token !== token) { s.destroy(); return; }
      socket = s;
      server.close();
    }
    post({ kind: 'frame', frame }, [frame]);
  }
};
const server = net.createServer((s) => {
  if (socket) { s.destroy(); return; }
  s.setNoDelay(true);
  s.on('data', onData(s, { chunks: [], buffered: 0 }));
  s.on('error', () => {});
  s.on('close', () => {
    if (socket !== s) return;
    // The trainer closed its end: wait a moment for the process to exit and say why.
    setTimeout(() => fail('the trainer closed its connection'), 3000).unref();
  });
});
server.on('error', (e) => fail('cannot listen on 127.0.0.1: ' + e.message));
// A free port for torch.distributed's rendezvous store, when the command line asks for one.
const freePort = (done) => {
  if (!args.includes('{MASTER_PORT}')) { done(0); return; }
  const probe = net.createServer();
  probe.on('error', (e) => fail('no free TCP port on 127.0.0.1: ' + e.message));
  probe.listen(0, '127.0.0.1', () => { const p = probe.address().port; probe.close(() => done(p)); });
};
server.listen(0, '127.0.0.1', () => freePort((masterPort) => {
  if (closing || failed) return; // closed before it started: start nothing
  const where = '127.0.0.1:' + server.address().port;
  const fill = (a) => (a === '{CONNECT}' ? where : a === '{MASTER_PORT}' ? String(masterPort) : a);
  try {
    child = spawn(command, args.map(fill), {
      env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32', windowsHide: true,
    });
  } catch (e) { fail('cannot run ' + command + ': ' + e.message); return; }
  const keep = (d) => { tail = (tail + d.toString('utf8')).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (e) => fail(e.code === 'ENOENT' ? 'cannot run ' + command + ': not found' : 'cannot run ' + command + ': ' + e.message));
  child.on('close', (code, sig) => {
    exited = true;
    if (killTimer) clearTimeout(killTimer);
    fail('the trainer exited' + (sig ? ' on ' + sig : ' with status ' + code));
    parentPort.close(); // nothing left to do: the thread ends (its messages already queued stay readable)
  });
}));
parentPort.on('message', (m) => {
  if (m.kind === 'send') {
    if (socket && !failed) socket.write(Buffer.from(m.frame));
  } else if (m.kind === 'close') {
    closing = true;
    stop(m.graceMs);
  }
});
`;

/**
 * A trainer process and the synchronous channel to it. `launch` returns at once (Python and `import torch`
 * take seconds: let them boot while the data loads); `ready()` waits for the trainer's connection without
 * blocking the event loop, `waitReady()` blocking; `request` needs it ready.
 */
export class TorchProcess {
  private helloHeader: Record<string, unknown> | null = null;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  private readonly logDir: string | null;
  private readonly deadline: number;
  private failure: Error | null = null;
  private closed = false;

  private constructor(readonly options: Required<Pick<TorchLaunchOptions, 'python' | 'nproc' | 'device'>>, env: NodeJS.ProcessEnv,
    private readonly startTimeoutMs: number) {
    const { python, nproc, device } = options;
    this.deadline = performance.now() + startTimeoutMs;
    const token = randomBytes(24).toString('hex');
    this.logDir = nproc > 1 ? mkdtempSync(join(tmpdir(), 'gatescope-torchrun-')) : null;
    const trainer = ['-m', 'gatescope.trainer', '--connect', '{CONNECT}', '--device', device];
    const args = nproc > 1 ? [
      '-m', 'torch.distributed.run', '--nnodes', '1', '--nproc_per_node', String(nproc), '--max_restarts', '0',
      '--master_addr', '127.0.0.1', '--master_port', '{MASTER_PORT}',
      '--redirects', '1', '--tee', '1', '--log_dir', this.logDir!, ...trainer,
    ] : trainer;
    const root = pythonPackageRoot();
    const childEnv: NodeJS.ProcessEnv = {
      ...env, GATESCOPE_TRAINER_TOKEN: token, PYTHONUNBUFFERED: '1',
      ...(root ? { PYTHONPATH: [root, env.PYTHONPATH].filter(Boolean).join(delimiter) } : {}),
      // torchrun gives every rank one thread unless told; share the cores instead.
      ...(nproc > 1 && device === 'cpu' && !env.OMP_NUM_THREADS ? { OMP_NUM_THREADS: String(Math.max(1, Math.floor(cpus().length / nproc))) } : {}),
    };
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.counter = new Int32Array(new SharedArrayBuffer(8)); // [messages posted, worker ended]
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true, workerData: { command: python, args, env: childEnv, token, signal: this.counter.buffer, port: port2 },
      transferList: [port2],
    });
    this.worker.unref();
  }

  /** Starts the trainer (`python`, default python3; `nproc` ranks on `device`) without waiting for it. */
  static launch(options: TorchLaunchOptions = {}): TorchProcess {
    const nproc = options.nproc ?? 1;
    if (!(Number.isInteger(nproc) && nproc >= 1)) throw new RangeError(`nproc must be a positive integer, got ${nproc}`);
    return new TorchProcess({ python: options.python ?? 'python3', nproc, device: options.device ?? 'cpu' },
      options.env ?? process.env, options.startTimeoutMs ?? 180_000);
  }

  /** What the trainer said when it connected (torch version, device, ranks); needs it ready. */
  get hello(): Record<string, unknown> {
    if (!this.helloHeader) throw new Error('the trainer is not ready yet');
    return this.helloHeader;
  }

  /** Waits, without blocking the event loop, until the trainer has connected; TorchUnavailableError if it cannot. */
  async ready(): Promise<void> {
    while (!this.helloHeader) {
      if (this.poll()) return;
      if (performance.now() > this.deadline) this.timeOut();
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
  }

  /** ready(), blocking. */
  waitReady(): void {
    if (!this.helloHeader) this.helloHeader = this.wait(this.deadline, true).header;
  }

  /** One request and its reply; throws TorchTrainerError for a failed request or a trainer gone. */
  request(header: Record<string, unknown>, tensors: Iterable<[string, Tensor]> = []): Reply {
    if (this.failure) throw this.failure;
    if (this.closed) throw new TorchTrainerError('the trainer was closed');
    this.waitReady();
    const frame = encodeFrame(header, tensors);
    this.worker.postMessage({ kind: 'send', frame }, [frame]);
    const reply = this.wait(Infinity, false);
    if (reply.header.ok !== true) {
      const tb = typeof reply.header.traceback === 'string' ? `\n${reply.header.traceback.trimEnd()}` : '';
      throw new TorchTrainerError(`the torch trainer failed on ${String(header.op)}: ${String(reply.header.error)}${tb}`);
    }
    return reply;
  }

  /** Ends the trainer: it exits by itself once the connection closes; killed after `graceMs` if not. */
  close(graceMs = 10_000): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.postMessage({ kind: 'close', graceMs });
    if (this.logDir) rmSync(this.logDir, { recursive: true, force: true });
  }

  /** The hello if it has come (true); throws what the worker reported. */
  private poll(): boolean {
    const m = this.take(true);
    if (m) this.helloHeader = m.header;
    return !!m;
  }

  private take(starting: boolean): Reply | null {
    if (this.failure) throw this.failure;
    const ended = Atomics.load(this.counter, 1) === 1; // read first: whatever it posted before ending is queued
    const m = receiveMessageOnPort(this.port)?.message as { kind: string; frame?: ArrayBuffer; message?: string; tail?: string } | undefined;
    if (m?.kind === 'frame') return decodeFrame(m.frame!);
    if (m?.kind === 'error') {
      const message = this.explain(m.message!, m.tail ?? '');
      this.failure = starting ? new TorchUnavailableError(message) : new TorchTrainerError(message);
      throw this.failure;
    }
    if (ended) {
      this.failure = new TorchTrainerError('the torch trainer\'s channel ended unexpectedly');
      throw this.failure;
    }
    return null;
  }

  private timeOut(): never {
    this.failure = new TorchUnavailableError(`the torch trainer (${this.options.python}) did not start within ${Math.round(this.startTimeoutMs / 1000)} s`);
    this.close(0);
    throw this.failure;
  }

  private wait(deadline: number, starting: boolean): Reply {
    for (;;) {
      const seen = Atomics.load(this.counter, 0);
      const m = this.take(starting);
      if (m) return m;
      const left = deadline - performance.now();
      if (left <= 0) this.timeOut();
      Atomics.wait(this.counter, 0, seen, Math.min(left, 2 ** 31 - 1));
    }
  }

  /** One line for what went wrong, from the trainer's own message or the last of its output. */
  private explain(message: string, tail: string): string {
    const { python, device } = this.options;
    if (/No module named '?torch'?/.test(tail)) {
      return `the torch engine needs PyTorch, and ${python} cannot import torch (No module named 'torch'); ` +
        'install it for that Python (pip install torch, or Debian\'s python3-torch) or give --python PATH';
    }
    if (/No module named '?gatescope/.test(tail)) {
      return `${python} cannot import the gatescope Python package (python/ of the gatescope repository): put it on PYTHONPATH or pip install ./python`;
    }
    const own = tail.split('\n').map((l) => l.replace(/^\[[^\]]*\]:/, '').trim()).filter((l) => l.startsWith('gatescope-trainer: '));
    if (own.length) return own[own.length - 1].slice('gatescope-trainer: '.length);
    if (/^cannot run/.test(message)) return `${message} (the torch engine runs --python PY, default python3)`;
    const lines = tail.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim());
    const last = lines.slice(-12).join('\n');
    return `${message} (--device ${device})${last ? `:\n${last}` : ''}`;
  }
}
