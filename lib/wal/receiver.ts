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
 *
 * In synchronous mode a replication client of our own (receiver/sync-stream.ts) replaces
 * pg_receivewal: it writes the same spool files, partials ship at every tick, and it confirms to
 * the server only the position storage holds, so that a synchronous commit waits for storage.
 *
 * The parts live in receiver/: the session's shared state (session.ts), the spool's uploads
 * (spool.ts), the status and alerts (health.ts), the child process (pg-receivewal.ts), the
 * synchronous client (sync-*.ts) and the slot's drop over its limit (slot-drop.ts).
 */
import { mkdir } from 'node:fs/promises';
import type pg from 'pg';
import { toolFor } from '../pg/tools.ts';
import { formatLsn, parseLsn, type Lsn } from './lsn.ts';
import {
  checkStreamingPrerequisites,
  ensurePhysicalSlot,
  slotLost,
  slotNameFor,
  slotPosition,
  withServer,
  type SlotPosition,
} from './server.ts';
import { ArchiveHealth } from './receiver/health.ts';
import { claimSpool, sleep, startPgReceivewal } from './receiver/pg-receivewal.ts';
import { ReceiverSession, type ReceiverOptions, type ReceiverStatus } from './receiver/session.ts';
import { dropLostSlot, dropOverLimitSlot, slotPinsRecyclableWal } from './receiver/slot-drop.ts';
import { SpoolArchiver } from './receiver/spool.ts';
import { endStaleReceiver } from './receiver/stale-receiver.ts';
import { SyncWalStream } from './receiver/sync-stream.ts';

export type { Notify, ReceiverOptions, ReceiverStatus, SlotDropped, WalArchiveCatalog } from './receiver/session.ts';

/** A stream that ran this long before ending counts as healthy: backoff starts over. */
const HEALTHY_RUN_MS = 60_000;
/** In synchronous mode every commit waits for an upload: the spool is looked at this often. */
const SYNC_TICK_MS = 20;

/** One stream's life (pg_receivewal, or the synchronous client): whether it has ended, and how far its files hold WAL. */
interface StreamRun {
  ended: boolean;
  /** What its spool files hold: the server's view of pg_receivewal's flush, or the synchronous client's writes. */
  flushed: Lsn | null;
  /** Why the loop ends it: a slot dropped over its limit, or a change between asynchronous and synchronous. */
  endFor: 'drop' | 'mode' | null;
  retained: number;
  stop(): void;
  /** Resolves with why it ended on its own (null when stopped by the loop or the run). */
  exited: Promise<string | null>;
  /** The synchronous client's own position; pg_receivewal's comes from the server. */
  written?: () => Lsn;
  confirm?: (durable: Lsn) => void;
}

class ReceiverLoop {
  private readonly session: ReceiverSession;
  private readonly archiver: SpoolArchiver;
  private readonly health: ArchiveHealth;
  private readonly stop: AbortSignal;
  private readonly tickMs: number;

  constructor(session: ReceiverSession, stop: AbortSignal) {
    this.session = session;
    this.archiver = new SpoolArchiver(session);
    this.health = new ArchiveHealth(session);
    this.stop = stop;
    const { options } = session;
    this.tickMs = options.tickMs ?? Math.max(100, Math.min(500, Math.floor(options.partialIntervalMs / 5)));
  }

  /** Until stopped, or until a slot dropped over its limit ends the run (its workflow then starts a base backup). */
  private get running(): boolean {
    return !this.stop.aborted && this.session.status.slotDropped === null;
  }

  async run(): Promise<void> {
    const { status } = this.session;
    let failures = 0;
    while (this.running) {
      status.state = status.receiverStarts === 0 ? 'starting' : 'reconnecting';
      this.session.report();
      let slot: { created: boolean; lost: boolean; position: SlotPosition | undefined };
      try {
        slot = await this.connect();
      } catch (error) {
        this.session.recordFailure(error);
        failures += 1;
        await this.waitForServer(failures);
        continue;
      }
      await this.archiver.prepareForStream(slot.created);
      // Invalidated by the server while the archiver was away or behind: it cannot stream again.
      if (slot.lost) {
        await dropLostSlot(this.session, this.archiver);
        break;
      }
      if (await this.overLimitAtStart(slot.position?.retainedBytes ?? null)) {
        await dropOverLimitSlot(this.session, this.archiver, this.session.status.slotRetainedBytes ?? 0);
        break;
      }
      const started = Date.now();
      await this.stream(slot.position);
      failures = Date.now() - started > HEALTHY_RUN_MS ? 1 : failures + 1;
      if (this.running) await sleep(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)), this.stop);
    }
    // A clean stop: what waits for the WAL index goes up now (a crash loses at most these batches).
    if (this.session.identity) await this.archiver.finish();
  }

  /** Connects, checks identity and the slot; returns whether the slot had to be created or was lost, and where it stands. */
  private async connect(): Promise<{ created: boolean; lost: boolean; position: SlotPosition | undefined }> {
    const { database, target, catalog, slot } = this.session.options;
    return withServer(database, target, async (client) => {
      const found = await checkStreamingPrerequisites(database, client);
      await catalog.recordServerIdentity(database, found.systemIdentifier, found.walSegmentSize);
      this.session.identity = found;
      this.session.status.systemIdentifier = found.systemIdentifier;
      this.session.status.walSegmentSize = found.walSegmentSize;
      const { created } = await ensurePhysicalSlot(client, slot);
      // Streams run one after the other here: a receiver still on the slot was left by a killed worker.
      if (!created) await endStaleReceiver(client, { database, slot, logger: this.session.options.logger });
      const lost = !created && (await slotLost(client, slot));
      return { created, lost, position: await slotPosition(client, slot) };
    });
  }

  /**
   * A slot found over its limit before streaming (the archiver was down, or behind) under the
   * `drop` policy: looked at again one check later, before the stream could shrink it, and dropped
   * when it is still over.
   */
  private async overLimitAtStart(retained: number | null): Promise<boolean> {
    const limit = this.session.slotMaxBytes;
    if (this.session.slotOverLimit !== 'drop' || limit === null || retained === null || retained <= limit) return false;
    await this.health.checkBloat(retained, this.tickMs);
    await sleep(this.tickMs, this.stop);
    if (this.stop.aborted) return false;
    const { database, target, slot } = this.session.options;
    return withServer(database, target, async (client) => {
      const again = await slotPosition(client, slot);
      return (
        (await this.health.checkBloat(again?.retainedBytes ?? null, this.tickMs)) &&
        slotPinsRecyclableWal(client, again?.restartLsn ?? null)
      );
    });
  }

  private async waitForServer(failures: number): Promise<void> {
    // While the server is down, completed segments already in the spool still go up.
    if (this.session.identity) await this.archiver.drain(null, { shipPartials: false }).catch(() => undefined);
    this.session.report();
    await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), this.stop);
  }

  /** Runs one stream until it ends, the run stops or the loop ends it, then uploads what it left. */
  private async stream(position: SlotPosition | undefined): Promise<void> {
    const { database, target, logger } = this.session.options;
    const synchronous = this.session.synchronous;
    this.session.status.mode = synchronous ? 'synchronous' : 'async';
    const run = synchronous ? await this.startSynchronous(position) : await this.startPgReceivewal();
    if (!run) return;
    void run.exited.then(() => {
      run.ended = true;
    });
    this.session.status.state = 'streaming';
    try {
      await withServer(database, target, (client) => this.follow(client, run));
    } catch (error) {
      this.session.recordFailure(error);
    }
    if (!run.ended) run.stop();
    const why = await run.exited;
    if (this.running && run.endFor === null) {
      this.session.status.lastError = why ?? 'the WAL stream ended';
      logger.warn({ database, why }, 'WAL stream ended; restarting');
    }
    // Whatever it wrote before ending goes up now: completed segments and the valid partial.
    await this.archiver
      .drain(run.flushed, { shipPartials: true, force: true })
      .then(() => this.health.refreshDurable(run.flushed))
      .catch((error: unknown) => this.session.recordFailure(error));
    if (run.endFor === 'drop' && !this.stop.aborted) await dropOverLimitSlot(this.session, this.archiver, run.retained);
  }

  private async startPgReceivewal(): Promise<StreamRun> {
    const { database, slot, spoolDir, logger } = this.session.options;
    // Chosen once the server's major is known: pg_receivewal must be at least the source's.
    const tool = await toolFor('pg_receivewal', this.session.server.major);
    const receiver = startPgReceivewal(this.session, tool.path);
    logger.info({ database, slot, spoolDir }, 'pg_receivewal started');
    return {
      ended: false,
      flushed: null,
      endFor: null,
      retained: 0,
      stop: () => receiver.child.kill('SIGTERM'),
      exited: receiver.exited.then(({ code, signal }) => {
        const stderr = receiver.stderr();
        const why = stderr.split('\n').filter(Boolean).slice(-2).join(' | ') || `exit code ${code ?? signal}`;
        return `pg_receivewal ended: ${why}`;
      }),
    };
  }

  /** The synchronous client, from the slot's position; null (retried with backoff) when it cannot start. */
  private async startSynchronous(position: SlotPosition | undefined): Promise<StreamRun | null> {
    const { database, slot, logger } = this.session.options;
    const from = position?.restartLsn ?? position?.currentLsn ?? null;
    if (from === null) {
      this.session.status.lastError = `replication slot "${slot}" has no position yet; retrying`;
      return null;
    }
    let stream: SyncWalStream;
    try {
      stream = await SyncWalStream.start(this.session, from, slotNameFor(database));
    } catch (error) {
      this.session.recordFailure(error);
      return null;
    }
    logger.info({ database, slot, from: formatLsn(from) }, 'synchronous WAL receiver started');
    return {
      ended: false,
      flushed: null,
      endFor: null,
      retained: 0,
      stop: () => stream.stop(),
      exited: stream.ended,
      written: () => stream.written,
      confirm: (durable) => stream.confirm(durable),
    };
  }

  /** Every tick while the stream runs: the slot's position, the alerts, the uploads, the confirmation, the status. */
  private async follow(client: pg.Client, run: StreamRun): Promise<void> {
    const tick = run.written ? SYNC_TICK_MS : this.tickMs;
    let lookedAt = 0;
    let drainedTo: Lsn | null = null;
    while (!this.stop.aborted && !run.ended) {
      // Synchronous mode looks often for new WAL, but at the server and the catalog only when some came, or every tick.
      if (run.written && run.written() === drainedTo && Date.now() - lookedAt < this.tickMs) {
        await sleep(tick, this.stop);
        continue;
      }
      lookedAt = Date.now();
      await this.health.refreshSettings();
      if ((run.written !== undefined) !== this.session.synchronous) {
        run.endFor = 'mode';
        return;
      }
      const position = await slotPosition(client, this.session.options.slot);
      const flushed = run.written ? run.written() : (position?.flushedLsn ?? null);
      if (flushed !== null && (run.flushed === null || flushed > run.flushed)) run.flushed = flushed;
      // Before the uploads: a storage that is down must not silence the bloat alert.
      const overLimit = await this.health.checkBloat(position?.retainedBytes ?? null, this.tickMs);
      if (overLimit && (await slotPinsRecyclableWal(client, position?.restartLsn ?? null))) {
        run.endFor = 'drop';
        run.retained = position?.retainedBytes ?? 0;
        return;
      }
      // A synchronous commit waits for this upload: partials go up at every tick that has new WAL.
      await this.archiver.drain(flushed, { shipPartials: true, force: run.written !== undefined });
      drainedTo = flushed;
      await this.health.refreshDurable(flushed);
      if (run.confirm && this.session.status.durableLsn) run.confirm(parseLsn(this.session.status.durableLsn));
      await this.health.checkStorage();
      this.session.report();
      await sleep(tick, this.stop);
    }
  }
}

/**
 * Runs until `signal` aborts (or `runForMs` passes): streams, uploads, restarts pg_receivewal
 * with backoff. A second server writing this archive (another system identifier, other bytes for
 * an archived segment) ends it with a `conflict` error; everything else is retried here.
 */
export async function runWalReceiver(options: ReceiverOptions): Promise<ReceiverStatus> {
  const session = new ReceiverSession(options);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  const stopTimer = Number.isFinite(options.runForMs) ? setTimeout(() => stop.abort(), options.runForMs) : undefined;
  const release = await claimSpool(session, () => stop.abort());
  try {
    await mkdir(options.spoolDir, { recursive: true, mode: 0o700 });
    await new ReceiverLoop(session, stop.signal).run();
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    if (stopTimer) clearTimeout(stopTimer);
    release();
  }
  session.status.state = 'stopped';
  session.report();
  return { ...session.status };
}
