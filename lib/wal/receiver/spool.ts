/**
 * Moves what pg_receivewal writes into its spool directory to storage: timeline histories,
 * completed segments in order, and the valid prefix of the segment being written (`.partial`).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { SegmentUpload } from '../../catalog/wal.ts';
import { HindsightError } from '../../errors.ts';
import { historyKey, partialKey, segmentKey, walPrefix } from '../archive-keys.ts';
import {
  formatLsn,
  isPartialName,
  isSegmentName,
  parseHistoryFile,
  parseHistoryFileName,
  parseSegmentName,
  segmentEndLsn,
  segmentStartLsn,
  type Lsn,
} from '../lsn.ts';
import { encodeWalFile, type StoredObject } from '../segment-codec.ts';
import { batcherFor, indexedSegment, type WalIndexBatcher } from './index-batches.ts';
import { keyNow, type ReceiverSession } from './session.ts';

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export interface DrainOptions {
  shipPartials: boolean;
  /** Ship partials now rather than waiting for the partial interval. */
  force?: boolean;
}

export class SpoolArchiver {
  private readonly session: ReceiverSession;
  private readonly spoolDir: string;
  /** The partials being shipped: their segment and how far storage holds it. */
  private readonly shipped = new Map<string, Lsn>();
  private lastPartialShipAt = 0;
  /** Whether this archiver has swept what killed uploads left in storage (once, before its first stream). */
  private swept = false;
  /** Complete segments on their way into the WAL index (index-batches.ts). */
  private readonly index: WalIndexBatcher;

  constructor(session: ReceiverSession) {
    this.session = session;
    this.spoolDir = session.options.spoolDir;
    this.index = batcherFor(session);
  }

  /** The archiver stops cleanly: the segments waiting for the WAL index are written now. */
  async finish(): Promise<void> {
    await this.index.flushAll();
  }

  /** One pass over the spool: histories, then completed segments in order, then partials. */
  async drain(flushed: Lsn | null, options: DrainOptions): Promise<void> {
    await this.index.flushDue();
    const names = (await readdir(this.spoolDir)).sort();
    for (const name of names) {
      const timeline = parseHistoryFileName(name);
      if (timeline !== null) await this.archiveHistory(path.join(this.spoolDir, name), timeline);
    }
    const completed = names.filter(isSegmentName);
    const segments = (async () => {
      for (const name of completed) await this.archiveCompleteSegment(path.join(this.spoolDir, name), name);
    })();
    const partials = options.shipPartials ? names.filter(isPartialName) : [];
    if (partials.length === 0) return segments;
    // A partial that fails because a segment failed is not news: the segment's error is the one to report.
    const [segmentsDone, partialsDone] = await Promise.allSettled([
      segments,
      this.shipPartials(partials, flushed, { force: options.force || completed.length > 0, after: segments }),
    ]);
    if (segmentsDone.status === 'rejected') throw segmentsDone.reason;
    if (partialsDone.status === 'rejected') throw partialsDone.reason;
  }

  /**
   * Readies the spool for a new pg_receivewal: a new slot starts a new stream, so what the spool
   * holds from the old one goes up and its partials go; otherwise completed files go up.
   */
  async prepareForStream(slotCreated: boolean): Promise<void> {
    await this.sweepKilledUploads();
    if (slotCreated) await this.resetForNewSlot();
    else await this.drain(null, { shipPartials: false });
    await this.clearUnpaddedPartials();
  }

  /**
   * An archiver killed mid-upload leaves the upload's hidden temporary file (or an S3 multipart
   * upload) beside the object's key. What it was uploading still lies in the spool (a segment, or
   * the partial pg_receivewal goes on filling), so each segment there has its keys swept once,
   * before this archiver's first stream, when none of its own uploads is under way: at no age. A
   * failure is logged and the stream starts anyway: leftovers never look like archived WAL.
   */
  private async sweepKilledUploads(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    const { database, driver, logger, storageName } = this.session.options;
    const prefix = walPrefix(this.session.server.systemIdentifier);
    const names = await readdir(this.spoolDir).catch(() => []);
    const segments = new Set(names.filter((n) => isSegmentName(n) || isPartialName(n)).map((n) => n.slice(0, 24)));
    let removed = 0;
    try {
      // `<prefix>/<segment>` is the start of both the segment's key and its partial's.
      for (const segment of segments) removed += await driver.sweepAbandonedWrites(`${prefix}/${segment}`, 0);
    } catch (error) {
      logger.warn({ database, storage: storageName, err: error }, 'could not sweep uploads left by a killed archiver');
    }
    if (removed > 0)
      logger.info({ database, storage: storageName, removed }, 'removed uploads left by a killed archiver');
  }

  private async archiveHistory(file: string, timeline: number): Promise<void> {
    const { database, driver, catalog, logger, storageName, signal } = this.session.options;
    const key = await keyNow(this.session.options);
    const sysid = this.session.server.systemIdentifier;
    const content = await readFile(file, 'utf8');
    parseHistoryFile(content);
    const objectKey = historyKey(sysid, timeline);
    const existing = (await catalog.historiesOf(database, { systemIdentifier: sysid })).find(
      (h) => h.timeline === timeline,
    );
    if (existing && existing.content !== content) {
      throw new HindsightError(
        'conflict',
        `database "${database}": timeline ${timeline} history differs from the archived one (two servers are writing one archive); refusing to overwrite it`,
      );
    }
    if (!existing) {
      await encodeWalFile({ file, driver, objectKey, key, signal });
      await catalog.recordHistory({ database, systemIdentifier: sysid, timeline, content, storageName, objectKey });
      this.session.status.historiesArchived += 1;
      logger.info({ database, timeline }, 'timeline history archived');
    }
    // pg_receivewal looks for the history file of its timeline in the spool; keep it there.
  }

  private async archiveCompleteSegment(file: string, name: string): Promise<void> {
    const { database, driver, catalog, signal } = this.session.options;
    const key = await keyNow(this.session.options);
    const { systemIdentifier: sysid, walSegmentSize: segmentSize } = this.session.server;
    const { timeline, segno } = parseSegmentName(name, segmentSize);
    const size = (await stat(file)).size;
    if (size !== segmentSize)
      throw new HindsightError(
        'integrity',
        `WAL segment ${name} in ${this.spoolDir} is ${size} bytes, not the ${segmentSize}-byte segment size`,
      );
    const existing = await catalog.getSegment(database, sysid, timeline, segno);
    if (existing?.complete) {
      // A retried upload after a crash; identical bytes are fine, other bytes mean a second server.
      const sha = await sha256OfFile(file);
      if (sha !== existing.sha256) {
        throw new HindsightError(
          'conflict',
          `database "${database}": WAL segment ${name} of system ${sysid} is already archived with other content; refusing to overwrite it (two servers are writing one archive)`,
        );
      }
      // Indexed again: the batch that held it may have been lost with the run that archived it.
      await this.index.add(indexedSegment(existing, segmentSize));
      await rm(file, { force: true });
      return;
    }
    const objectKey = segmentKey(sysid, name);
    const stored = await encodeWalFile({ file, driver, objectKey, key, signal });
    const [startLsn, endLsn] = [segmentStartLsn(segno, segmentSize), segmentEndLsn(segno, segmentSize)];
    const upload = await this.recordUpload(name, { startLsn, endLsn, complete: true, objectKey }, stored);
    await this.index.add(indexedSegment({ ...upload, receivedAt: new Date() }, segmentSize));
    // The growing partial object is superseded by the complete one.
    await driver.remove(partialKey(sysid, name)).catch(() => undefined);
    this.shipped.delete(name);
    await rm(file, { force: true });
    this.session.status.segmentsArchived += 1;
    // The next segment's first bytes go up at once rather than an interval later.
    this.lastPartialShipAt = 0;
  }

  /** Records the upload of segment `name` (whole, or the valid prefix of a partial) in the catalog. */
  private async recordUpload(
    name: string,
    upload: { startLsn: Lsn; endLsn: Lsn; complete: boolean; objectKey: string },
    stored: StoredObject,
  ): Promise<SegmentUpload> {
    const { database, catalog, storageName } = this.session.options;
    const { systemIdentifier, walSegmentSize } = this.session.server;
    const { timeline, segno } = parseSegmentName(name, walSegmentSize);
    const row: SegmentUpload = {
      database,
      systemIdentifier,
      timeline,
      segno,
      name,
      ...upload,
      sizeBytes: stored.rawBytes,
      storedBytes: stored.storedBytes,
      sha256: stored.rawSha256,
      storageName,
    };
    await catalog.recordSegment(row);
    return row;
  }

  /**
   * `after`: the completed segments of the same pass. The partial's upload runs alongside theirs
   * (so a finished segment no longer delays the newest bytes), but is recorded only once they are,
   * so that the catalog never holds a partial past a segment it does not hold yet.
   */
  private async shipPartial(
    file: string,
    name: string,
    validEnd: Lsn,
    final: boolean,
    after: Promise<void>,
  ): Promise<void> {
    const { database, driver, catalog, logger, signal } = this.session.options;
    const key = await keyNow(this.session.options);
    const { systemIdentifier: sysid, walSegmentSize: segmentSize } = this.session.server;
    const { timeline, segno } = parseSegmentName(name, segmentSize);
    const start = segmentStartLsn(segno, segmentSize);
    const end = validEnd > segmentEndLsn(segno, segmentSize) ? segmentEndLsn(segno, segmentSize) : validEnd;
    if (end <= start) return;
    if ((this.shipped.get(name) ?? 0n) >= end) return;
    const existing = await catalog.getSegment(database, sysid, timeline, segno);
    if (existing && (existing.complete || existing.endLsn >= end)) {
      this.shipped.set(name, existing.complete ? segmentEndLsn(segno, segmentSize) : existing.endLsn);
      return;
    }
    const objectKey = partialKey(sysid, name);
    // The interval runs from the start of an upload, so that its duration does not add to the RPO.
    this.lastPartialShipAt = Date.now();
    let stored;
    try {
      stored = await encodeWalFile({ file, validBytes: Number(end - start), driver, objectKey, key, signal });
    } catch (error) {
      // Completed and renamed between the listing and the upload: the next pass uploads it whole.
      if ((error as { code?: string }).code === 'ENOENT') return;
      throw error;
    }
    await after;
    await this.recordUpload(name, { startLsn: start, endLsn: end, complete: false, objectKey }, stored);
    this.shipped.set(name, end);
    this.session.status.partialUploads += 1;
    if (final)
      logger.info({ database, segment: name, end: formatLsn(end) }, 'final partial of an ended timeline archived');
  }

  /** Switch points of every archived timeline: where a timeline's WAL ends once a child branched off it. */
  private async timelineEnds(): Promise<Map<number, Lsn>> {
    const ends = new Map<number, Lsn>();
    const { database, catalog } = this.session.options;
    const histories = await catalog.historiesOf(database, { systemIdentifier: this.session.server.systemIdentifier });
    for (const history of histories) {
      for (const s of parseHistoryFile(history.content)) {
        const known = ends.get(s.parentTimeline);
        if (known === undefined || s.switchLsn < known) ends.set(s.parentTimeline, s.switchLsn);
      }
    }
    return ends;
  }

  private async shipPartials(
    partials: string[],
    flushed: Lsn | null,
    options: { force: boolean; after: Promise<void> },
  ): Promise<void> {
    const ends = await this.timelineEnds();
    for (const file of partials) {
      const name = file.slice(0, -'.partial'.length);
      const { timeline } = parseSegmentName(name, this.session.server.walSegmentSize);
      const switchedAt = ends.get(timeline);
      if (switchedAt !== undefined) {
        // A timeline that ended mid-segment: its partial never completes; ship what is valid and let it go.
        await this.shipPartial(path.join(this.spoolDir, file), name, switchedAt, true, options.after);
        await rm(path.join(this.spoolDir, file), { force: true });
        continue;
      }
      if (flushed === null) continue;
      if (!options.force && Date.now() - this.lastPartialShipAt < this.session.partialIntervalMs) continue;
      await this.shipPartial(path.join(this.spoolDir, file), name, flushed, false, options.after);
    }
  }

  /**
   * pg_receivewal fills a new .partial with zeros to the segment size before it writes any WAL to
   * it, and refuses to start beside one of any other size. A receiver stopped during that filling
   * (the end of an archiver run, a crash) leaves such a file: it holds no WAL, and the slot still
   * holds what it would have, so it is emptied and pg_receivewal pads it again.
   */
  private async clearUnpaddedPartials(): Promise<void> {
    const segmentSize = this.session.identity?.walSegmentSize;
    if (!segmentSize) return;
    for (const name of await readdir(this.spoolDir)) {
      if (!isPartialName(name)) continue;
      const file = path.join(this.spoolDir, name);
      const { size } = await stat(file);
      if (size === 0 || size === segmentSize) continue;
      const { database, logger } = this.session.options;
      logger.warn(
        { database, file: name, size, segmentSize },
        'partial WAL file left half padded by a stopped pg_receivewal; emptying it so that streaming resumes',
      );
      await truncate(file, 0);
    }
  }

  /**
   * A new slot starts a new stream: whatever the spool holds is from an older one. Completed
   * files still go up; partials go up as far as the catalog already knows them and are dropped,
   * so that pg_receivewal starts from the slot instead of an old position.
   */
  private async resetForNewSlot(): Promise<void> {
    await this.drain(null, { shipPartials: true, force: true });
    for (const name of await readdir(this.spoolDir)) {
      if (isPartialName(name)) {
        const { database, logger } = this.session.options;
        logger.warn(
          { database, file: name },
          'replication slot was created anew; dropping a partial segment of the previous stream',
        );
        await rm(path.join(this.spoolDir, name), { force: true });
      }
    }
    this.shipped.clear();
  }
}
