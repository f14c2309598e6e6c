/**
 * Unpacks the tar of a parallel logical backup into a private directory, as it streams: each entry
 * is written straight to its file (no whole-archive buffer), so the disk holds the directory
 * archive and memory a chunk. The archive is hostile input: only regular files with plain names
 * are accepted (tar-format.ts), each created anew (never through a link, never twice), mode 0600.
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { HindsightError } from '../errors.ts';
import { BLOCK, parseTarHeader } from './tar-format.ts';
import { TOC_FILE } from './spool-files.ts';

interface OpenEntry {
  name: string;
  handle: FileHandle;
  /** Bytes of data still to come, then the padding to the block. */
  left: number;
  padding: number;
}

export class TarExtractor extends Writable {
  private readonly dir: string;
  private pending: Buffer = Buffer.alloc(0);
  private entry: OpenEntry | undefined;
  private skip = 0;
  private ended = false;
  readonly names: string[] = [];

  /** `dir` must exist, be empty and private to this process's user. */
  constructor(dir: string) {
    super();
    this.dir = dir;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.entry || this.pending.length > 0 || !this.ended)
      callback(new HindsightError('integrity', 'tar: the archive ends in the middle (its end blocks are missing)'));
    else if (!this.names.includes(TOC_FILE))
      callback(new HindsightError('integrity', `tar: the archive holds no ${TOC_FILE}: pg_dump did not finish it`));
    else callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    const handle = this.entry?.handle;
    this.entry = undefined;
    if (handle)
      handle.close().then(
        () => callback(error),
        () => callback(error),
      );
    else callback(error);
  }

  private async consume(chunk: Buffer): Promise<void> {
    let data = chunk;
    while (data.length > 0) {
      if (this.ended) {
        // After the end blocks only zeros may follow (tar pads its last record).
        if (data.some((byte) => byte !== 0))
          throw new HindsightError('integrity', 'tar: data after the end of the archive');
        return;
      }
      if (this.entry) data = await this.writeEntry(data);
      else if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
      } else data = await this.readHeader(data);
    }
  }

  private async readHeader(data: Buffer): Promise<Buffer> {
    const need = BLOCK - this.pending.length;
    this.pending = Buffer.concat([this.pending, data.subarray(0, need)]);
    const rest = data.subarray(need);
    if (this.pending.length < BLOCK) return rest;
    const block = this.pending;
    this.pending = Buffer.alloc(0);
    const header = parseTarHeader(block);
    if (!header) {
      this.ended = true;
      return rest;
    }
    if (this.names.includes(header.name))
      throw new HindsightError('integrity', `tar: entry "${header.name}" appears twice`);
    this.names.push(header.name);
    // 'wx': created here and now, failing on anything already there (a link included).
    const handle = await open(path.join(this.dir, header.name), 'wx', 0o600);
    this.entry = { name: header.name, handle, left: header.size, padding: (BLOCK - (header.size % BLOCK)) % BLOCK };
    if (header.size === 0) await this.closeEntry();
    return rest;
  }

  private async writeEntry(data: Buffer): Promise<Buffer> {
    const entry = this.entry!;
    const n = Math.min(entry.left, data.length);
    if (n > 0) {
      let written = 0;
      while (written < n) written += (await entry.handle.write(data, written, n - written)).bytesWritten;
      entry.left -= n;
    }
    if (entry.left === 0) await this.closeEntry();
    return data.subarray(n);
  }

  private async closeEntry(): Promise<void> {
    const entry = this.entry!;
    this.entry = undefined;
    this.skip = entry.padding;
    await entry.handle.close();
  }
}
