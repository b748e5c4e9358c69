// Splits an appended byte stream (a tailed events.jsonl) into complete lines. A last line without its
// "\n" is still being written: it is kept, not returned, until the rest arrives. Works on bytes, so a
// chunk that ends inside a multi-byte UTF-8 character is decoded only once the character is whole.

export class LineSplitter {
  private pending: Uint8Array = new Uint8Array(0);
  private readonly decoder = new TextDecoder('utf-8');
  /** Bytes consumed into complete lines (the offset of the pending line). */
  private consumedBytes = 0;

  get consumed(): number {
    return this.consumedBytes;
  }

  /** Bytes of the line still being written. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** The complete lines that `chunk` finishes (without their "\n"; a "\r" before it is dropped too). */
  push(chunk: Uint8Array): string[] {
    let buf = chunk;
    if (this.pending.length) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending, 0);
      buf.set(chunk, this.pending.length);
    }
    const lines: string[] = [];
    let start = 0;
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
      const end = i > start && buf[i - 1] === 13 ? i - 1 : i;
      lines.push(this.decoder.decode(buf.subarray(start, end)));
      this.consumedBytes += i + 1 - start;
      start = i + 1;
    }
    this.pending = buf.slice(start);
    return lines;
  }

  reset(): void {
    this.pending = new Uint8Array(0);
    this.consumedBytes = 0;
  }
}
