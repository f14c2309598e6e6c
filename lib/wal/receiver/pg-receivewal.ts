/** The pg_receivewal child process: starting it, and one of them per spool directory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { libpqChildEnv } from '../../pg/connection.ts';
import { stderrTail, waitForExit } from '../../backup/child-process.ts';
import type { ReceiverSession } from './session.ts';
import { receiverApplicationName } from './stale-receiver.ts';

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export interface RunningReceiver {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

export function startPgReceivewal(session: ReceiverSession, tool: string): RunningReceiver {
  const { spoolDir, slot, target, database } = session.options;
  const child = spawn(
    tool,
    ['-D', spoolDir, '--slot', slot, '--synchronous', '--no-loop', '--no-password', '--status-interval=1'],
    {
      env: { ...libpqChildEnv(target), PGAPPNAME: receiverApplicationName(database) },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const stderr = stderrTail(child);
  const exited = waitForExit(child).catch((error: unknown) => ({ code: -1, signal: null, error }));
  session.status.receiverStarts += 1;
  return { child, exited: exited as RunningReceiver['exited'], stderr };
}

/**
 * Receivers running in this process, by spool directory. A retried activity (its heartbeat timed
 * out while the old run still streams, e.g. on a stalled event loop) must not run a second
 * pg_receivewal into the same directory: the new run stops the old one and waits for it.
 */
const running = new Map<string, { stop(): void; done: Promise<unknown> }>();

/** Takes the spool for this run, stopping an earlier run on it first; returns the release. */
export async function claimSpool(session: ReceiverSession, stop: () => void): Promise<() => void> {
  const { database, spoolDir, logger } = session.options;
  const previous = running.get(spoolDir);
  if (previous) {
    logger.warn({ database, spoolDir }, 'an earlier WAL receiver on this spool is still running; stopping it first');
    previous.stop();
    await previous.done.catch(() => undefined);
  }
  let finished!: () => void;
  const self = {
    stop,
    done: new Promise<void>((resolve) => {
      finished = resolve;
    }),
  };
  running.set(spoolDir, self);
  return () => {
    if (running.get(spoolDir) === self) running.delete(spoolDir);
    finished();
  };
}
