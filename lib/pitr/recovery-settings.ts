/**
 * The settings a point-in-time recovery runs with. They join the server's allow-listed settings
 * (lib/pitr/server-config.ts) in the one postgresql.conf Hindsight writes; nothing of the source's
 * configuration is read. See "Recovery Target" in the PostgreSQL 15 docs, section 20.5.5.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { PitrTarget } from './target.ts';
import { confQuote, writeServerConfig } from './server-config.ts';
import { writeServerFile } from './server-files.ts';

export { confQuote } from './server-config.ts';

/** A word for /bin/sh, which runs restore_command. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

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
