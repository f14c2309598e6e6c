/**
 * The configuration a restored server starts with, written by Hindsight from an allow-list: the
 * source's own files are hostile and set aside (lib/pitr/source-config.ts). Every setting the file
 * may hold is named in ALLOWED_SETTINGS; nothing includes another file, and postgresql.auto.conf
 * is empty, so no program, library or authentication rule of the source comes along.
 */
import path from 'node:path';
import { HindsightError } from '../errors.ts';
import type { ControlSettings } from './control-data.ts';
import { writeServerFile } from './server-files.ts';

/**
 * A configuration-file string literal: single quotes, embedded ones doubled, backslashes doubled
 * (the configuration parser reads backslash escapes inside quotes).
 */
export const confQuote = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** How clients reach the restored server. */
export type Listen =
  /** A throwaway sandbox: no TCP at all, a unix socket in a private (0700) directory. */
  | { kind: 'socket'; socketDir: string }
  /** A directory the operator keeps: loopback TCP, and a socket inside the data directory when its path fits. */
  | { kind: 'loopback'; socketDir: string | null };

export interface ServerConfigInput {
  dataDir: string;
  major: number;
  port: number;
  listen: Listen;
  control: ControlSettings;
  /** Whether the server runs on Linux (syncfs(2)); this process's platform when absent. */
  linux?: boolean;
}

/** Everything the written postgresql.conf may set: the server's own part, then recovery's. */
export const ALLOWED_SETTINGS = new Set([
  'port',
  'listen_addresses',
  'unix_socket_directories',
  'unix_socket_permissions',
  'hba_file',
  'ident_file',
  'archive_mode',
  'ssl',
  'logging_collector',
  'lc_messages',
  'event_triggers',
  'wal_level',
  'max_connections',
  'superuser_reserved_connections',
  'max_worker_processes',
  'max_wal_senders',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'recovery_init_sync_method',
  'restore_command',
  'recovery_target_timeline',
  'recovery_target_action',
  'recovery_target_inclusive',
  'hot_standby',
  'primary_conninfo',
  'primary_slot_name',
  'recovery_target',
  'recovery_target_time',
  'recovery_target_lsn',
  'recovery_target_xid',
  'recovery_target_name',
]);

/** A number, a bare word (on, off, replica), or one single-quoted literal on one line (confQuote's). */
const SAFE_VALUE = /^(\d+|[a-z]+|'(?:[^'\n\r\\]|''|\\\\)*')$/;

/** The server's part of the allow-list: where it listens and the values recovery must match. */
export function serverSettings(input: ServerConfigInput): Record<string, string> {
  const { control, listen } = input;
  const socketDir = listen.socketDir;
  const settings: Record<string, string> = {
    port: String(input.port),
    listen_addresses: confQuote(listen.kind === 'socket' ? '' : '127.0.0.1'),
    unix_socket_directories: confQuote(socketDir ?? ''),
    unix_socket_permissions: '0700',
    hba_file: confQuote(path.join(input.dataDir, 'pg_hba.conf')),
    ident_file: confQuote(path.join(input.dataDir, 'pg_ident.conf')),
    // A restored copy must never push WAL into the source's archive (docs/design.md, failure mode 7).
    archive_mode: 'off',
    ssl: 'off',
    // The log goes to pg_ctl's -l file, in English: recovery's end is read from it (lib/pitr/recover.ts).
    logging_collector: 'off',
    lc_messages: confQuote('C'),
    // Recovery refuses values below the source's (control-data.ts); wal_level must allow hot standby.
    wal_level: control.wal_level === 'logical' ? 'logical' : 'replica',
    max_connections: String(control.max_connections),
    // The default (3) must stay below max_connections, which a small source may set to 3 or less.
    superuser_reserved_connections: String(Math.min(3, control.max_connections - 1)),
    max_worker_processes: String(control.max_worker_processes),
    max_wal_senders: String(control.max_wal_senders),
    max_prepared_transactions: String(control.max_prepared_transactions),
    max_locks_per_transaction: String(control.max_locks_per_transaction),
  };
  // PostgreSQL 17's login event triggers would run the source's code as Hindsight connects.
  if (input.major >= 17) settings.event_triggers = 'off';
  // Before recovery the server makes its whole data directory durable (tar wrote it without
  // fsync): one syncfs(2) of the file system instead of an fsync per file, which on a cluster of
  // ~1,000 files was most of its start-up (docs/performance.md). Linux 5.8+ reports write errors
  // through syncfs as fsync does; PostgreSQL 14 brought the setting.
  if (input.major >= 14 && (input.linux ?? process.platform === 'linux')) settings.recovery_init_sync_method = 'syncfs';
  return settings;
}

/** postgresql.conf's text; a setting outside the allow-list or an odd value is a bug, never written. */
export function renderServerConfig(settings: Record<string, string>): string {
  const lines = [
    "# Written by Hindsight for a point-in-time restore, from an allow-list: the source server's",
    '# configuration is kept, unread, in hindsight-source-config/ (see the README there).',
  ];
  for (const [name, value] of Object.entries(settings)) {
    if (!ALLOWED_SETTINGS.has(name))
      throw new HindsightError(
        'bad_input',
        `setting ${name} is not on the restored server's allow-list (lib/pitr/server-config.ts)`,
      );
    if (!SAFE_VALUE.test(value))
      throw new HindsightError(
        'bad_input',
        `setting ${name} has a value that cannot be written safely: ${JSON.stringify(value)}`,
      );
    lines.push(`${name} = ${value}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Local connections only, each with a password; no `trust`, so a role without a password cannot
 * log in. md5 rather than scram-sha-256: with `md5` here PostgreSQL still runs SCRAM for a role
 * whose password is stored as SCRAM, and also lets in a role whose password the source stored as
 * md5 (password_encryption = md5, or a cluster upgraded from before 14). scram-sha-256 would lock
 * such a role out, the registered role Hindsight follows recovery as included (PostgreSQL docs,
 * 21.5 "Password Authentication").
 */
export const RESTORED_HBA = [
  '# Written by Hindsight for a restored server: local connections only, each with a password.',
  '# md5 also runs SCRAM for SCRAM-stored passwords; see lib/pitr/server-config.ts for why not scram-sha-256.',
  '# TYPE  DATABASE  USER  ADDRESS       METHOD',
  'local   all       all                 md5',
  'host    all       all   127.0.0.1/32  md5',
  'host    all       all   ::1/128       md5',
  '# A kept copy may become the database (a failover): its WAL is then streamed from here.',
  'local   replication  all               md5',
  'host    replication  all  127.0.0.1/32  md5',
  'host    replication  all  ::1/128       md5',
  '',
].join('\n');

/** Writes postgresql.conf, an empty postgresql.auto.conf, pg_hba.conf and an empty pg_ident.conf. */
export async function writeServerConfig(dataDir: string, settings: Record<string, string>): Promise<void> {
  const text = renderServerConfig(settings);
  await writeServerFile(path.join(dataDir, 'postgresql.conf'), text);
  await writeServerFile(path.join(dataDir, 'postgresql.auto.conf'), '');
  await writeServerFile(path.join(dataDir, 'pg_hba.conf'), RESTORED_HBA);
  await writeServerFile(path.join(dataDir, 'pg_ident.conf'), '# Written by Hindsight: no user name maps.\n');
}
