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
 * The parts live in receiver/: the session's shared state (session.ts), the spool's uploads
 * (spool.ts), the status and alerts (health.ts) and the child process (pg-receivewal.ts).
 */
import { mkdir } from 'node:fs/promises';
import type pg from 'pg';
import { toolFor } from '../pg/tools.ts';
import type { Lsn } from './lsn.ts';
import { checkStreamingPrerequisites, ensurePhysicalSlot, slotPosition, withServer } from './server.ts';
import { ArchiveHealth } from './receiver/health.ts';
import { claimSpool, sleep, startPgReceivewal, type RunningReceiver } from './receiver/pg-receivewal.ts';
import { ReceiverSession, type ReceiverOptions, type ReceiverStatus } from './receiver/session.ts';
import { SpoolArchiver } from './receiver/spool.ts';

export type { Notify, ReceiverOptions, ReceiverStatus, WalArchiveCatalog } from './receiver/session.ts';

/** A pg_receivewal that ran this long before ending counts as healthy: backoff starts over. */
const HEALTHY_RUN_MS = 60_000;

/** One pg_receivewal's life: whether it has ended, and the furthest the server saw it flush. */
interface StreamRun {
  receiver: RunningReceiver;
  ended: boolean;
  /** What its spool file holds once it has ended. */
  flushed: Lsn | null;
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

  async run(): Promise<void> {
    const { status } = this.session;
    let failures = 0;
    // Chosen once the server's major is known: pg_receivewal must be at least the source's.
    let tool: { path: string } | undefined;
    while (!this.stop.aborted) {
      status.state = status.receiverStarts === 0 ? 'starting' : 'reconnecting';
      this.session.report();
      let created: boolean;
      try {
        created = await this.connect();
      } catch (error) {
        this.session.recordFailure(error);
        failures += 1;
        await this.waitForServer(failures);
        continue;
      }
      await this.archiver.prepareForStream(created);
      tool ??= await toolFor('pg_receivewal', this.session.server.major);
      const started = Date.now();
      await this.stream(tool.path);
      failures = Date.now() - started > HEALTHY_RUN_MS ? 1 : failures + 1;
      if (!this.stop.aborted) await sleep(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)), this.stop);
    }
    // A clean stop: what waits for the WAL index goes up now (a crash loses at most these batches).
    if (this.session.identity) await this.archiver.finish();
  }

  /** Connects, checks identity and the slot; returns whether the slot had to be created. */
  private async connect(): Promise<boolean> {
    const { database, target, catalog, slot } = this.session.options;
    return withServer(database, target, async (client) => {
      const found = await checkStreamingPrerequisites(database, client);
      await catalog.recordServerIdentity(database, found.systemIdentifier, found.walSegmentSize);
      this.session.identity = found;
      this.session.status.systemIdentifier = found.systemIdentifier;
      this.session.status.walSegmentSize = found.walSegmentSize;
      const { created } = await ensurePhysicalSlot(client, slot);
      return created;
    });
  }

  private async waitForServer(failures: number): Promise<void> {
    // While the server is down, completed segments already in the spool still go up.
    if (this.session.identity) await this.archiver.drain(null, { shipPartials: false }).catch(() => undefined);
    this.session.report();
    await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), this.stop);
  }

  /** Runs one pg_receivewal until it ends or the run stops, then uploads what it left. */
  private async stream(tool: string): Promise<void> {
    const { database, slot, spoolDir, target, logger } = this.session.options;
    const run: StreamRun = { receiver: startPgReceivewal(this.session, tool), ended: false, flushed: null };
    void run.receiver.exited.then(() => {
      run.ended = true;
    });
    this.session.status.state = 'streaming';
    logger.info({ database, slot, spoolDir }, 'pg_receivewal started');
    try {
      await withServer(database, target, (client) => this.follow(client, run));
    } catch (error) {
      this.session.recordFailure(error);
    }
    if (!run.ended) run.receiver.child.kill('SIGTERM');
    const { code, signal } = await run.receiver.exited;
    if (!this.stop.aborted) {
      const stderr = run.receiver.stderr();
      const why = stderr.split('\n').filter(Boolean).slice(-2).join(' | ') || `exit code ${code ?? signal}`;
      this.session.status.lastError = `pg_receivewal ended: ${why}`;
      logger.warn({ database, code, signal, stderr }, 'pg_receivewal ended; restarting');
    }
    // Whatever it wrote before ending goes up now: completed segments and the valid partial.
    await this.archiver
      .drain(run.flushed, { shipPartials: true, force: true })
      .then(() => this.health.refreshDurable(run.flushed))
      .catch((error: unknown) => this.session.recordFailure(error));
  }

  /** Every tick while pg_receivewal runs: the slot's position, the alerts, the uploads, the status. */
  private async follow(client: pg.Client, run: StreamRun): Promise<void> {
    while (!this.stop.aborted && !run.ended) {
      await this.health.refreshSettings();
      const position = await slotPosition(client, this.session.options.slot);
      const flushed = position?.flushedLsn ?? null;
      if (flushed !== null && (run.flushed === null || flushed > run.flushed)) run.flushed = flushed;
      // Before the uploads: a storage that is down must not silence the bloat alert.
      await this.health.checkBloat(position?.retainedBytes ?? null);
      await this.archiver.drain(flushed, { shipPartials: true });
      await this.health.refreshDurable(flushed);
      await this.health.checkStorage();
      this.session.report();
      await sleep(this.tickMs, this.stop);
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
