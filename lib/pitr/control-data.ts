/**
 * The settings a restored server must match, read from the base backup's pg_control. A standby
 * (and so a server in archive recovery with hot_standby) refuses to start when max_connections,
 * max_worker_processes, max_wal_senders, max_prepared_transactions or max_locks_per_transaction
 * are lower than on the primary (PostgreSQL docs, "Hot Standby", 27.4.3 "Administrator's
 * Overview"). pg_control records the primary's values; the source's configuration files would say
 * the same, but they are hostile content and are never read.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import { serverToolOfMajor } from '../pg/tools.ts';
import { asServerUser, serverEnv } from './os-user.ts';

const run = promisify(execFile);

const count = (min: number) => z.coerce.number().int().min(min).max(10_000_000);

/** What recovery needs from pg_control, under the names of the settings they become. */
export const controlSettingsSchema = z.object({
  wal_level: z.enum(['minimal', 'replica', 'logical']),
  max_connections: count(1),
  max_worker_processes: count(0),
  max_wal_senders: count(0),
  max_prepared_transactions: count(0),
  max_locks_per_transaction: count(10),
});
export type ControlSettings = z.infer<typeof controlSettingsSchema>;

/** pg_controldata's labels (`LC_ALL=C`) for each setting. */
const LABELS: Record<keyof ControlSettings, string> = {
  wal_level: 'wal_level setting',
  max_connections: 'max_connections setting',
  max_worker_processes: 'max_worker_processes setting',
  max_wal_senders: 'max_wal_senders setting',
  max_prepared_transactions: 'max_prepared_xacts setting',
  max_locks_per_transaction: 'max_locks_per_xact setting',
};

/** Parses `pg_controldata` output; a missing or odd value fails naming it. */
export function parseControlData(text: string, source = 'pg_controldata'): ControlSettings {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const raw: Record<string, string | undefined> = {};
  for (const [name, label] of Object.entries(LABELS)) raw[name] = fields.get(label);
  const parsed = controlSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) =>
        `${LABELS[i.path[0] as keyof ControlSettings] ?? i.path.join('.')}: ${raw[String(i.path[0])] ?? 'missing'}`,
    );
    throw new HindsightError(
      'integrity',
      `${source} does not give the settings recovery must match (${problems.join('; ')}): the base backup's global/pg_control is damaged or of an unsupported version`,
    );
  }
  return parsed.data;
}

/**
 * Runs `pg_controldata` of the data directory's own major version over it, as the server's user
 * (the file is hostile input; the parser need not be trusted with root).
 */
export async function readControlData(dataDir: string, major: number): Promise<ControlSettings> {
  // pg_controldata sits beside pg_ctl in every layout Hindsight finds server binaries in.
  const pgCtl = await serverToolOfMajor('pg_ctl', major);
  const binary = path.join(path.dirname(pgCtl.path), 'pg_controldata');
  const [cmd, args] = asServerUser(binary, [dataDir]);
  let stdout: string;
  try {
    ({ stdout } = await run(cmd, args, { cwd: '/', env: serverEnv(), maxBuffer: 1024 * 1024, timeout: 60_000 }));
  } catch (error) {
    const err = error as { stderr?: string; message: string };
    throw new HindsightError(
      'tool_failed',
      `pg_controldata ${major} could not read ${dataDir}: ${(err.stderr || err.message).trim().split('\n').slice(-2).join(' | ')} (install the PostgreSQL ${major} server binaries, or check the base backup)`,
    );
  }
  return parseControlData(stdout, `pg_controldata of ${dataDir}`);
}
