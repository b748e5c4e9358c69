// A second kernel thread for the synchronous engine API: a worker_thread instantiates the same kernel
// module on the same shared memory and runs one export call at a time from a SharedArrayBuffer mailbox.
// The caller posts the worker's half of a kernel, runs its own half, then joins (spin briefly, then
// Atomics.wait), so the engine stays synchronous and usable inside the training worker.
// On a loaded machine the helper may not be scheduled in time: whoever claims a posted call first (a
// compare-exchange on CLAIMED) runs it, so the caller does the work itself instead of waiting.
import { Worker } from 'node:worker_threads';
import type { WasmMemory, WasmModule } from './wasmApi';

const SEQ = 0, FN = 1, ARGS = 2, MAX_ARGS = 14, DONE = 16, ERROR = 17, SLEEPING = 18, JOINING = 19, CLAIMED = 20;
/** How long the helper spins for the next call before sleeping (calls come every few dozen µs in BPTT). */
const SPIN_MS = 0.5;

// Plain JS evaluated in the worker: no bundling or file lookup needed.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, mailbox, names, stackTop } = workerData;
const exportsOf = new WebAssembly.Instance(module, { env: { memory, now_ns: () => performance.now() * 1e6 } }).exports; // as wasmKernels.ts
// Both instances start with the same shadow stack in the shared memory: this one moves to its own.
if (stackTop && exportsOf.__stack_pointer) exportsOf.__stack_pointer.value = stackTop;
const fns = names.map((n) => exportsOf[n]);
const box = new Int32Array(mailbox);
let seen = 0;
for (;;) {
  let spinStart = performance.now();
  while (Atomics.load(box, ${SEQ}) === seen) {
    if (performance.now() - spinStart > ${SPIN_MS}) {
      Atomics.store(box, ${SLEEPING}, 1);
      Atomics.wait(box, ${SEQ}, seen, 200);
      Atomics.store(box, ${SLEEPING}, 0);
      spinStart = performance.now();
    }
  }
  seen = Atomics.load(box, ${SEQ});
  const fn = box[${FN}];
  if (fn < 0) break;
  if (Atomics.compareExchange(box, ${CLAIMED}, seen - 1, seen) !== seen - 1) continue; // the caller took it
  try {
    fns[fn](...box.subarray(${ARGS}, ${ARGS + MAX_ARGS}));
  } catch (err) {
    Atomics.store(box, ${ERROR}, 1);
  }
  Atomics.store(box, ${DONE}, seen);
  if (Atomics.load(box, ${JOINING})) Atomics.notify(box, ${DONE});
}
`;

export class HelperThread {
  private readonly worker: Worker;
  private readonly box: Int32Array;
  private readonly index: Map<string, number>;
  private seq = 0;
  private pending = false;
  private posted: { fn: (...args: number[]) => void; args: readonly number[] } | undefined;

  /**
   * `local`: the caller's own instance's exports, to run a call the helper has not picked up. `stackTop`: the
   * byte address just past the helper's own shadow stack (for modules that export __stack_pointer).
   */
  constructor(module: WasmModule, memory: WasmMemory, names: readonly string[],
    private readonly local: Readonly<Record<string, unknown>>, stackTop: number) {
    this.box = new Int32Array(new SharedArrayBuffer(32 * 4));
    this.index = new Map(names.map((n, i) => [n, i]));
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, mailbox: this.box.buffer, names, stackTop } });
    this.worker.unref(); // an idle kernel thread never keeps the process alive
  }

  /** Starts `name(...args)` on the helper thread. */
  post(name: string, args: readonly number[]): void {
    if (this.pending) this.join();
    const fn = this.index.get(name);
    if (fn === undefined || args.length > MAX_ARGS) throw new Error(`helper thread cannot run ${name}`);
    this.box.fill(0, ARGS, ARGS + MAX_ARGS);
    for (let i = 0; i < args.length; i++) this.box[ARGS + i] = args[i];
    this.box[FN] = fn;
    this.posted = { fn: this.local[name] as (...args: number[]) => void, args };
    Atomics.store(this.box, SEQ, ++this.seq);
    // A futex wake costs a system call: only when the helper has stopped spinning.
    if (Atomics.load(this.box, SLEEPING)) Atomics.notify(this.box, SEQ);
    this.pending = true;
  }

  /** Waits for the posted call. */
  join(): void {
    if (!this.pending) return;
    this.pending = false;
    if (Atomics.compareExchange(this.box, CLAIMED, this.seq - 1, this.seq) === this.seq - 1) {
      this.posted!.fn(...this.posted!.args); // not started yet: cheaper to do it here than to wait
      return;
    }
    let spins = 0;
    for (;;) {
      const done = Atomics.load(this.box, DONE);
      if (done === this.seq) break;
      if (++spins > 2000) {
        Atomics.store(this.box, JOINING, 1);
        Atomics.wait(this.box, DONE, done, 50);
        Atomics.store(this.box, JOINING, 0);
      }
    }
    if (Atomics.exchange(this.box, ERROR, 0)) throw new Error('a kernel call failed on the helper thread');
  }

  dispose(): void {
    if (this.pending) this.join();
    this.box[FN] = -1;
    Atomics.store(this.box, SEQ, ++this.seq);
    Atomics.notify(this.box, SEQ);
    void this.worker.terminate();
  }
}
