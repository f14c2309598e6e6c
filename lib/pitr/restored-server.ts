/**
 * Turns an extracted base backup into a data directory PostgreSQL can be started over safely: the
 * source's configuration set aside, the settings recovery must match read from pg_control, and a
 * listening setup chosen by the kind of restore. See docs/pitr-restore-config.md.
 */
import { Buffer } from 'node:buffer';
import path from 'node:path';
import { HindsightError } from '../errors.ts';
import { readControlData, type ControlSettings } from './control-data.ts';
import type { PgTarget } from '../pg/connection.ts';
import { toolFor } from '../pg/tools.ts';
import { runningAsRoot, serverOsUser } from './os-user.ts';
import { dataDirectoryMajor, type RecoveryServer } from './recover.ts';
import type { RestoredServerFacts } from './result-instructions.ts';
import { serverSettings, type Listen } from './server-config.ts';
import { setSourceConfigAside, type SourceConfigAside } from './source-config.ts';

/** sun_path holds 107 bytes and a null (unix(7)). */
const fitsSocketPath = (dir: string, port: number) => Buffer.byteLength(path.join(dir, `.s.PGSQL.${port}`)) <= 107;

/**
 * A sandbox listens on a unix socket only, in its own 0700 directory; a kept directory on
 * 127.0.0.1, with a socket in the (0700) data directory when the path is short enough for one.
 */
export function listenFor(options: { sandboxDir: string | null; dataDir: string; port: number }): Listen {
  if (options.sandboxDir !== null) {
    if (!fitsSocketPath(options.sandboxDir, options.port)) {
      throw new HindsightError(
        'bad_input',
        `sandbox directory ${options.sandboxDir} is too deep for a unix socket path inside it: choose a shorter sandbox root (HINDSIGHT_SANDBOX_ROOT)`,
      );
    }
    return { kind: 'socket', socketDir: options.sandboxDir };
  }
  return { kind: 'loopback', socketDir: fitsSocketPath(options.dataDir, options.port) ? options.dataDir : null };
}

export interface ConfiguredRestore {
  major: number;
  control: ControlSettings;
  /** The allow-listed server settings; recovery's are added by writeRecoverySettings. */
  settings: Record<string, string>;
  aside: SourceConfigAside;
  /** Where clients connect: the socket directory of a sandbox, else 127.0.0.1. */
  host: string;
}

export async function configureRestoredServer(options: {
  dataDir: string;
  port: number;
  listen: Listen;
}): Promise<ConfiguredRestore> {
  const { dataDir, port, listen } = options;
  const major = await dataDirectoryMajor(dataDir);
  const aside = await setSourceConfigAside(dataDir);
  const control = await readControlData(dataDir, major);
  return {
    major,
    control,
    settings: serverSettings({ dataDir, major, port, listen, control }),
    aside,
    host: listen.kind === 'socket' ? listen.socketDir : '127.0.0.1',
  };
}

/** The path of a client tool of at least `major`, or its bare name for the operator's PATH when none is installed here. */
const clientTool = (tool: 'psql' | 'pg_dump' | 'pg_restore', major: number) =>
  toolFor(tool, major).then(
    (found) => found.path,
    () => tool,
  );

/**
 * Starts the client tools' lookup while recovery runs: the first lookup in a process asks every
 * installation for its version (a second on a loaded host), which keptServerFacts would otherwise
 * add to the restore after promotion. Lookups are cached, and a failed one answers the bare name.
 */
export function warmClientTools(major: number): void {
  for (const tool of ['psql', 'pg_dump', 'pg_restore'] as const) void clientTool(tool, major);
}

/** What the instructions for a kept directory need (lib/pitr/result-instructions.ts). */
export async function keptServerFacts(
  server: RecoveryServer,
  connectAs: PgTarget,
  running: boolean,
): Promise<RestoredServerFacts> {
  const [psql, pgDump, pgRestore] = await Promise.all(
    (['psql', 'pg_dump', 'pg_restore'] as const).map((tool) => clientTool(tool, server.major)),
  );
  return {
    host: server.host,
    port: server.port,
    dataDirectory: server.dataDir,
    postgresVersion: server.major,
    pgCtl: server.pgCtl,
    osUser: runningAsRoot() ? serverOsUser() : null,
    user: connectAs.user,
    dbname: connectAs.database,
    running,
    clientTools: { psql: psql!, pgDump: pgDump!, pgRestore: pgRestore! },
  };
}
