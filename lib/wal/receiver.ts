/**
 * The WAL archiver's engine: supervises `pg_receivewal` on a physical slot and moves what it
 * writes into storage. Completed segments and history files go up as soon as they appear; the
 * segment being written (`.partial`, pre-padded to the segment size) goes up as its valid prefix,
 * up to the flushed position the server reports, at most every `partialIntervalMs` — so the newest
 * durable WAL byte is about a second old instead of a segment.
 *
 * Nothing is trusted from an exit code: pg_receivewal is restarted with backoff whenever it ends
 * (PostgreSQL restarting ends it), and the status compares what storage holds with what the
 * server reports as flushed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HindsightError, errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { libpqEnv, type PgTarget } from '../pg/connection.ts';
import { toolFor } from '../pg/tools.ts';
import type { StorageDriver } from '../storage/contract.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import type { SegmentUpload, WalSegmentRecord } from '../catalog/wal.ts';
import { stderrTail, waitForExit } from '../backup/child-process.ts';
import { historyKey, partialKey, segmentKey } from './archive-keys.ts';
import {
  formatLsn, isPartialName, isSegmentName, parseHistoryFile, parseHistoryFileName, parseSegmentName,
  segmentEndLsn, segmentStartLsn, type Lsn,
} from './lsn.ts';
import { encodeWalFile } from './segment-codec.ts';
import { checkStreamingPrerequisites, ensurePhysicalSlot, slotPosition, withServer, type ServerIdentity } from './server.ts';

/** The catalog calls the receiver makes (lib/catalog/wal.ts), narrowed so that it can be exercised alone. */
export interface WalArchiveCatalog {
  recordServerIdentity(database: string, systemIdentifier: string, walSegmentSize: number): Promise<void>;
  recordSegment(upload: SegmentUpload): Promise<void>;
  getSegment(database: string, systemIdentifier: string, timeline: number, segno: bigint): Promise<WalSegmentRecord | undefined>;
  recordHistory(input: { database: string; systemIdentifier: string; timeline: number; content: string; storageName: string; objectKey: string }): Promise<void>;
  historiesOf(database: string, options?: { systemIdentifier?: string }): Promise<Array<{ timeline: number; content: string }>>;
  latestDurable(database: string, systemIdentifier?: string): Promise<{ timeline: number; lsn: Lsn; receivedAt: Date } | undefined>;
}

export type Notify = (input: { event: 'wal_slot_bloat' | 'wal_chain_broken'; message: string; dedupeKey: string }) => Promise<void>;

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
  lastError: string | null;
  updatedAt: string;
}

export interface ReceiverOptions {
  database: string;
  target: PgTarget;
  slot: string;
  spoolDir: string;
  storageName: string;
  driver: StorageDriver;
  key: SecretKey;
  catalog: WalArchiveCatalog;
  notify: Notify;
  logger: Logger;
  partialIntervalMs: number;
  slotMaxBytes: number | null;
  signal: AbortSignal;
  /** Return after this long (the workflow continues as new); undefined runs until aborted. */
  runForMs?: number;
  onStatus?: (status: ReceiverStatus) => void;
  /** How often the spool and the slot are looked at; defaults to a fifth of the partial interval. */
  tickMs?: number;
  /** Re-read every few seconds so that a changed limit or interval applies without a restart. */
  settings?: () => Promise<{ slotMaxBytes: number | null; partialIntervalMs: number }>;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(done, ms);
  function done() {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  }
  signal?.addEventListener('abort', done, { once: true });
});

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * Receivers running in this process, by spool directory. A retried activity (its heartbeat timed
 * out while the old run still streams, e.g. on a stalled event loop) must not run a second
 * pg_receivewal into the same directory: the new run stops the old one and waits for it.
 */
const running = new Map<string, { stop(): void; done: Promise<unknown> }>();

/**
 * Runs until `signal` aborts (or `runForMs` passes): streams, uploads, restarts pg_receivewal
 * with backoff. A second server writing this archive (another system identifier, other bytes for
 * an archived segment) ends it with a `conflict` error; everything else is retried here.
 */
export async function runWalReceiver(options: ReceiverOptions): Promise<ReceiverStatus> {
  const { database, slot, spoolDir, driver, key, catalog, logger } = options;
  const tickMs = options.tickMs ?? Math.max(100, Math.min(500, Math.floor(options.partialIntervalMs / 5)));
  const status: ReceiverStatus = {
    database, state: 'starting', slot, systemIdentifier: null, walSegmentSize: null, serverFlushLsn: null, durableLsn: null, durableAt: null,
    unarchivedBytes: null, slotRetainedBytes: null, segmentsArchived: 0, partialUploads: 0, historiesArchived: 0, receiverStarts: 0,
    lastError: null, updatedAt: new Date().toISOString(),
  };
  const report = () => {
    status.updatedAt = new Date().toISOString();
    options.onStatus?.({ ...status });
  };
  const deadline = options.runForMs !== undefined ? Date.now() + options.runForMs : Number.POSITIVE_INFINITY;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  const stopTimer = Number.isFinite(deadline) ? setTimeout(() => stop.abort(), options.runForMs) : undefined;

  const previous = running.get(spoolDir);
  if (previous) {
    logger.warn({ database, spoolDir }, 'an earlier WAL receiver on this spool is still running; stopping it first');
    previous.stop();
    await previous.done.catch(() => undefined);
  }
  let finished!: () => void;
  const self = { stop: () => stop.abort(), done: new Promise<void>((resolve) => { finished = resolve; }) };
  running.set(spoolDir, self);
  // The partial being shipped: its segment and how far storage holds it.
  const shipped = new Map<string, Lsn>();
  let lastPartialShipAt = 0;
  let identity: ServerIdentity | undefined;
  let bloatEpisode: string | null = null;
  let lastStorageCheck = 0;
  let lastSettingsRead = Date.now();
  let slotMaxBytes = options.slotMaxBytes;
  let partialIntervalMs = options.partialIntervalMs;

  async function refreshSettings(): Promise<void> {
    if (!options.settings || Date.now() - lastSettingsRead < 5000) return;
    lastSettingsRead = Date.now();
    ({ slotMaxBytes, partialIntervalMs } = await options.settings());
  }

  function unwrapConflict(error: unknown): never | void {
    if (error instanceof HindsightError && (error.kind === 'conflict' || error.kind === 'bad_input' || error.kind === 'access_denied')) throw error;
  }

  async function archiveHistory(file: string, timeline: number): Promise<void> {
    const sysid = identity!.systemIdentifier;
    const content = await readFile(file, 'utf8');
    parseHistoryFile(content);
    const objectKey = historyKey(sysid, timeline);
    const existing = (await catalog.historiesOf(database, { systemIdentifier: sysid })).find((h) => h.timeline === timeline);
    if (existing && existing.content !== content) {
      throw new HindsightError('conflict', `database "${database}": timeline ${timeline} history differs from the archived one (two servers are writing one archive); refusing to overwrite it`);
    }
    if (!existing) {
      await encodeWalFile({ file, driver, objectKey, key, signal: options.signal });
      await catalog.recordHistory({ database, systemIdentifier: sysid, timeline, content, storageName: options.storageName, objectKey });
      status.historiesArchived += 1;
      logger.info({ database, timeline }, 'timeline history archived');
    }
    // pg_receivewal looks for the history file of its timeline in the spool; keep it there.
  }

  async function archiveCompleteSegment(file: string, name: string): Promise<void> {
    const sysid = identity!.systemIdentifier;
    const segmentSize = identity!.walSegmentSize;
    const { timeline, segno } = parseSegmentName(name, segmentSize);
    const size = (await stat(file)).size;
    if (size !== segmentSize) throw new HindsightError('integrity', `WAL segment ${name} in ${spoolDir} is ${size} bytes, not the ${segmentSize}-byte segment size`);
    const existing = await catalog.getSegment(database, sysid, timeline, segno);
    if (existing?.complete) {
      // A retried upload after a crash; identical bytes are fine, other bytes mean a second server.
      const sha = await sha256OfFile(file);
      if (sha !== existing.sha256) {
        throw new HindsightError('conflict', `database "${database}": WAL segment ${name} of system ${sysid} is already archived with other content; refusing to overwrite it (two servers are writing one archive)`);
      }
      await rm(file, { force: true });
      return;
    }
    const objectKey = segmentKey(sysid, name);
    const stored = await encodeWalFile({ file, driver, objectKey, key, signal: options.signal });
    await catalog.recordSegment({
      database, systemIdentifier: sysid, timeline, segno, name, startLsn: segmentStartLsn(segno, segmentSize), endLsn: segmentEndLsn(segno, segmentSize),
      complete: true, sizeBytes: stored.rawBytes, storedBytes: stored.storedBytes, sha256: stored.rawSha256, storageName: options.storageName, objectKey,
    });
    // The growing partial object is superseded by the complete one.
    await driver.remove(partialKey(sysid, name)).catch(() => undefined);
    shipped.delete(name);
    await rm(file, { force: true });
    status.segmentsArchived += 1;
    // The next segment's first bytes go up at once rather than an interval later.
    lastPartialShipAt = 0;
  }

  /**
   * `after`: the completed segments of the same pass. The partial's upload runs alongside theirs
   * (so a finished segment no longer delays the newest bytes), but is recorded only once they are,
   * so that the catalog never holds a partial past a segment it does not hold yet.
   */
  async function shipPartial(file: string, name: string, validEnd: Lsn, final: boolean, after: Promise<void> = Promise.resolve()): Promise<void> {
    const sysid = identity!.systemIdentifier;
    const segmentSize = identity!.walSegmentSize;
    const { timeline, segno } = parseSegmentName(name, segmentSize);
    const start = segmentStartLsn(segno, segmentSize);
    const end = validEnd > segmentEndLsn(segno, segmentSize) ? segmentEndLsn(segno, segmentSize) : validEnd;
    if (end <= start) return;
    if ((shipped.get(name) ?? 0n) >= end) return;
    const existing = await catalog.getSegment(database, sysid, timeline, segno);
    if (existing && (existing.complete || existing.endLsn >= end)) {
      shipped.set(name, existing.complete ? segmentEndLsn(segno, segmentSize) : existing.endLsn);
      return;
    }
    const objectKey = partialKey(sysid, name);
    // The interval runs from the start of an upload, so that its duration does not add to the RPO.
    lastPartialShipAt = Date.now();
    let stored;
    try {
      stored = await encodeWalFile({ file, validBytes: Number(end - start), driver, objectKey, key, signal: options.signal });
    } catch (error) {
      // Completed and renamed between the listing and the upload: the next pass uploads it whole.
      if ((error as { code?: string }).code === 'ENOENT') return;
      throw error;
    }
    await after;
    await catalog.recordSegment({
      database, systemIdentifier: sysid, timeline, segno, name, startLsn: start, endLsn: end, complete: false,
      sizeBytes: stored.rawBytes, storedBytes: stored.storedBytes, sha256: stored.rawSha256, storageName: options.storageName, objectKey,
    });
    shipped.set(name, end);
    status.partialUploads += 1;
    if (final) logger.info({ database, segment: name, end: formatLsn(end) }, 'final partial of an ended timeline archived');
  }

  /** Switch points of every archived timeline: where a timeline's WAL ends once a child branched off it. */
  async function timelineEnds(): Promise<Map<number, Lsn>> {
    const ends = new Map<number, Lsn>();
    for (const history of await catalog.historiesOf(database, { systemIdentifier: identity!.systemIdentifier })) {
      for (const s of parseHistoryFile(history.content)) {
        const known = ends.get(s.parentTimeline);
        if (known === undefined || s.switchLsn < known) ends.set(s.parentTimeline, s.switchLsn);
      }
    }
    return ends;
  }

  /** One pass over the spool: histories, then completed segments in order, then partials. */
  async function drainSpool(flushed: Lsn | null, options2: { shipPartials: boolean; force?: boolean }): Promise<void> {
    const names = (await readdir(spoolDir)).sort();
    for (const name of names) {
      const timeline = parseHistoryFileName(name);
      if (timeline !== null) await archiveHistory(path.join(spoolDir, name), timeline);
    }
    const completed = names.filter(isSegmentName);
    const segments = (async () => {
      for (const name of completed) await archiveCompleteSegment(path.join(spoolDir, name), name);
    })();
    const partials = options2.shipPartials ? names.filter(isPartialName) : [];
    if (partials.length === 0) return segments;
    // A partial that fails because a segment failed is not news: the segment's error is the one to report.
    const [segmentsDone, partialsDone] = await Promise.allSettled([segments, shipPartials(partials, flushed, { force: options2.force || completed.length > 0, after: segments })]);
    if (segmentsDone.status === 'rejected') throw segmentsDone.reason;
    if (partialsDone.status === 'rejected') throw partialsDone.reason;
  }

  async function shipPartials(partials: string[], flushed: Lsn | null, options2: { force: boolean; after: Promise<void> }): Promise<void> {
    const ends = await timelineEnds();
    for (const file of partials) {
      const name = file.slice(0, -'.partial'.length);
      const { timeline } = parseSegmentName(name, identity!.walSegmentSize);
      const switchedAt = ends.get(timeline);
      if (switchedAt !== undefined) {
        // A timeline that ended mid-segment: its partial never completes; ship what is valid and let it go.
        await shipPartial(path.join(spoolDir, file), name, switchedAt, true, options2.after);
        await rm(path.join(spoolDir, file), { force: true });
        continue;
      }
      if (flushed === null) continue;
      if (!options2.force && Date.now() - lastPartialShipAt < partialIntervalMs) continue;
      await shipPartial(path.join(spoolDir, file), name, flushed, false, options2.after);
    }
  }

  async function refreshDurable(flushed: Lsn | null): Promise<void> {
    const durable = await catalog.latestDurable(database, identity?.systemIdentifier);
    status.durableLsn = durable ? formatLsn(durable.lsn) : null;
    status.durableAt = durable ? durable.receivedAt.toISOString() : null;
    status.serverFlushLsn = flushed !== null ? formatLsn(flushed) : status.serverFlushLsn;
    status.unarchivedBytes = durable && flushed !== null ? Number(flushed > durable.lsn ? flushed - durable.lsn : 0n) : null;
  }

  /** Storage must hold what the catalog says it holds (docs/design.md, failure mode 1): the newest object is looked at. */
  async function checkStorage(): Promise<void> {
    if (Date.now() - lastStorageCheck < 30_000 || !identity) return;
    lastStorageCheck = Date.now();
    const durable = await catalog.latestDurable(database, identity.systemIdentifier);
    if (!durable) return;
    const segno = (durable.lsn - 1n) / BigInt(identity.walSegmentSize);
    const record = await catalog.getSegment(database, identity.systemIdentifier, durable.timeline, segno);
    if (!record) return;
    const info = await driver.stat(record.objectKey);
    if (!info || info.size !== record.storedBytes) {
      const message = `database "${database}": WAL object '${record.objectKey}' in storage ${driver.label} is ${info ? `${info.size} bytes, not ${record.storedBytes}` : 'missing'}; the archive is not what the catalog says (check the storage; the chain monitor will take a new base backup)`;
      status.lastError = message;
      await options.notify({ event: 'wal_chain_broken', message, dedupeKey: `wal_storage_mismatch:${database}:${record.objectKey}:${record.storedBytes}` });
    }
  }

  async function checkBloat(retained: number | null): Promise<void> {
    status.slotRetainedBytes = retained;
    if (slotMaxBytes === null || retained === null) return;
    if (retained <= slotMaxBytes) {
      bloatEpisode = null;
      return;
    }
    if (bloatEpisode) return;
    bloatEpisode = new Date().toISOString();
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    await options.notify({
      event: 'wal_slot_bloat',
      message: `database "${database}": replication slot "${slot}" retains ${mb(retained)} of WAL on the server, over the ${mb(slotMaxBytes)} limit (the archiver is behind or stopped; check the worker, or set max_slot_wal_keep_size on the server to cap it)`,
      dedupeKey: `wal_slot_bloat:${database}:${bloatEpisode}`,
    });
  }

  /** Connects, checks identity and the slot; returns whether the slot had to be created. */
  async function prepare(): Promise<boolean> {
    return withServer(database, options.target, async (client) => {
      const found = await checkStreamingPrerequisites(database, client);
      await catalog.recordServerIdentity(database, found.systemIdentifier, found.walSegmentSize);
      identity = found;
      status.systemIdentifier = found.systemIdentifier;
      status.walSegmentSize = found.walSegmentSize;
      const { created } = await ensurePhysicalSlot(client, slot);
      return created;
    });
  }

  /**
   * pg_receivewal fills a new .partial with zeros to the segment size before it writes any WAL to
   * it, and refuses to start beside one of any other size. A receiver stopped during that filling
   * (the end of an archiver run, a crash) leaves such a file: it holds no WAL, and the slot still
   * holds what it would have, so it is emptied and pg_receivewal pads it again.
   */
  async function clearUnpaddedPartials(): Promise<void> {
    const segmentSize = identity?.walSegmentSize;
    if (!segmentSize) return;
    for (const name of await readdir(spoolDir)) {
      if (!isPartialName(name)) continue;
      const file = path.join(spoolDir, name);
      const { size } = await stat(file);
      if (size === 0 || size === segmentSize) continue;
      logger.warn({ database, file: name, size, segmentSize }, 'partial WAL file left half padded by a stopped pg_receivewal; emptying it so that streaming resumes');
      await truncate(file, 0);
    }
  }

  /**
   * A new slot starts a new stream: whatever the spool holds is from an older one. Completed
   * files still go up; partials go up as far as the catalog already knows them and are dropped,
   * so that pg_receivewal starts from the slot instead of an old position.
   */
  async function resetSpoolForNewSlot(): Promise<void> {
    await drainSpool(null, { shipPartials: true, force: true });
    for (const name of await readdir(spoolDir)) {
      if (isPartialName(name)) {
        logger.warn({ database, file: name }, 'replication slot was created anew; dropping a partial segment of the previous stream');
        await rm(path.join(spoolDir, name), { force: true });
      }
    }
    shipped.clear();
  }

  function startReceiver(tool: string): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string } {
    const child = spawn(tool, ['-D', spoolDir, '--slot', slot, '--synchronous', '--no-loop', '--no-password', '--status-interval=1'], {
      env: { ...process.env, ...libpqEnv(options.target), PGAPPNAME: `hindsight-wal-${database}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stderr = stderrTail(child);
    const exited = waitForExit(child).catch((error: unknown) => ({ code: -1, signal: null, error }));
    status.receiverStarts += 1;
    return { child, exited: exited as Promise<{ code: number | null; signal: NodeJS.Signals | null }>, stderr };
  }

  let failures = 0;
  try {
    await mkdir(spoolDir, { recursive: true, mode: 0o700 });
    // Chosen once the server's major is known: pg_receivewal must be at least the source's.
    let tool: { path: string } | undefined;
    while (!stop.signal.aborted) {
      status.state = status.receiverStarts === 0 ? 'starting' : 'reconnecting';
      report();
      let created: boolean;
      try {
        created = await prepare();
      } catch (error) {
        unwrapConflict(error);
        failures += 1;
        status.lastError = errorMessage(error);
        // While the server is down, completed segments already in the spool still go up.
        if (identity) await drainSpool(null, { shipPartials: false }).catch(() => undefined);
        report();
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), stop.signal);
        continue;
      }
      if (created) await resetSpoolForNewSlot();
      else await drainSpool(null, { shipPartials: false });
      await clearUnpaddedPartials();
      tool ??= await toolFor('pg_receivewal', identity!.major);

      const started = Date.now();
      // The furthest this pg_receivewal confirmed: what its spool file holds when it has ended.
      let sessionFlushed: Lsn | null = null;
      const receiver = startReceiver(tool.path);
      let ended = false;
      void receiver.exited.then(() => { ended = true; });
      status.state = 'streaming';
      logger.info({ database, slot, spoolDir }, 'pg_receivewal started');
      try {
        await withServer(database, options.target, async (client) => {
          while (!stop.signal.aborted && !ended) {
            await refreshSettings();
            const position = await slotPosition(client, slot);
            const flushed = position?.flushedLsn ?? null;
            if (flushed !== null && (sessionFlushed === null || flushed > sessionFlushed)) sessionFlushed = flushed;
            // Before the uploads: a storage that is down must not silence the bloat alert.
            await checkBloat(position?.retainedBytes ?? null);
            await drainSpool(flushed, { shipPartials: true });
            await refreshDurable(flushed);
            await checkStorage();
            report();
            await sleep(tickMs, stop.signal);
          }
        });
      } catch (error) {
        unwrapConflict(error);
        status.lastError = errorMessage(error);
      }
      if (!ended) receiver.child.kill('SIGTERM');
      const { code, signal } = await receiver.exited;
      if (!stop.signal.aborted) {
        const why = receiver.stderr().split('\n').filter(Boolean).slice(-2).join(' | ') || `exit code ${code ?? signal}`;
        status.lastError = `pg_receivewal ended: ${why}`;
        logger.warn({ database, code, signal, stderr: receiver.stderr() }, 'pg_receivewal ended; restarting');
      }
      // Whatever it wrote before ending goes up now: completed segments and the valid partial.
      await drainSpool(sessionFlushed, { shipPartials: true, force: true })
        .then(() => refreshDurable(sessionFlushed))
        .catch((error: unknown) => {
          unwrapConflict(error);
          status.lastError = errorMessage(error);
        });
      failures = Date.now() - started > 60_000 ? 1 : failures + 1;
      if (!stop.signal.aborted) await sleep(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)), stop.signal);
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    if (stopTimer) clearTimeout(stopTimer);
    if (running.get(spoolDir) === self) running.delete(spoolDir);
    finished();
  }
  status.state = 'stopped';
  report();
  return { ...status };
}
