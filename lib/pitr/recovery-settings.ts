/**
 * The settings a point-in-time recovery runs with. They join the server's allow-listed settings
 * (lib/pitr/server-config.ts) in the one postgresql.conf Hindsight writes; nothing of the source's
 * configuration is read. See "Recovery Target" in the PostgreSQL 15 docs, section 20.5.5.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PitrTarget } from './target.ts';
import { confQuote, writeServerConfig } from './server-config.ts';
import { writeServerFile } from './server-files.ts';

export { confQuote } from './server-config.ts';

/** A word for /bin/sh, which runs restore_command. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** The Node entry that serves as restore_command where the host has no curl. */
export const WAL_FETCH_SCRIPT = fileURLToPath(new URL('../../bin/hindsight-wal-fetch.mjs', import.meta.url));

const CURL_PATHS = ['/usr/bin/curl', '/usr/local/bin/curl', '/bin/curl'];

/**
 * The restore_command that asks a WAL fetch server (wal-fetch-server.ts) at `socketPath`. PostgreSQL
 * runs it through /bin/sh once per file, so it is curl (a few milliseconds to start; `-q` so that no
 * .curlrc of the server's user counts) rather than a Node process (tens of milliseconds). curl
 * writes the body to %p; `%%` is PostgreSQL's escape for a literal `%`. Exit codes as
 * bin/hindsight-wal-fetch.mjs: 0 fetched, 1 not archived (HTTP 404: recovery ends there), 250 any
 * other failure, with the server's reason on stderr (PostgreSQL's log). Where the host has no curl,
 * the Node script does the same.
 */
export function restoreCommandFor(socketPath: string, curl = CURL_PATHS.find((file) => existsSync(file))): string {
  if (!curl) return `${[process.execPath, WAL_FETCH_SCRIPT, '--socket', socketPath].map(shellQuote).join(' ')} %f %p`;
  const request = [curl, '-q', '-sS', '--noproxy', '*', '--unix-socket', socketPath, '-o'].map(shellQuote).join(' ');
  return [
    `c=$(${request} %p -w '%%{http_code}' http://hindsight/wal/%f)`,
    's=$?',
    '[ "$s" = 0 ] && [ "$c" = 200 ] && exit 0',
    '[ "$s" = 0 ] && [ "$c" = 404 ] && { rm -f %p; exit 1; }',
    'echo "hindsight wal-fetch: $(head -c 2000 %p 2>/dev/null) (curl exit $s, HTTP $c)" >&2',
    'rm -f %p',
    'exit 250',
  ].join('; ');
}

export interface RecoverySettingsInput {
  target: PitrTarget | { lsnReached: string };
  timeline: number;
  restoreCommand: string;
}

/**
 * PostgreSQL checks recovery_target_time when it reads its configuration, before time-zone
 * abbreviations are loaded, so "Z" is refused there: UTC is written as a numeric offset instead.
 */
export const pgRecoveryTime = (rfc3339: string): string => rfc3339.replace(/[zZ]$/, '+00:00');

export function recoverySettings(input: RecoverySettingsInput): Record<string, string> {
  const settings: Record<string, string> = {
    restore_command: confQuote(input.restoreCommand),
    recovery_target_timeline: confQuote(String(input.timeline)),
    recovery_target_action: confQuote('promote'),
    recovery_target_inclusive: 'on',
    hot_standby: 'on',
    // Written explicitly so that the copy never streams from a live primary, whatever it came from.
    primary_conninfo: "''",
    primary_slot_name: "''",
  };
  const t = input.target;
  if (t === 'immediate') settings.recovery_target = confQuote('immediate');
  else if (t === 'latest') {
    /* replay every archived byte, then promote */
  } else if ('lsnReached' in t) settings.recovery_target_lsn = confQuote(t.lsnReached);
  else if ('time' in t) settings.recovery_target_time = confQuote(pgRecoveryTime(t.time));
  else if ('lsn' in t) settings.recovery_target_lsn = confQuote(t.lsn);
  else if ('xid' in t) settings.recovery_target_xid = confQuote(t.xid);
  else settings.recovery_target_name = confQuote(t.name);
  return settings;
}

/**
 * Writes the whole configuration (server settings, then recovery's) and recovery.signal. A second
 * call replaces the first: the file is Hindsight's own from start to end.
 */
export async function writeRecoverySettings(
  dataDir: string,
  server: Record<string, string>,
  recovery: Record<string, string>,
): Promise<void> {
  await writeServerConfig(dataDir, { ...server, ...recovery });
  // standby.signal (in base backups taken from a standby) would win over recovery.signal: the copy
  // would stay a standby forever instead of promoting at its target.
  await rm(path.join(dataDir, 'standby.signal'), { recursive: true, force: true });
  await writeServerFile(path.join(dataDir, 'recovery.signal'), '');
}
