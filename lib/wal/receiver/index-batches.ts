/**
 * The WAL index of a PITR archive (archive-records.ts, docs/backup-format.md), written in batches
 * as complete segments are archived: a batch goes to storage when 16 segments wait, when the oldest
 * waiting one is a minute old, and when the archiver stops cleanly. A batch is one run of one
 * timeline, in segment order, without gaps or repeats: a gap, a timeline change or another cluster
 * starts a new batch.
 *
 * The index is a convenience for a catalog rebuilt from storage, not the archive itself: the
 * catalog stays the record the archiver trusts, and a batch lost to a crash or a storage failure
 * costs a rebuild a listing of segment keys, never a segment. So writing a batch never fails the
 * archiver; a failed write is retried a little later and, when the archiver stops, given up.
 */
import type { WalSegmentRecord } from '../../catalog/wal.ts';
import { errorMessage } from '../../errors.ts';
import { walIndexKey, writeRecord, type WalIndex, type WalIndexEntry } from '../archive-records.ts';
import { formatLsn } from '../lsn.ts';
import { keyNow, type ReceiverSession } from './session.ts';

export const BATCH_SEGMENTS = 16;
export const BATCH_MAX_AGE_MS = 60_000;
const RETRY_AFTER_MS = 10_000;
/** Batches that storage would not take are kept this far (entries), then the oldest are given up. */
const MAX_WAITING_ENTRIES = 4096;

/** One complete segment as archived: where it belongs and its index entry. */
export interface IndexedSegment {
  systemIdentifier: string;
  timeline: number;
  segno: bigint;
  walSegmentSizeBytes: number;
  entry: WalIndexEntry;
}

export interface IndexBatcherOptions {
  database: string;
  /** Seals and stores one batch (writeRecord in production; anything in tests). */
  write: (objectKey: string, index: WalIndex) => Promise<void>;
  now?: () => number;
  /** A batch that could not be written, or that was given up; the archiver logs it. */
  onError?: (error: unknown, batch: { objectKey: string; segments: number; givenUp: boolean }) => void;
  maxSegments?: number;
  maxAgeMs?: number;
}

/** Consecutive segments of one timeline of one cluster, waiting to be written together. */
interface Run {
  segments: IndexedSegment[];
  /** When its first segment was added. */
  since: number;
  /** Not before this time (after a failed write). */
  retryAt: number;
}

function continues(run: Run, next: IndexedSegment): boolean {
  const last = run.segments.at(-1)!;
  return (
    last.systemIdentifier === next.systemIdentifier &&
    last.timeline === next.timeline &&
    last.walSegmentSizeBytes === next.walSegmentSizeBytes &&
    next.segno === last.segno + 1n
  );
}

/** The batch record of a run and the key it is stored under. */
export function batchOf(database: string, segments: IndexedSegment[]): { objectKey: string; index: WalIndex } {
  const first = segments[0]!;
  const objectKey = walIndexKey(first.systemIdentifier, first.timeline, first.entry.name, segments.at(-1)!.entry.name);
  const index: WalIndex = {
    format: 'hindsight-wal-index',
    formatVersion: 1,
    database,
    systemIdentifier: first.systemIdentifier,
    timeline: first.timeline,
    walSegmentSizeBytes: first.walSegmentSizeBytes,
    segments: segments.map((s) => s.entry),
  };
  return { objectKey, index };
}

export class WalIndexBatcher {
  private readonly options: IndexBatcherOptions;
  private readonly now: () => number;
  private readonly maxSegments: number;
  private readonly maxAgeMs: number;
  /** Runs closed by a gap, a full batch or a failed write, oldest first. */
  private readonly closed: Run[] = [];
  private open: Run | undefined;

  constructor(options: IndexBatcherOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.maxSegments = options.maxSegments ?? BATCH_SEGMENTS;
    this.maxAgeMs = options.maxAgeMs ?? BATCH_MAX_AGE_MS;
  }

  /** Segments waiting for their batch to be written. */
  get waiting(): number {
    return this.closed.reduce((n, r) => n + r.segments.length, 0) + (this.open?.segments.length ?? 0);
  }

  /** Adds an archived segment; writes the batch it completes (16 segments) or the run it breaks (a gap). */
  async add(segment: IndexedSegment): Promise<void> {
    if (this.open && !continues(this.open, segment)) this.close();
    this.open ??= { segments: [], since: this.now(), retryAt: 0 };
    this.open.segments.push(segment);
    if (this.open.segments.length >= this.maxSegments) this.close();
    await this.writeDue(false);
  }

  /** Writes what is due: closed runs, and the open run once its oldest segment is old enough. */
  async flushDue(): Promise<void> {
    if (this.open && this.now() - this.open.since >= this.maxAgeMs) this.close();
    await this.writeDue(false);
  }

  /** The archiver stops: everything waiting is written now, or given up. */
  async flushAll(): Promise<void> {
    this.close();
    await this.writeDue(true);
  }

  private close(): void {
    if (this.open) this.closed.push(this.open);
    this.open = undefined;
  }

  private async writeDue(final: boolean): Promise<void> {
    this.giveUpBeyondLimit();
    const now = this.now();
    for (const run of [...this.closed]) {
      if (!final && run.retryAt > now) continue;
      const { objectKey, index } = batchOf(this.options.database, run.segments);
      try {
        await this.options.write(objectKey, index);
        this.closed.splice(this.closed.indexOf(run), 1);
      } catch (error) {
        this.options.onError?.(error, { objectKey, segments: run.segments.length, givenUp: final });
        if (final) this.closed.splice(this.closed.indexOf(run), 1);
        else run.retryAt = now + RETRY_AFTER_MS;
      }
    }
  }

  /** A storage that refuses writes for hours must not grow the archiver's memory without bound. */
  private giveUpBeyondLimit(): void {
    while (this.closed.length > 1 && this.waiting > MAX_WAITING_ENTRIES) {
      const run = this.closed.shift()!;
      const { objectKey } = batchOf(this.options.database, run.segments);
      this.options.onError?.(new Error(`${this.waiting} index entries wait for storage`), {
        objectKey,
        segments: run.segments.length,
        givenUp: true,
      });
    }
  }
}

/** Why a batch was not written, for the archiver's log. */
export function describeBatchError(error: unknown, batch: { objectKey: string; givenUp: boolean }): string {
  const what = batch.givenUp ? 'given up (a catalog rebuild lists the segment keys instead)' : 'retried shortly';
  return `WAL index batch '${batch.objectKey}' was not written: ${errorMessage(error)}; ${what}`;
}

/** A complete segment as the catalog holds it (its row, or the upload that made it). */
export type ArchivedSegment = Pick<
  WalSegmentRecord,
  | 'systemIdentifier'
  | 'timeline'
  | 'segno'
  | 'name'
  | 'startLsn'
  | 'endLsn'
  | 'sizeBytes'
  | 'sha256'
  | 'storedBytes'
  | 'objectKey'
  | 'receivedAt'
>;

export function indexedSegment(segment: ArchivedSegment, walSegmentSizeBytes: number): IndexedSegment {
  const { systemIdentifier, timeline, segno } = segment;
  return {
    systemIdentifier,
    timeline,
    segno,
    walSegmentSizeBytes,
    entry: {
      name: segment.name,
      startLsn: formatLsn(segment.startLsn),
      endLsn: formatLsn(segment.endLsn),
      sizeBytes: segment.sizeBytes,
      sha256: segment.sha256,
      storedBytes: segment.storedBytes,
      objectKey: segment.objectKey,
      receivedAt: segment.receivedAt.toISOString(),
    },
  };
}

/** The batcher of one receiver run: batches sealed with its key into its storage, failures logged. */
export function batcherFor(session: ReceiverSession): WalIndexBatcher {
  const { database, driver, logger } = session.options;
  return new WalIndexBatcher({
    database,
    write: async (objectKey, index) => writeRecord(driver, objectKey, index, await keyNow(session.options)),
    onError: (error, batch) => logger.warn({ database, segments: batch.segments }, describeBatchError(error, batch)),
  });
}
