import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes a tar stream through unchanged while keeping the contents of a few named entries (at
 * most `limit` bytes each, the tail when longer): how a base backup's backup_label and
 * backup_manifest are read on the way to storage, without a second pass or a temporary file.
 * Plain ustar as pg_basebackup writes it (POSIX.1-1988 headers of 512 bytes, bodies padded to 512).
 */
export class TarEntryWatcher extends Transform {
  readonly captured = new Map<string, Buffer>();
  private header: Buffer[] = [];
  private headerBytes = 0;
  /** Bytes left in the current body (including padding), and how many of them are content. */
  private bodyLeft = 0;
  private contentLeft = 0;
  private current: { name: string; parts: Buffer[]; bytes: number } | undefined;

  private readonly names: ReadonlySet<string>;
  private readonly limit: number;
  private readonly onContent: ((name: string, bytes: Buffer) => void) | undefined;
  /**
   * `onContent` also receives every content byte of the watched entries, in order (e.g. to copy a
   * whole backup_manifest to a file while only its tail is kept in memory).
   */
  constructor(names: ReadonlySet<string>, limit: number = 1 << 20, onContent?: (name: string, bytes: Buffer) => void) {
    super();
    this.names = names;
    this.limit = limit;
    this.onContent = onContent;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.scan(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - offset);
        const content = Math.min(n, this.contentLeft);
        if (this.current && content > 0) this.keep(chunk.subarray(offset, offset + content));
        this.contentLeft -= content;
        this.bodyLeft -= n;
        offset += n;
        if (this.bodyLeft === 0) this.finishEntry();
        continue;
      }
      const n = Math.min(512 - this.headerBytes, chunk.length - offset);
      this.header.push(chunk.subarray(offset, offset + n));
      this.headerBytes += n;
      offset += n;
      if (this.headerBytes === 512) this.startEntry(Buffer.concat(this.header));
    }
  }

  private keep(bytes: Buffer): void {
    const entry = this.current!;
    this.onContent?.(entry.name, bytes);
    entry.parts.push(Buffer.from(bytes));
    entry.bytes += bytes.length;
    while (entry.bytes - entry.parts[0]!.length >= this.limit) entry.bytes -= entry.parts.shift()!.length;
  }

  private startEntry(block: Buffer): void {
    this.header = [];
    this.headerBytes = 0;
    if (block.every((b) => b === 0)) return;
    const field = (start: number, length: number) =>
      block
        .subarray(start, start + length)
        .toString('latin1')
        .replace(/\0.*$/s, '');
    const prefix = block.subarray(257, 263).toString('latin1').startsWith('ustar') ? field(345, 155) : '';
    const name = (prefix ? `${prefix}/` : '') + field(0, 100);
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    this.contentLeft = size;
    this.bodyLeft = Math.ceil(size / 512) * 512;
    this.current = this.names.has(name.replace(/^\.\//, ''))
      ? { name: name.replace(/^\.\//, ''), parts: [], bytes: 0 }
      : undefined;
    if (this.bodyLeft === 0) this.finishEntry();
  }

  private finishEntry(): void {
    if (this.current) this.captured.set(this.current.name, Buffer.concat(this.current.parts));
    this.current = undefined;
  }
}
