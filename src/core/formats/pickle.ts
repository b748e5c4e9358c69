// A safe pickle reader: it interprets the opcodes of protocols 0–5 on a value stack, but it never
// imports or calls anything. A GLOBAL resolves only through the caller's allow-list. Any other class
// (a name whose last part is capitalised, like `model.RNNModel` or `torch.nn.modules.rnn.LSTM`) becomes an
// inert reference: NEWOBJ on it makes a PyObject record (its class name, the arguments and the state BUILD
// gives it), never an instance, and REDUCE on it — calling it — is refused naming it. Any other global
// (a function such as os.system) is refused when it is named. Marks live on their own stack (as in
// CPython), so no opcode scans the value stack; the containers and records a pickle may create are counted
// against a budget, and long integers and text lines are bounded, so a small file cannot make the reader
// allocate or spin.
import { FormatError } from './errors';
import { type LoadLimits, limitError, loadLimits } from './limits';

/** A Python tuple (lists are plain arrays, dicts are Maps). */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

/** A dict-like object with attributes set by BUILD (e.g. a state_dict's `_metadata`). */
export class PyDict extends Map<unknown, unknown> {
  attributes: unknown = undefined;
}

/** An allowed global: a callable (REDUCE / NEWOBJ) or a plain marker value. */
export interface PyGlobal {
  readonly qualifiedName: string;
  readonly call?: (args: unknown[]) => unknown;
  /** BUILD on a result of this global (default: refuse non-empty state). */
  readonly build?: (obj: unknown, state: unknown) => unknown;
}

export class UnsafePickleError extends FormatError {}

/** A class the allow-list does not know: only a name, never imported. */
export class PyClassRef {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string { return `${this.module}.${this.name}`; }
}

/**
 * What `cls.__new__(cls, *args)` followed by BUILD would have made, as data: the class name, the NEWOBJ
 * arguments and the pickled state (`__dict__`, or whatever `__getstate__` returned). Nothing runs.
 */
export class PyObject {
  state: unknown = undefined;
  constructor(readonly cls: PyClassRef, readonly args: unknown[]) {}
  get className(): string { return this.cls.qualifiedName; }
  /** The state's attribute dict (a plain dict state, or the first element of a (dict, slots) tuple). */
  get dict(): Map<unknown, unknown> | undefined {
    const s = this.state;
    if (s instanceof Map) return s;
    if (s instanceof PyTuple && s.items[0] instanceof Map) return s.items[0] as Map<unknown, unknown>;
    return undefined;
  }
}

/** Names that may become inert class references: a capitalised last part (classes, by Python's convention). */
export function isClassName(module: string, name: string): boolean {
  return /^[A-Za-z_][\w.]*$/.test(module) && /^_*[A-Z]\w*$/.test(name);
}

export interface PickleOptions {
  /** Resolves `module.name` to an allowed global, or undefined to refuse it. */
  readonly resolveGlobal: (module: string, name: string) => PyGlobal | undefined;
  /** Explains a refused global (e.g. "save model.state_dict() instead"). */
  readonly refusalAdvice?: (qualifiedName: string) => string | undefined;
  /** PERSID / BINPERSID: the object a persistent id stands for (torch storages). */
  readonly persistentLoad?: (pid: unknown) => unknown;
  readonly source?: string;
  readonly limits?: Partial<LoadLimits>;
  /** Let unknown classes be inert references (see the file comment); default: refuse every unknown global. */
  readonly inertClasses?: boolean;
}

export interface PickleResult {
  readonly value: unknown;
  /** Offset just past the STOP opcode (legacy .pt files hold several pickles in a row). */
  readonly end: number;
}

/** Longest LONG1/LONG4 or text integer accepted, in bytes / digits (state_dicts hold small ints). */
const MAX_INT_BYTES = 1024;

/** Reads one pickle starting at `offset`. */
export function readPickle(bytes: Uint8Array, options: PickleOptions, offset = 0): PickleResult {
  const source = options.source ?? 'pickle';
  const limits = loadLimits(options.limits);
  let objects = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  const latin1 = new TextDecoder('latin1');
  let pos = offset;
  const stack: unknown[] = [];
  /** Stack heights at each MARK (CPython's metastack). */
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const fail = (msg: string): never => { throw new FormatError(`${source}: ${msg} (at byte ${pos})`); };
  /** Counts one new container against the budget. */
  const made = <T>(x: T): T => {
    if (++objects > limits.maxPickleObjects) {
      throw limitError(source, `the pickle creates more than ${limits.maxPickleObjects} lists, tuples, dicts and sets`, 'maxPickleObjects', limits);
    }
    return x;
  };

  const need = (n: number): void => { if (pos + n > bytes.length) fail('truncated pickle'); };
  const u8 = (): number => { need(1); return bytes[pos++]; };
  const u16 = (): number => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const i32 = (): number => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u32 = (): number => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8); const v = view.getBigUint64(pos, true); pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('length too large');
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    if (n < 0) fail(`negative length ${n}`);
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (max = Infinity): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end - pos > max) fail(`text line longer than ${max} bytes`);
    if (end < 0) fail('unterminated text line');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  /** The bottom of the current mark frame: values below it belong to an enclosing MARK. */
  const floor = (): number => (marks.length ? marks[marks.length - 1] : 0);
  const pop = (): unknown => { if (stack.length <= floor()) fail('stack underflow'); return stack.pop(); };
  const top = (): unknown => { if (stack.length <= floor()) fail('stack underflow'); return stack[stack.length - 1]; };
  const popMark = (): unknown[] => {
    if (!marks.length) fail('MARK expected');
    return stack.splice(marks.pop()!);
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > MAX_INT_BYTES) fail(`integer of ${b.length} bytes is too long`);
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
    let v = BigInt(`0x${hex}`);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const refuse = (q: string, why = 'not on the allow-list of a tensor file'): never => {
    const advice = options.refusalAdvice?.(q);
    throw new UnsafePickleError(`${source}: refusing to load global ${q} (${why})${advice ? `; ${advice}` : ''}`);
  };
  const global = (module: string, name: string): PyGlobal | PyClassRef => {
    const g = options.resolveGlobal(module, name);
    if (g) return g;
    if (options.inertClasses && isClassName(module, name)) return made(new PyClassRef(module, name));
    return refuse(`${module}.${name}`);
  };
  /** Errors of the allow-listed callables name the file and the position, like the reader's own. */
  const guarded = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof FormatError) || e.message.startsWith(`${source}: `)) throw e;
      throw new (e.constructor as typeof FormatError)(`${source}: ${e.message} (at byte ${pos})`);
    }
  };
  const callable = (f: unknown, what: string): ((args: unknown[]) => unknown) => {
    if (f instanceof PyClassRef) refuse(f.qualifiedName, `${what} would call it: only the tensor allow-list is ever called`);
    const g = f as PyGlobal;
    if (!g || typeof g !== 'object' || typeof g.call !== 'function') fail(`${what} on something that is not an allowed callable`);
    return (args) => guarded(() => g.call!(args));
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) fail('APPEND(S) on something that is not a list');
    for (const x of items) (list as unknown[]).push(x); // not push(...items): no argument-count limit
  };
  const builders = new WeakMap<object, PyGlobal>();
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) fail('persistent id without a persistent loader');
    return guarded(() => options.persistentLoad!(pid));
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); pos += 8; break; // FRAME (length ignored: we read the whole buffer)
      case 0x2e: return { value: pop(), end: pos }; // STOP
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: if (stack.length > floor()) stack.pop(); else if (marks.length) marks.pop(); else fail('stack underflow'); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: stack.push(longFromBytes(take(u8()))); break; // LONG1
      case 0x8b: { const n = i32(); if (n < 0) fail('negative LONG4 length'); stack.push(longFromBytes(take(n))); break; }
      case 0x49: { // INT (text): also encodes True/False as 01/00
        const s = line(MAX_INT_BYTES);
        stack.push(s === '01' ? true : s === '00' ? false : parseTextInt(s, fail));
        break;
      }
      case 0x4c: stack.push(parseTextInt(line(MAX_INT_BYTES).replace(/L$/, ''), fail)); break; // LONG (text)
      case 0x46: stack.push(Number(line(MAX_INT_BYTES))); break; // FLOAT (text)
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x58: stack.push(text.decode(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(text.decode(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text.decode(take(u64()))); break; // BINUNICODE8
      case 0x56: stack.push(line()); break; // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x53: stack.push(unquote(line())); break; // STRING (text)
      case 0x54: stack.push(latin1.decode(take(i32()))); break; // BINSTRING
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(new Uint8Array(take(u32()))); break; // BINBYTES
      case 0x43: stack.push(new Uint8Array(take(u8()))); break; // SHORT_BINBYTES
      case 0x8e: stack.push(new Uint8Array(take(u64()))); break; // BINBYTES8
      case 0x96: stack.push(new Uint8Array(take(u64()))); break; // BYTEARRAY8
      case 0x29: stack.push(made(new PyTuple([]))); break; // EMPTY_TUPLE
      case 0x74: stack.push(made(new PyTuple(popMark()))); break; // TUPLE
      case 0x85: stack.push(made(new PyTuple([pop()]))); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(made(new PyTuple([a, b]))); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(made(new PyTuple([a, b, c]))); break; } // TUPLE3
      case 0x5d: stack.push(made([])); break; // EMPTY_LIST
      case 0x6c: stack.push(made(popMark())); break; // LIST
      case 0x7d: stack.push(made(new PyDict())); break; // EMPTY_DICT
      case 0x64: { const d = made(new PyDict()); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x8f: stack.push(made(new Set())); break; // EMPTY_SET
      case 0x90: { const items = popMark(); const s = top(); if (!(s instanceof Set)) fail('ADDITEMS on a non-set'); for (const x of items) (s as Set<unknown>).add(x); break; }
      case 0x91: stack.push(made(new Set(popMark()))); break; // FROZENSET
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x70: memo.set(parseTextInt(line(MAX_INT_BYTES), fail) as number, top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: stack.push(memoGet(memo, parseTextInt(line(MAX_INT_BYTES), fail) as number, fail)); break; // GET
      case 0x68: stack.push(memoGet(memo, u8(), fail)); break; // BINGET
      case 0x6a: stack.push(memoGet(memo, u32(), fail)); break; // LONG_BINGET
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(); const f = pop();
        if (!(args instanceof PyTuple)) fail('REDUCE arguments are not a tuple');
        const g = f as PyGlobal;
        const result = made(callable(f, 'REDUCE')((args as PyTuple).items));
        if (result && typeof result === 'object' && g.build) builders.set(result, g);
        stack.push(result);
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop(); const cls = pop();
        if (!(args instanceof PyTuple)) fail('NEWOBJ arguments are not a tuple');
        // cls.__new__ of an unknown class: a record, nothing is instantiated.
        if (cls instanceof PyClassRef) { stack.push(made(new PyObject(cls, (args as PyTuple).items))); break; }
        stack.push(made(callable(cls, 'NEWOBJ')((args as PyTuple).items)));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        pop(); const args = pop(); const cls = pop();
        if (!(args instanceof PyTuple)) fail('NEWOBJ_EX arguments are not a tuple');
        if (cls instanceof PyClassRef) { stack.push(made(new PyObject(cls, (args as PyTuple).items))); break; }
        stack.push(made(callable(cls, 'NEWOBJ_EX')((args as PyTuple).items)));
        break;
      }
      case 0x62: { // BUILD
        const state = pop(); const obj = top();
        if (obj instanceof PyDict) { obj.attributes = state; break; }
        // __setstate__ is never called: the state is kept as the record's data.
        if (obj instanceof PyObject) { obj.state = state; break; }
        const g = obj && typeof obj === 'object' ? builders.get(obj) : undefined;
        if (g?.build) { stack[stack.length - 1] = guarded(() => g.build!(obj, state)); break; }
        if (isEmptyState(state, limits.maxNesting)) break;
        fail('BUILD with state on an object that takes none');
        break;
      }
      case 0x51: stack.push(persistent(pop())); break; // BINPERSID
      case 0x50: stack.push(persistent(line())); break; // PERSID
      case 0x69: fail('INST opcode (protocol 0 class instance) is not allowed'); break;
      case 0x6f: fail('OBJ opcode (protocol 0 class instance) is not allowed'); break;
      case 0x82: case 0x83: case 0x84: fail('EXT opcodes (copyreg extension registry) are not allowed'); break;
      case 0x97: fail('NEXT_BUFFER (out-of-band buffers) is not supported'); break;
      case 0x98: break; // READONLY_BUFFER
      default: fail(`unknown pickle opcode 0x${op.toString(16)}`);
    }
  }
}

function memoGet(memo: Map<number, unknown>, key: number, fail: (m: string) => never): unknown {
  if (!memo.has(key)) fail(`memo key ${key} was never stored`);
  return memo.get(key);
}

function parseTextInt(s: string, fail: (m: string) => never): number | bigint {
  if (!/^[-+]?\d+$/.test(s.trim())) fail(`bad integer literal "${s}"`);
  const v = BigInt(s.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function unquote(s: string): string {
  const q = s[0];
  return (q === '"' || q === "'") && s.endsWith(q) ? s.slice(1, -1) : s;
}

/** None, {}, or tuples of those (iteratively: the state comes from the file). */
function isEmptyState(state: unknown, maxNesting: number): boolean {
  const todo: [unknown, number][] = [[state, 0]];
  while (todo.length) {
    const [s, depth] = todo.pop()!;
    if (s === null || s === undefined) continue;
    if (s instanceof Map) { if (s.size) return false; continue; }
    if (!(s instanceof PyTuple) || depth >= maxNesting) return false;
    for (const x of s.items) todo.push([x, depth + 1]);
  }
  return true;
}
