/**
 * Runs PostgreSQL over a restored data directory until recovery has reached its target and the
 * server has promoted (pg_is_in_recovery() is false), watching its log for the ways recovery ends
 * early. On an idle database a time target can lie after the last commit in the archive: PostgreSQL
 * 13+ then stops with "recovery ended before configured recovery target was reached" after
 * replaying everything (docs/design.md, failure mode 5). The target was validated against the window, so the
 * state at the end of the archive is the state at the target: recovery is restarted with the LSN
 * it reached as the target and promotes there.
 */
import { execFile, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, type PgTarget } from '../pg/connection.ts';
import { serverToolOfMajor } from '../pg/tools.ts';
import { asServerUser, serverEnv } from './os-user.ts';
import { readNoFollow } from './server-files.ts';

const run = promisify(execFile);

export const LOG_FILE = 'hindsight-restore.log';

export interface RecoveryResult {
  reachedLsn: string;
  lastTransactionTime: string | null;
  newTimeline: number;
}

export interface RecoveryServer {
  dataDir: string;
  port: number;
  /** Where clients connect: the unix socket directory of a sandbox restore, else 127.0.0.1. */
  host: string;
  major: number;
  /** The pg_ctl of that major version, which runs the server. */
  pgCtl: string;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  running(): Promise<boolean>;
  log(): Promise<string>;
}

/** The data directory's major version, read without following a link the base backup may have put there. */
export async function dataDirectoryMajor(dataDir: string): Promise<number> {
  const major = Number.parseInt(((await readNoFollow(path.join(dataDir, 'PG_VERSION'), 64)) ?? '').trim(), 10);
  if (!Number.isInteger(major) || major < 9) {
    throw new HindsightError(
      'integrity',
      `${dataDir} has no readable PG_VERSION: the base backup is not a PostgreSQL data directory`,
    );
  }
  return major;
}

/**
 * Runs pg_ctl over a restored data directory as the sandbox user with a scrubbed environment.
 * `host` is where clients reach it (a socket directory, or 127.0.0.1).
 */
export async function recoveryServer(dataDir: string, port: number, host = '127.0.0.1'): Promise<RecoveryServer> {
  const major = await dataDirectoryMajor(dataDir);
  const pgCtl = await serverToolOfMajor('pg_ctl', major);
  const logFile = path.join(dataDir, LOG_FILE);
  const ctl = async (args: string[]) => {
    const [cmd, cmdArgs] = asServerUser(pgCtl.path, args);
    try {
      // cwd '/': the server's user may not be allowed into the worker's working directory.
      const { stdout } = await run(cmd, cmdArgs, { cwd: '/', env: serverEnv(), maxBuffer: 4 * 1024 * 1024 });
      return stdout;
    } catch (error) {
      const err = error as { stderr?: string; message: string };
      throw new HindsightError(
        'tool_failed',
        `pg_ctl ${args[0]} failed: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
  };
  const server: RecoveryServer = {
    dataDir,
    port,
    host,
    major,
    pgCtl: pgCtl.path,
    async start() {
      // A log file the base backup brought (perhaps a link to a file of the host) is not ours to append to.
      await rm(logFile, { recursive: true, force: true });
      // No -w: recovery can take long and may end in a FATAL that pg_ctl would only time out on.
      await ctl(['start', '-D', dataDir, '-l', logFile, '-W']);
    },
    async stop(mode = 'fast') {
      // Without asking pg_ctl status first: a server that is still starting has no pid file yet.
      for (let i = 0; i < 20; i++) {
        try {
          await ctl(['stop', '-D', dataDir, '-m', mode, '-w', '-t', '60']);
          return;
        } catch (error) {
          if (!/Is server running\?|does not exist|not a database cluster directory/i.test(errorMessage(error)))
            throw error;
          if (!(await server.running()) && i >= 5) return;
          await sleep(200);
        }
      }
    },
    async running() {
      const [cmd, cmdArgs] = asServerUser(pgCtl.path, ['status', '-D', dataDir]);
      return new Promise((resolve) => {
        const child = spawn(cmd, cmdArgs, { stdio: 'ignore', cwd: '/', env: serverEnv() });
        child.on('exit', (code) => resolve(code === 0));
        child.on('error', () => resolve(false));
      });
    },
    // Read without following a link: the restored cluster's user could swap the log for one.
    log: async () => (await readNoFollow(logFile, 512 * 1024 * 1024)) ?? '',
  };
  return server;
}

const TARGET_NOT_REACHED = /recovery ended before configured recovery target was reached/;
const REDO_DONE = /redo done at ([0-9A-F]+\/[0-9A-F]+)/g;

function logProblems(log: string): string {
  const lines = log.split('\n').filter((l) => /\b(FATAL|PANIC|ERROR):/.test(l));
  return (lines.length > 0 ? lines : log.trim().split('\n')).slice(-4).join(' | ');
}

/**
 * Recovery that neither writes to its log (every segment fetched is a "restored log file" line)
 * nor moves its replay position for this long is stuck, e.g. on a restore_command that hangs.
 */
export const RECOVERY_STALL_MS = 30 * 60_000;

/** What our own polling writes to the server's log while it refuses connections: not progress. */
const CONNECTION_NOISE =
  /(FATAL|DETAIL):\s+(the database system is (starting up|not yet accepting connections|not accepting connections)|Consistent recovery state has not been yet reached)/;

/** The log lines that say recovery did something. */
export const progressLines = (log: string): number =>
  log.split('\n').filter((line) => line.trim() !== '' && !CONNECTION_NOISE.test(line)).length;

/** Remembers when what it observes last changed. */
export function stallWatch(stallMs: number, now: () => number = Date.now) {
  let last: string | undefined;
  let changedAt = now();
  return {
    /** True once `state` has stayed the same for `stallMs`. */
    observe(state: string): boolean {
      if (state !== last) {
        last = state;
        changedAt = now();
        return false;
      }
      return now() - changedAt >= stallMs;
    },
  };
}

/**
 * How often recovery is looked at. Promotion is noticed on the next look, so this is added to every
 * restore's time (half of it on average); a look while the server is not yet consistent also
 * starts pg_ctl status, so it cannot be much shorter on a loaded host.
 */
export const RECOVERY_POLL_MS = 200;

export type RecoveryOutcome =
  { kind: 'promoted'; result: RecoveryResult } | { kind: 'target_not_reached'; redoDoneAt: string };

/**
 * Starts the server and waits for promotion or for the end of the attempt. `connectAs` is a role
 * of the restored cluster (the registered database's own credentials) used to ask the server.
 */
export async function runRecovery(
  server: RecoveryServer,
  options: {
    connectAs: PgTarget;
    signal?: AbortSignal;
    onTick?: (state: { replayLsn: string | null }) => void;
    logFrom?: number;
    /** How long recovery may show no sign of progress before it is stopped as stuck (RECOVERY_STALL_MS). */
    stallMs?: number;
    /** Called once pg_ctl start has returned. */
    onStarted?: () => void;
  },
): Promise<RecoveryOutcome> {
  const stallMs = options.stallMs ?? RECOVERY_STALL_MS;
  const watch = stallWatch(stallMs);
  let replayLsn: string | null = null;
  // The restored server has no TLS (server-config.ts): loopback or a private socket only.
  let target: PgTarget = { ...options.connectAs, host: server.host, port: server.port, sslmode: 'disable' };
  const logFrom = options.logFrom ?? (await server.log()).length;
  await server.start();
  options.onStarted?.();
  // pg_ctl start -W returns before the postmaster has written its pid file: until it has been seen
  // running once, "not running" means "not yet".
  const startedAt = Date.now();
  let seenRunning = false;
  for (;;) {
    if (options.signal?.aborted) throw new HindsightError('tool_failed', 'restore aborted');
    // A server that answers is running: pg_ctl status (two process starts) is asked only when it does not.
    const state = await readReplayState(target).catch((error: unknown) => {
      target = targetAfterRefusal(error, target, server);
      return undefined;
    });
    if (state) {
      seenRunning = true;
      replayLsn = state.lsn;
      options.onTick?.({ replayLsn: state.lsn });
      if (!state.in_recovery) return { kind: 'promoted', result: promotedResult(state) };
    } else {
      // It does not accept connections until consistent: expected for a while.
      options.onTick?.({ replayLsn: null });
      const running = await server.running();
      seenRunning ||= running;
      if (!running && (seenRunning || Date.now() - startedAt >= 30_000)) return await stoppedOutcome(server, logFrom);
    }
    const log = (await server.log()).slice(logFrom);
    if (/\bPANIC:/.test(log)) {
      await server.stop('immediate').catch(() => undefined);
      throw new HindsightError('tool_failed', `PostgreSQL panicked during recovery: ${logProblems(log)}`);
    }
    if (watch.observe(`${progressLines(log)}|${replayLsn ?? ''}`)) {
      await server.stop('immediate').catch(() => undefined);
      throw recoveryStalled(server, stallMs, replayLsn, log);
    }
    await sleep(RECOVERY_POLL_MS);
  }
}

/** The server stopped by itself: an archive that ends before the target, or a failure. */
async function stoppedOutcome(server: RecoveryServer, logFrom: number): Promise<RecoveryOutcome> {
  // Give the log a moment: the postmaster may exit before its last lines are flushed.
  await sleep(200);
  const final = (await server.log()).slice(logFrom);
  if (TARGET_NOT_REACHED.test(final)) {
    const done = [...final.matchAll(REDO_DONE)].at(-1)?.[1];
    if (done) return { kind: 'target_not_reached', redoDoneAt: done };
  }
  throw new HindsightError('tool_failed', `PostgreSQL stopped during recovery: ${logProblems(final) || 'no log'}`);
}

interface ReplayState {
  in_recovery: boolean;
  lsn: string | null;
  xact: Date | null;
  wal: string | null;
}

async function readReplayState(target: PgTarget): Promise<ReplayState> {
  const client = await connect('restored server', target);
  try {
    const { rows } = await client.query<ReplayState>(
      `select pg_is_in_recovery() as in_recovery, pg_last_wal_replay_lsn()::text as lsn, pg_last_xact_replay_timestamp() as xact,
                  case when pg_is_in_recovery() then null else pg_walfile_name(pg_current_wal_lsn()) end as wal`,
    );
    return rows[0]!;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function promotedResult(state: ReplayState): RecoveryResult {
  return {
    reachedLsn: state.lsn ?? '0/0',
    lastTransactionTime: state.xact ? state.xact.toISOString() : null,
    newTimeline: Number.parseInt((state.wal ?? '1').slice(0, 8), 16),
  };
}

/** Where to connect next after the server refused a connection; throws when it refuses the user. */
function targetAfterRefusal(error: unknown, target: PgTarget, server: RecoveryServer): PgTarget {
  const kind = error instanceof HindsightError ? error.kind : undefined;
  // A target before the database was created: any database of the cluster can answer.
  if (kind === 'not_found' && target.database !== 'postgres') return { ...target, database: 'postgres' };
  if (kind === 'access_denied') {
    throw new HindsightError(
      'access_denied',
      `the restored server in ${server.dataDir} does not let the registered user in to follow recovery: ${(error as Error).message}`,
    );
  }
  return target;
}

function recoveryStalled(
  server: RecoveryServer,
  stallMs: number,
  replayLsn: string | null,
  log: string,
): HindsightError {
  const minutes = Math.round(stallMs / 60_000);
  return new HindsightError(
    'tool_failed',
    `recovery in ${server.dataDir} made no progress for ${minutes >= 1 ? `${minutes} min` : `${Math.round(stallMs / 1000)} s`}${replayLsn ? ` (replayed to ${replayLsn})` : ''} and was stopped: check that restore_command can fetch WAL (the worker's log shows each fetch) and that storage answers; last log lines: ${logProblems(log) || 'none'}`,
  );
}
