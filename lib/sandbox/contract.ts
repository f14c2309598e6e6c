import type { PgTarget } from '../pg/connection.ts';

export type SandboxDriverName = 'process' | 'docker';

/**
 * What keeps a sandboxed server from the host: `bwrap` (bubblewrap and the sandbox's own OS user),
 * `os-user` (the sandbox's own OS user only), `none` (the worker's own user), `container` (docker).
 */
export type SandboxConfinement = 'bwrap' | 'os-user' | 'none' | 'container';

/**
 * A throwaway PostgreSQL server into which a backup is restored to prove it. Nothing in it has to
 * survive: it runs without fsync and is removed whole by destroy(). Whatever is loaded into it is
 * hostile: only Hindsight's own steps use `admin`; a dump is loaded as a role without privileges
 * (restore-role.ts).
 */
export interface Sandbox {
  id: string;
  driver: SandboxDriverName;
  major: number;
  /**
   * The sandbox's superuser on the `postgres` database, with its random scram-sha-256 password:
   * over the private unix socket directory (`host` is that directory) for the process driver.
   */
  admin: PgTarget;
  confinement: SandboxConfinement;
  /** One line saying who the server runs as and what it cannot reach, for the report. */
  confinementDetail: string;
  /** The server's data directory on this machine (process driver only). */
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
  /** What confinement sandboxes get here, found without starting one (undefined: no server binaries to try). */
  probeConfinement?(): Promise<{ confinement: SandboxConfinement; detail: string } | undefined>;
  /** The server majors this driver can start a sandbox of, when it depends on what is installed (docker images). */
  availableMajors?(): Promise<number[]>;
}
