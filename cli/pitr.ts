import type { WalStatus } from '../services/pitr/input.ts';
import { formatBytes, printJson, UsageError } from './output.ts';
import type { WithSession } from './session.ts';

export interface PitrFlags {
  json: boolean;
  wait: boolean;
  'slot-max-mb'?: string | undefined;
  'base-schedule'?: string | undefined;
  agent?: string | undefined;
  standby?: string | undefined;
  'base-full-every'?: string | undefined;
  'slot-over-limit'?: string | undefined;
  synchronous?: boolean;
  asynchronous?: boolean;
}

/** Runs work with the PITR operations of the CLI's actor (the local operator, or HINDSIGHT_AS). */
export type WithPitr = WithSession;

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a whole number of at least 1, not "${value}"`);
  return Number(value);
}

/** `--standby none` goes back to the primary; the URL itself is never echoed (it holds a password). */
function standbyUrl(value: string): string | null {
  if (value === 'none') return null;
  if (!/^postgres(ql)?:\/\//.test(value))
    throw new UsageError(
      '--standby must be the postgres:// URL of a streaming standby of the database\'s server, or "none" to take base backups from the primary',
    );
  return value;
}

function describeStatus(s: WalStatus): string {
  const lines = [
    `database "${s.database}": PITR ${s.enabled ? 'on' : 'off'}${s.sharesArchiveOf ? `, shares the archive of ${s.sharesArchiveOf}` : ''}${s.slot ? `, slot ${s.slot}` : ''}${s.systemIdentifier ? `, system ${s.systemIdentifier}` : ''}`,
  ];
  lines.push(
    s.durableLsn
      ? `  newest WAL in storage: ${s.durableLsn} on timeline ${s.timeline}, ${s.durableAgeSeconds!.toFixed(1)} s old (${s.durableAt})`
      : '  no WAL in storage yet',
  );
  lines.push(`  segments: ${s.segments.complete} complete, ${s.segments.partial} partial`);
  if (s.serverFlushLsn) lines.push(`  server: flushed by the receiver ${s.serverFlushLsn}`);
  lines.push(
    `  slot retains ${s.slotRetainedBytes === null ? 'unknown' : formatBytes(s.slotRetainedBytes)}${s.slotMaxBytes ? ` (${s.slotOverLimit === 'drop' ? 'dropped' : 'alert'} above ${formatBytes(s.slotMaxBytes)})` : ''}`,
  );
  lines.push(
    s.synchronous
      ? '  synchronous: commits wait until their WAL is in storage (standby name ' + (s.slot ?? '') + ')'
      : '  asynchronous: pg_receivewal',
  );
  if (s.archiver)
    lines.push(
      `  archiver: ${s.archiver.state}${s.archiver.receiver?.lastError ? ` — last error: ${s.archiver.receiver.lastError}` : ''}`,
    );
  else lines.push(`  archiver: not running${s.archiverError ? ` (${s.archiverError.split('\n')[0]})` : ''}`);
  if (s.lastBaseBackup) {
    const b = s.lastBaseBackup;
    const kind =
      b.kind === 'incremental' ? `incremental over ${b.parentId}` : `full${b.kindReason ? ` (${b.kindReason})` : ''}`;
    lines.push(
      `  last base backup: ${b.id} ${b.status}${b.stopTime ? ` at ${b.stopTime}` : ''}${b.startLsn ? ` (${b.startLsn} – ${b.stopLsn})` : ''}, ${kind}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function slotOverLimit(value: string): 'alert' | 'drop' {
  if (value !== 'alert' && value !== 'drop')
    throw new UsageError(`--slot-over-limit must be alert or drop, not "${value}"`);
  return value;
}

function synchronousMode(flags: PitrFlags): { synchronous?: boolean } {
  if (flags.synchronous && flags.asynchronous)
    throw new UsageError('--synchronous and --asynchronous exclude each other: give one');
  if (flags.synchronous) return { synchronous: true };
  return flags.asynchronous ? { synchronous: false } : {};
}

/** The settings `db pitr <db> on` and `server pitr <server> on` change: only the flags given. */
export function pitrSettings(flags: PitrFlags) {
  return {
    ...(flags['slot-over-limit'] !== undefined ? { slotOverLimit: slotOverLimit(flags['slot-over-limit']) } : {}),
    ...synchronousMode(flags),
    ...(flags['slot-max-mb'] !== undefined ? { slotMaxMb: positiveInt(flags['slot-max-mb'], '--slot-max-mb') } : {}),
    ...(flags['base-schedule'] !== undefined
      ? { baseSchedule: flags['base-schedule'] === 'off' ? null : flags['base-schedule'] }
      : {}),
    ...(flags.agent !== undefined ? { agent: flags.agent === 'none' ? null : flags.agent } : {}),
    ...(flags.standby !== undefined ? { baseBackupUrl: standbyUrl(flags.standby) } : {}),
    ...(flags['base-full-every'] !== undefined
      ? { baseFullEvery: positiveInt(flags['base-full-every'], '--base-full-every') }
      : {}),
  };
}

async function pitrOn(database: string, flags: PitrFlags, withPitr: WithPitr): Promise<void> {
  const settings = pitrSettings(flags);
  const result = await withPitr((s) => s.services.pitr.enable(s.actor, database, settings));
  if (flags.json)
    return printJson({
      ...result,
      baseBackup: result.baseBackup
        ? { baseBackupId: result.baseBackup.baseBackupId, workflowId: result.baseBackup.workflowId }
        : null,
    });
  if (result.sharesServerArchive)
    return void process.stdout.write(
      `PITR on for "${database}": it shares the archive of server "${result.sharesServerArchive}" (kept by "${result.sharesArchiveOf}"; WAL streams in ${result.archiverWorkflowId}); settings and base backups: hindsight server pitr ${result.sharesServerArchive} on …\n`,
    );
  if (result.sharesArchiveOf)
    return void process.stdout.write(
      `PITR on for "${database}": shares the archive of "${result.sharesArchiveOf}" (same PostgreSQL cluster; WAL streams in ${result.archiverWorkflowId})\n`,
    );
  process.stdout.write(
    `PITR on for "${database}": WAL streams in ${result.archiverWorkflowId}${result.chainMonitorWorkflowId ? `, chain watched by ${result.chainMonitorWorkflowId}` : ''}\n`,
  );
  if (result.baseBackup)
    process.stdout.write(
      `first base backup ${result.baseBackup.baseBackupId} started (${result.baseBackup.workflowId})\n`,
    );
}

async function pitrOff(database: string, flags: PitrFlags, withPitr: WithPitr): Promise<void> {
  const result = await withPitr((s) => s.services.pitr.disable(s.actor, database));
  if (flags.json) printJson(result);
  else
    process.stdout.write(
      result.leftArchiveOf
        ? `PITR off for "${database}": left the archive of "${result.leftArchiveOf}", which keeps streaming\n`
        : `PITR off for "${database}": streaming stopped${result.slotDropped ? ', replication slot dropped' : ''}; archived WAL and base backups stay in storage\n`,
    );
}

/** `db pitr <db> on|off` */
async function dbPitr(args: string[], flags: PitrFlags, withPitr: WithPitr): Promise<void> {
  const [database, mode] = args;
  if (!database || (mode !== 'on' && mode !== 'off'))
    throw new UsageError(`db pitr takes <db> on or <db> off, not "${mode ?? ''}"`);
  return mode === 'on' ? pitrOn(database, flags, withPitr) : pitrOff(database, flags, withPitr);
}

/** `base-backup <db> [--wait]`: the id at once, or the finished backup's summary. */
async function baseBackup(args: string[], flags: PitrFlags, withPitr: WithPitr): Promise<void> {
  const { json } = flags;
  const [database] = args;
  if (!database) throw new UsageError('database name is required');
  await withPitr(async (s) => {
    const started = await s.services.pitr.startBaseBackup(s.actor, database);
    if (!flags.wait) {
      if (json) printJson({ baseBackupId: started.baseBackupId, workflowId: started.workflowId });
      else process.stdout.write(`${started.baseBackupId}\n`);
      return;
    }
    const result = await started.result();
    if (json) printJson(result);
    else
      process.stdout.write(
        `base backup ${result.baseBackupId}: ${result.stage}${result.kind === 'incremental' ? `, incremental over ${result.parentId}` : result.kind === 'full' ? ', full' : ''}, WAL ${result.startLsn} – ${result.stopLsn} on timeline ${result.timeline}, ${formatBytes(result.rawBytes)} stored as ${formatBytes(result.storedBytes)}\n`,
      );
  });
}

async function walStatus(args: string[], flags: PitrFlags, withPitr: WithPitr): Promise<void> {
  const [database] = args;
  if (!database) throw new UsageError('database name is required');
  const status = await withPitr((s) => s.services.pitr.walStatus(s.actor, database));
  if (flags.json) printJson(status);
  else process.stdout.write(describeStatus(status));
}

const pitrCommands: Record<string, (args: string[], flags: PitrFlags, withPitr: WithPitr) => Promise<void>> = {
  'db pitr': dbPitr,
  'base-backup': baseBackup,
  'wal-status': walStatus,
};

/** `db pitr`, `base-backup` and `wal-status`. */
export async function runPitrCommand(
  command: string,
  args: string[],
  flags: PitrFlags,
  withPitr: WithPitr,
): Promise<void> {
  const handler = Object.hasOwn(pitrCommands, command) ? pitrCommands[command] : undefined;
  if (!handler) throw new UsageError(`unknown command ${command}`);
  return handler(args, flags, withPitr);
}
