/**
 * What one WAL receiver run shares between its parts: the caller's options, the status it reports,
 * the server it found and the settings it re-reads while running.
 */
import { HindsightError, errorMessage } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { PgTarget } from '../../pg/connection.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import type { EncryptionKey } from '../../crypto/chunked-gcm.ts';
import type { HistoryUpload, SegmentUpload, WalSegmentRecord } from '../../catalog/wal.ts';
import type { Lsn } from '../lsn.ts';
import type { ServerIdentity } from '../server.ts';

/** The catalog calls the receiver makes (lib/catalog/wal.ts), narrowed so that it can be exercised alone. */
export interface WalArchiveCatalog {
  recordServerIdentity(database: string, systemIdentifier: string, walSegmentSize: number): Promise<void>;
  recordSegment(upload: SegmentUpload): Promise<void>;
  getSegment(
    database: string,
    systemIdentifier: string,
    timeline: number,
    segno: bigint,
  ): Promise<WalSegmentRecord | undefined>;
  recordHistory(input: HistoryUpload): Promise<void>;
  historiesOf(
    database: string,
    options?: { systemIdentifier?: string },
  ): Promise<Array<{ timeline: number; content: string }>>;
  latestDurable(
    database: string,
    systemIdentifier?: string,
  ): Promise<{ timeline: number; lsn: Lsn; receivedAt: Date } | undefined>;
}

export type Notify = (input: {
  event: 'wal_slot_bloat' | 'wal_slot_dropped' | 'wal_chain_broken';
  message: string;
  dedupeKey: string;
}) => Promise<void>;

export interface ReceiverStatus {
  database: string;
  state: 'starting' | 'streaming' | 'reconnecting' | 'stopped';
  slot: string;
  systemIdentifier: string | null;
  walSegmentSize: number | null;
  /** What the server reports as flushed by the receiver. */
  serverFlushLsn: string | null;
  /** The newest WAL byte held in storage (exclusive end) and when it got there. */
  durableLsn: string | null;
  durableAt: string | null;
  /** serverFlushLsn - durableLsn: bytes the server has handed over that storage does not hold yet. */
  unarchivedBytes: number | null;
  slotRetainedBytes: number | null;
  segmentsArchived: number;
  partialUploads: number;
  historiesArchived: number;
  receiverStarts: number;
  /** How the WAL is received: pg_receivewal, or the synchronous client confirming only what storage holds. */
  mode?: 'async' | 'synchronous';
  /** Set when this run dropped and recreated the slot (--slot-over-limit drop): the run ends, a base backup follows. */
  slotDropped?: SlotDropped | null;
  lastError: string | null;
  updatedAt: string;
}

/** A slot dropped over its limit: what it held, and the WAL the archive does not have because of it. */
export interface SlotDropped {
  at: string;
  retainedBytes: number;
  /** The archive's durable end before the drop, and where the recreated slot starts: a gap between them unless equal. */
  archivedTo: string | null;
  resumedFrom: string | null;
}

export type SlotOverLimit = 'alert' | 'drop';

/** What the receiver re-reads while it runs. */
export interface LiveSettings {
  slotMaxBytes: number | null;
  partialIntervalMs: number;
  slotOverLimit?: SlotOverLimit;
  synchronous?: boolean;
}

export interface ReceiverOptions {
  database: string;
  target: PgTarget;
  slot: string;
  spoolDir: string;
  storageName: string;
  driver: StorageDriver;
  /**
   * The key each new object is written with, or a function asked before each one: a key rotation or
   * a change of the database's encryption then applies from the next segment of a running stream.
   */
  key: EncryptionKey | (() => Promise<EncryptionKey>);
  catalog: WalArchiveCatalog;
  notify: Notify;
  logger: Logger;
  partialIntervalMs: number;
  slotMaxBytes: number | null;
  /** Over the limit for longer than one check: alert only (default), or drop and recreate the slot. */
  slotOverLimit?: SlotOverLimit;
  /** Receive as a synchronous standby that confirms only what storage holds (sync-receiver.ts). */
  synchronous?: boolean;
  signal: AbortSignal;
  /** Return after this long (the workflow continues as new); undefined runs until aborted. */
  runForMs?: number;
  onStatus?: (status: ReceiverStatus) => void;
  /** How often the spool and the slot are looked at; defaults to a fifth of the partial interval. */
  tickMs?: number;
  /** Re-read every few seconds so that a changed limit or interval applies without a restart. */
  settings?: () => Promise<LiveSettings>;
}

/**
 * Errors no reconnect can cure — a second server writing this archive, a bad setting, refused
 * access — end the run; everything else is retried by the receiver.
 */
export function rethrowPermanent(error: unknown): void {
  if (
    error instanceof HindsightError &&
    (error.kind === 'conflict' || error.kind === 'bad_input' || error.kind === 'access_denied')
  )
    throw error;
}

export class ReceiverSession {
  readonly options: ReceiverOptions;
  readonly status: ReceiverStatus;
  /** The server streamed from, known once it has been reached. */
  identity: ServerIdentity | undefined;
  /** Live settings: start from the options, re-read through `options.settings`. */
  slotMaxBytes: number | null;
  partialIntervalMs: number;
  slotOverLimit: SlotOverLimit;
  synchronous: boolean;

  constructor(options: ReceiverOptions) {
    this.options = options;
    this.status = {
      database: options.database,
      state: 'starting',
      slot: options.slot,
      systemIdentifier: null,
      walSegmentSize: null,
      serverFlushLsn: null,
      durableLsn: null,
      durableAt: null,
      unarchivedBytes: null,
      slotRetainedBytes: null,
      segmentsArchived: 0,
      partialUploads: 0,
      historiesArchived: 0,
      receiverStarts: 0,
      mode: options.synchronous ? 'synchronous' : 'async',
      slotDropped: null,
      lastError: null,
      updatedAt: new Date().toISOString(),
    };
    this.slotMaxBytes = options.slotMaxBytes;
    this.partialIntervalMs = options.partialIntervalMs;
    this.slotOverLimit = options.slotOverLimit ?? 'alert';
    this.synchronous = options.synchronous ?? false;
  }

  /** The server as found by the last connection; only called after one succeeded. */
  get server(): ServerIdentity {
    if (!this.identity) {
      throw new Error(`WAL receiver of "${this.options.database}" used the server before reaching it`);
    }
    return this.identity;
  }

  report(): void {
    this.status.updatedAt = new Date().toISOString();
    this.options.onStatus?.({ ...this.status });
  }

  /** Keeps a transient failure for the status, or ends the run with a permanent one. */
  recordFailure(error: unknown): void {
    rethrowPermanent(error);
    this.status.lastError = errorMessage(error);
  }
}

/** The key the next object of this run is written with. */
export async function keyNow(options: Pick<ReceiverOptions, 'key'>): Promise<EncryptionKey> {
  return typeof options.key === 'function' ? options.key() : options.key;
}
