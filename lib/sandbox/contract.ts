import type { PgTarget } from '../pg/connection.ts';

export type SandboxDriverName = 'process' | 'docker';

/**
 * A throwaway PostgreSQL server into which a backup is restored to prove it. Nothing in it has to
 * survive: it runs without fsync and is removed whole by destroy().
 */
export interface Sandbox {
  id: string;
  driver: SandboxDriverName;
  major: number;
  /** A superuser connection to the `postgres` database. */
  target: PgTarget;
  /** The server's data directory on this machine (process driver only); the sandbox's own directory is its parent. */
  dataDir?: string;
  /** Stops the server and removes everything it used. Idempotent; works whatever state the sandbox is in. */
  destroy(): Promise<void>;
}

export interface SandboxCreateOptions {
  /** The major version of the server; it must equal the backup's. */
  major: number;
  /** What the sandbox is for, kept with it for whoever finds it later. */
  label: string;
  /** Aborting stops the creation and removes what was made so far. */
  signal?: AbortSignal;
}

export interface SandboxDriver {
  readonly name: SandboxDriverName;
  create(options: SandboxCreateOptions): Promise<Sandbox>;
  /**
   * Removes sandboxes whose creating process is gone (a worker killed mid-verification), never
   * those of a live process. Returns the ids of the sandboxes removed.
   */
  sweepLeftovers(): Promise<{ removed: string[] }>;
}
