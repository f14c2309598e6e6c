/**
 * Read-ahead for restore_command, as pgBackRest's asynchronous archive-get does it: recovery asks
 * for one segment at a time and replays it before asking for the next, so fetching each on demand
 * leaves storage, decryption and zstd idle while PostgreSQL replays, and PostgreSQL idle while they
 * work. Once segment N of a timeline has been found, segments N+1…N+k of the same timeline are
 * fetched in parallel into a spool of our own (decrypted and decompressed); a request the spool
 * holds is answered from it without another fetch.
 *
 * What it never does:
 *  - cache an absence: a segment the archive did not list when read ahead is looked up again when
 *    asked for (the archive keeps growing while a restore to `latest` runs), and a request for a
 *    segment that is not archived answers at once, without waiting for any read-ahead;
 *  - read ahead partial segments: the newest partial is replaced while the archiver works, so it is
 *    decoded only when asked for, as it is then;
 *  - hold more than `maxBytes`: at most ⌊maxBytes / segment size⌋ segments are spooled or on the way.
 * A request for another timeline (recovery followed a timeline switch) or another position drops
 * the read-ahead that no longer follows it.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { isSegmentName, parseSegmentName, segmentName } from '../wal/lsn.ts';
import type { WalObject } from './wal-source.ts';

/** A WAL file the archive lists, ready to be decoded into a file. */
export interface FetchableWal {
  kind: WalObject['kind'];
  decode(destination: string, signal: AbortSignal): Promise<void>;
}

export interface WalPrefetchOptions {
  /** A directory of our own (not the restored cluster's) that the spooled files live in. */
  spoolDir: string;
  segmentSize: number;
  /** How many segments to read ahead of the newest one asked for (k). */
  depth: number;
  /** The most bytes that spooled and in-flight segments may take together. */
  maxBytes: number;
  /** Looks a file up in the archive: undefined when it is not there. */
  lookup(file: string): Promise<FetchableWal | undefined>;
  /** Aborts everything when the restore is aborted. */
  signal?: AbortSignal;
}

/** A file decoded into the spool, handed to one request (which removes it once delivered). */
export interface SpooledWal {
  path: string;
  kind: WalObject['kind'];
}

interface Ahead {
  dest: string;
  controller: AbortController;
  /** The kind decoded into `dest`, or undefined when the archive does not (yet) hold it completely. */
  ready: Promise<WalObject['kind'] | undefined>;
}

export class WalPrefetcher {
  private readonly options: WalPrefetchOptions;
  private readonly ahead = new Map<string, Ahead>();
  private closed = false;
  /** How many files were decoded by read-ahead, and how many of those were handed to a request. */
  readonly stats = { prefetched: 0, servedFromSpool: 0 };

  constructor(options: WalPrefetchOptions) {
    this.options = options;
  }

  /** How many segments may be read ahead at once: `depth`, bounded by `maxBytes`. */
  get window(): number {
    return Math.max(0, Math.min(this.options.depth, Math.floor(this.options.maxBytes / this.options.segmentSize)));
  }

  /** The files read ahead now, spooled or on the way, in the order they were started. */
  pending(): string[] {
    return [...this.ahead.keys()];
  }

  /** The file `file` decoded into the spool, or undefined when the archive does not hold it. */
  async take(file: string): Promise<SpooledWal | undefined> {
    if (this.closed) throw new Error('the WAL fetch server is closing');
    const spooled = await this.fromSpool(file);
    if (spooled) return spooled;
    const found = await this.options.lookup(file);
    if (!found) return undefined;
    // Known to exist: what follows it is worth reading while this one decodes.
    this.readAheadOf(file);
    const dest = this.spoolName();
    const controller = new AbortController();
    const stop = () => controller.abort();
    this.options.signal?.addEventListener('abort', stop, { once: true });
    try {
      await found.decode(dest, controller.signal);
    } catch (error) {
      await rm(dest, { force: true });
      throw error;
    } finally {
      this.options.signal?.removeEventListener('abort', stop);
    }
    return { path: dest, kind: found.kind };
  }

  /** Aborts every read-ahead and removes what it spooled. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.ahead.values()];
    this.ahead.clear();
    await Promise.all(all.map((a) => this.discard(a)));
  }

  private async fromSpool(file: string): Promise<SpooledWal | undefined> {
    const entry = this.ahead.get(file);
    if (!entry) return undefined;
    this.ahead.delete(file);
    const kind = await entry.ready.catch(() => undefined);
    if (!kind) {
      // Not there when read ahead, or failed: the request looks it up afresh and reports its own error.
      await rm(entry.dest, { force: true });
      return undefined;
    }
    this.stats.servedFromSpool += 1;
    this.readAheadOf(file);
    return { path: entry.dest, kind };
  }

  /** Keeps the window after `file` read ahead and drops read-ahead that no longer follows it. */
  private readAheadOf(file: string): void {
    if (this.closed || !isSegmentName(file)) return;
    const { timeline, segno } = parseSegmentName(file, this.options.segmentSize);
    const wanted: string[] = [];
    for (let i = 1n; i <= BigInt(this.window); i++) {
      try {
        wanted.push(segmentName(timeline, segno + i, this.options.segmentSize));
      } catch {
        break; // past the last possible segment
      }
    }
    for (const [name, entry] of this.ahead) {
      if (!wanted.includes(name)) {
        this.ahead.delete(name);
        void this.discard(entry);
      }
    }
    for (const name of wanted) if (!this.ahead.has(name)) this.start(name);
  }

  private start(file: string): void {
    const dest = this.spoolName();
    const controller = new AbortController();
    const stop = () => controller.abort();
    this.options.signal?.addEventListener('abort', stop, { once: true });
    const entry: Ahead = {
      dest,
      controller,
      ready: this.prefetch(file, dest, controller.signal).finally(() =>
        this.options.signal?.removeEventListener('abort', stop),
      ),
    };
    entry.ready.then(
      (kind) => {
        // An absence is not remembered: forgotten, so that the next window looks again.
        if (!kind && this.ahead.get(file) === entry) this.ahead.delete(file);
      },
      () => {
        if (this.ahead.get(file) === entry) this.ahead.delete(file);
      },
    );
    this.ahead.set(file, entry);
  }

  private async prefetch(file: string, dest: string, signal: AbortSignal): Promise<WalObject['kind'] | undefined> {
    const found = await this.options.lookup(file);
    // A partial segment may be replaced by the archiver before recovery asks for it.
    if (!found || found.kind !== 'segment' || signal.aborted) return undefined;
    await found.decode(dest, signal);
    this.stats.prefetched += 1;
    return found.kind;
  }

  private async discard(entry: Ahead): Promise<void> {
    entry.controller.abort();
    await entry.ready.catch(() => undefined);
    await rm(entry.dest, { force: true });
  }

  private spoolName(): string {
    return path.join(this.options.spoolDir, randomBytes(12).toString('hex'));
  }
}
