/**
 * The synchronous receiver: a physical replication client that lays WAL out in the spool exactly
 * as pg_receivewal does (`<segment>.partial`, pre-padded to the segment size, renamed to
 * `<segment>` once full), so that the spool ships it unchanged, but that confirms to the server
 * only what storage holds. pg_receivewal confirms a flush after its local fsync; a synchronous
 * commit waiting on it would then be acknowledged while the WAL sits on the worker's disk only.
 *
 * The write, flush and apply positions it reports are all the durable position (the newest byte
 * committed to storage, read from the catalog after each upload), so that `synchronous_commit`
 * `on`, `remote_write` and `remote_apply` all wait for storage.
 */
import { constants } from 'node:fs';
import { open, rename, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { formatLsn, historyFileName, segmentName, type Lsn } from '../lsn.ts';
import { decodeServerMessage, encodeStandbyStatus } from '../replication-protocol.ts';
import type { ReceiverSession } from './session.ts';
import { identifySystem, openReplicationConnection, timelineHistory } from './sync-connection.ts';

/** A status update at least this often, so that the server's wal_sender_timeout never ends the stream. */
const STATUS_EVERY_MS = 1000;
/** Unwritten messages held before the socket is paused: bounded memory under a burst. */
const MAX_PENDING_WRITES = 64;

/** The parts of node-postgres's connection used in CopyBoth mode (public, though missing from its types). */
interface CopyBothConnection {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): unknown;
  on(event: 'copyDone', listener: () => void): unknown;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}

interface OpenSegment {
  segno: bigint;
  name: string;
  handle: FileHandle;
}

export class SyncWalStream {
  private readonly session: ReceiverSession;
  private readonly client: pg.Client;
  private readonly segmentSize: number;
  /** The exclusive end of the WAL written to the spool's files. */
  written: Lsn;
  private confirmed = 0n;
  private current: OpenSegment | undefined;
  private writes: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: unknown;
  private timer: NodeJS.Timeout | undefined;
  private finish!: (why: string) => void;
  /** Resolves with why the stream ended (the server closed it, a write failed, stop()). */
  readonly ended: Promise<string>;

  private constructor(session: ReceiverSession, client: pg.Client, start: Lsn) {
    this.session = session;
    this.client = client;
    this.segmentSize = session.server.walSegmentSize;
    this.written = start;
    this.ended = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  /**
   * Connects as `applicationName`, writes the timeline's history file into the spool, and starts
   * streaming from the start of the segment holding `from` (the slot's restart position).
   */
  static async start(session: ReceiverSession, from: Lsn, applicationName: string): Promise<SyncWalStream> {
    const { database, target, slot, spoolDir } = session.options;
    const client = await openReplicationConnection(database, target, applicationName);
    try {
      const system = await identifySystem(client);
      if (system.timeline > 1) {
        const history = await timelineHistory(client, system.timeline);
        await writeFile(path.join(spoolDir, historyFileName(system.timeline)), history.content, { mode: 0o600 });
      }
      const size = BigInt(session.server.walSegmentSize);
      const start = from - (from % size);
      const stream = new SyncWalStream(session, client, start);
      stream.listen(system.timeline);
      const command = `START_REPLICATION SLOT ${slot} PHYSICAL ${formatLsn(start)} TIMELINE ${system.timeline}`;
      // Resolves when the server ends the copy (the timeline ended), rejects when the connection fails.
      client.query(command).then(
        () => stream.end(`the server ended timeline ${system.timeline}; restarting on the new one`),
        (error: unknown) => stream.end(`replication stream ended: ${(error as Error).message}`),
      );
      session.status.receiverStarts += 1;
      return stream;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  /** Reports `durable` (what storage holds) as written, flushed and applied once it advances. */
  confirm(durable: Lsn): void {
    if (durable <= this.confirmed) return;
    this.confirmed = durable;
    this.sendStatus(false);
  }

  stop(): void {
    this.end('stopped');
  }

  private get connection(): CopyBothConnection {
    return (this.client as unknown as { connection: CopyBothConnection }).connection;
  }

  private listen(timeline: number): void {
    const connection = this.connection;
    connection.on('copyData', (message: { chunk: Buffer }) => this.receive(message.chunk, timeline));
    // The server ends the copy at the end of a timeline; the next stream starts on the new one.
    connection.on('copyDone', () => this.end(`the server ended timeline ${timeline}; restarting on the new one`));
    this.timer = setInterval(() => this.sendStatus(false), STATUS_EVERY_MS);
  }

  private receive(chunk: Buffer, timeline: number): void {
    let message;
    try {
      message = decodeServerMessage(chunk);
    } catch (error) {
      this.end((error as Error).message);
      return;
    }
    if (message.kind === 'keepalive') {
      if (message.replyRequested) this.sendStatus(false);
      return;
    }
    const { start, data } = message;
    this.pending += 1;
    if (this.pending > MAX_PENDING_WRITES) this.connection.stream.pause();
    this.writes = this.writes
      .then(() => (this.failure ? undefined : this.write(timeline, start, data)))
      .catch((error: unknown) => {
        this.failure = error;
        this.end(`writing WAL to the spool failed: ${(error as Error).message}`);
      })
      .finally(() => {
        this.pending -= 1;
        if (this.pending <= MAX_PENDING_WRITES / 2) this.connection.stream.resume();
      });
  }

  /** Writes WAL bytes at their place in the segment files, completing (renaming) each segment it fills. */
  private async write(timeline: number, start: Lsn, data: Buffer): Promise<void> {
    const size = BigInt(this.segmentSize);
    let position = start;
    let offset = 0;
    while (offset < data.length) {
      const segno = position / size;
      const within = Number(position % size);
      const n = Math.min(data.length - offset, this.segmentSize - within);
      const segment = await this.segmentFile(timeline, segno);
      await segment.handle.write(data, offset, n, within);
      position += BigInt(n);
      offset += n;
      if (within + n === this.segmentSize) await this.completeSegment(segment);
    }
    this.written = position;
  }

  private async segmentFile(timeline: number, segno: bigint): Promise<OpenSegment> {
    if (this.current?.segno === segno) return this.current;
    if (this.current) await this.current.handle.close();
    const name = segmentName(timeline, segno, this.segmentSize);
    const file = path.join(this.session.options.spoolDir, `${name}.partial`);
    const padded = await open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
    // Padded to the segment size before any WAL is written, as pg_receivewal does (the spool relies on it).
    if ((await padded.stat()).size !== this.segmentSize) await padded.truncate(this.segmentSize);
    this.current = { segno, name, handle: padded };
    return this.current;
  }

  private async completeSegment(segment: OpenSegment): Promise<void> {
    await segment.handle.close();
    this.current = undefined;
    const dir = this.session.options.spoolDir;
    await rename(path.join(dir, `${segment.name}.partial`), path.join(dir, segment.name));
  }

  private sendStatus(replyRequested: boolean): void {
    const c = this.confirmed;
    try {
      this.connection.sendCopyFromChunk(encodeStandbyStatus({ write: c, flush: c, apply: c, replyRequested }));
    } catch {
      /* the connection is gone; the stream's end reports it */
    }
  }

  private end(why: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const finish = this.finish;
    this.finish = () => undefined;
    void this.writes
      .then(() => this.current?.handle.close())
      .catch(() => undefined)
      .finally(() => {
        this.current = undefined;
        void this.client.end().catch(() => undefined);
        finish(why);
      });
  }
}
