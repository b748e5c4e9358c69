// Zip archives (torch.save, .npz, .keras) read member by member from the central directory, with the
// budgets of limits.ts: a member is inflated only when asked for, in small input chunks through fflate's
// streaming Inflate into a buffer of its declared size, so a bomb stops at its budget (or at the first
// byte past its declared size) instead of after gigabytes. Every member's CRC-32 is checked (a CRC of 0
// means "not computed", as torch.save writes with compute_crc32=False). Stored members are views of the
// file's bytes. Anything odd (truncation, overlapping or duplicate members, encryption, an unknown method)
// is one FormatError: "FILE: not a valid zip archive (…)".
import { Inflate } from 'fflate';
import { FormatError } from './errors';
import { type LoadLimits, formatLimit, limitError, loadLimits } from './limits';

export interface ZipMember {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc: number;
  /** Offset of the local file header. */
  readonly headerOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Input bytes pushed to the inflater at a time: one push inflates to at most ~1032× this. */
const INFLATE_CHUNK = 16 * 1024;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipArchive {
  private readonly byName = new Map<string, ZipMember>();
  private inflated = 0;

  private constructor(
    private readonly bytes: Uint8Array,
    readonly source: string,
    readonly limits: LoadLimits,
    readonly members: readonly ZipMember[],
  ) {
    for (const m of members) this.byName.set(m.name, m);
  }

  /** Reads the central directory (nothing is inflated yet). */
  static open(bytes: Uint8Array, source: string, limits?: Partial<LoadLimits>): ZipArchive {
    const lim = loadLimits(limits);
    return new ZipArchive(bytes, source, lim, readCentralDirectory(bytes, source));
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A member's bytes (a view for stored members), checked against its CRC; undefined when absent. */
  read(name: string): Uint8Array | undefined {
    const m = this.byName.get(name);
    return m ? this.extract(m) : undefined;
  }

  private invalid(why: string): FormatError {
    return new FormatError(`${this.source}: not a valid zip archive (${why})`);
  }

  private extract(m: ZipMember): Uint8Array {
    const b = this.bytes;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (m.headerOffset + 30 > b.length || view.getUint32(m.headerOffset, true) !== LOCAL) {
      throw this.invalid(`member "${m.name}" has no local header`);
    }
    const start = m.headerOffset + 30 + view.getUint16(m.headerOffset + 26, true) + view.getUint16(m.headerOffset + 28, true);
    const end = start + m.compressedSize;
    if (end > b.length) throw this.invalid(`member "${m.name}" is truncated`);
    const raw = b.subarray(start, end);
    let out: Uint8Array;
    if (m.method === 0) {
      out = raw;
    } else {
      const lim = this.limits;
      if (m.size > lim.maxInflateBytes) {
        throw limitError(this.source, `zip member "${m.name}" inflates to ${formatLimit('maxInflateBytes', m.size)}`, 'maxInflateBytes', lim);
      }
      if (this.inflated + m.size > lim.maxInflateBytes) {
        throw limitError(this.source, `zip members inflate to more than ${formatLimit('maxInflateBytes', lim.maxInflateBytes)} in all (at "${m.name}")`, 'maxInflateBytes', lim);
      }
      // Deflate expands at most ~1032:1; a larger declared size is a lie, refused before allocating.
      if (m.size > m.compressedSize * 1032 + 1024) throw this.invalid(`member "${m.name}" declares ${m.size} bytes from ${m.compressedSize} compressed`);
      this.inflated += m.size;
      out = inflateMember(raw, m, (why) => this.invalid(why));
    }
    if (m.crc !== 0 && crc32(out) !== m.crc) throw this.invalid(`CRC-32 mismatch in member "${m.name}": the file is corrupt`);
    return out;
  }
}

function inflateMember(raw: Uint8Array, m: ZipMember, invalid: (why: string) => FormatError): Uint8Array {
  const out = new Uint8Array(m.size);
  let pos = 0;
  let done = false;
  const inflater = new Inflate((chunk, final) => {
    if (pos + chunk.length > out.length) throw invalid(`member "${m.name}" inflates past its declared size of ${m.size} bytes`);
    out.set(chunk, pos);
    pos += chunk.length;
    if (final) done = true;
  });
  try {
    for (let i = 0; i < raw.length && !done; i += INFLATE_CHUNK) {
      const end = Math.min(raw.length, i + INFLATE_CHUNK);
      inflater.push(raw.subarray(i, end), end === raw.length);
    }
    if (!raw.length) inflater.push(raw, true);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    const why = (e as Error).message;
    throw invalid(`member "${m.name}": ${why === 'unexpected EOF' ? 'deflate data ends early' : `bad deflate data (${why})`}`);
  }
  if (pos !== m.size) throw invalid(`member "${m.name}" is truncated (inflates to ${pos} of its ${m.size} bytes)`);
  return out;
}

function readCentralDirectory(b: Uint8Array, source: string): ZipMember[] {
  const invalid = (why: string): FormatError => new FormatError(`${source}: not a valid zip archive (${why})`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // The end-of-central-directory record: within the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD && i + 22 + view.getUint16(i + 20, true) <= b.length) { eocd = i; break; }
  }
  if (eocd < 0) throw invalid('no end-of-central-directory record; truncated?');
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) throw invalid('multi-disk archives are not supported');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== EOCD64_LOCATOR) throw invalid('ZIP64 locator missing');
    const rec = safeU64(view, loc + 8, invalid);
    if (rec + 56 > b.length || view.getUint32(rec, true) !== EOCD64) throw invalid('ZIP64 end record missing');
    count = safeU64(view, rec + 32, invalid);
    cdSize = safeU64(view, rec + 40, invalid);
    cdOffset = safeU64(view, rec + 48, invalid);
  }
  if (cdOffset + cdSize > eocd || count * 46 > cdSize) throw invalid('central directory runs past its end');
  const members: ZipMember[] = [];
  const seen = new Set<string>();
  const utf8 = new TextDecoder('utf-8');
  const latin1 = new TextDecoder('latin1');
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdOffset + cdSize || view.getUint32(p, true) !== CENTRAL) throw invalid(`central directory entry ${k} is damaged`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let headerOffset = view.getUint32(p + 42, true);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) throw invalid(`central directory entry ${k} runs past the directory`);
    const name = (flags & 0x800 ? utf8 : latin1).decode(b.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field: the 64-bit values of the fields saturated above, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => { if (q + 8 > e + 4 + len) throw invalid(`ZIP64 field of "${name}" is short`); const v = safeU64(view, q, invalid); q += 8; return v; };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (headerOffset === 0xffffffff) headerOffset = take();
      }
      e += 4 + len;
    }
    if (flags & 0x1) throw invalid(`member "${name}" is encrypted`);
    if (method !== 0 && method !== 8) throw invalid(`member "${name}" uses compression method ${method} (only stored and deflate are supported)`);
    if (method === 0 && size !== compressedSize) throw invalid(`stored member "${name}" has different sizes (${compressedSize} vs ${size})`);
    if (seen.has(name)) throw invalid(`member name "${name}" appears twice`);
    seen.add(name);
    if (headerOffset + 30 + compressedSize > cdOffset) throw invalid(`member "${name}" runs into the central directory`);
    members.push({ name, method, compressedSize, size, crc, headerOffset });
    p = next;
  }
  // Members may not share bytes: overlapping members are how non-recursive zip bombs multiply.
  const byOffset = [...members].sort((x, y) => x.headerOffset - y.headerOffset);
  for (let i = 1; i < byOffset.length; i++) {
    if (byOffset[i].headerOffset < byOffset[i - 1].headerOffset + 30 + byOffset[i - 1].compressedSize) {
      throw invalid(`members "${byOffset[i - 1].name}" and "${byOffset[i].name}" overlap`);
    }
  }
  return members;
}

function safeU64(view: DataView, at: number, invalid: (why: string) => FormatError): number {
  if (at + 8 > view.byteLength) throw invalid('ZIP64 record is truncated');
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('ZIP64 size or offset out of range');
  return Number(v);
}

// CRC-32 (IEEE 802.3, as zip uses), slicing by 8.
const CRC_TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let s = 1; s < 8; s++) t[s * 256 + n] = (t[(s - 1) * 256 + n] >>> 8) ^ t[t[(s - 1) * 256 + n] & 0xff];
  return t;
})();

export function crc32(data: Uint8Array, seed = 0): number {
  const t = CRC_TABLES;
  let c = ~seed;
  let i = 0;
  const n8 = data.length - (data.length % 8);
  for (; i < n8; i += 8) {
    const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)]
      ^ t[768 + data[i + 4]] ^ t[512 + data[i + 5]] ^ t[256 + data[i + 6]] ^ t[data[i + 7]];
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
