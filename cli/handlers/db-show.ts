/**
 * `hindsight db show <name>`: one database on one screen — its settings (the connection without a
 * password), the next runs of its schedule in its zone, the newest backups and, with PITR on, the
 * recoverable windows as lib/pitr/window.ts decides them for a restore.
 */
import type { RestoreDrillRecord, RestoreDrillSettings } from '../../lib/catalog/restore-drills.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { WindowView } from '../../lib/pitr/chain-view.ts';
import { recoverableWindows } from '../../lib/pitr/window.ts';
import { describePolicy } from '../../lib/retention/planner.ts';
import { parseRetentionPolicy } from '../../lib/retention/policy.ts';
import { previewCron, type CronRun } from '../../lib/schedule/cron.ts';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { formatBytes, printJson, printTable } from '../output.ts';
import { drillLine } from '../restore-drill-output.ts';
import { sessionAs, type Session } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

/** How many backups the screen lists, newest first. */
const NEWEST_BACKUPS = 10;

export interface DatabaseShow {
  name: string;
  workspace: string;
  connection: { username: string; host: string; port: number; dbname: string; sslmode: string | null };
  /** `retention`: the storage's own policy, applied to the copies on it (null: the database's). */
  storages: Array<{ name: string; type: string; retention: { policy: unknown; summary: string } | null }>;
  /** The next five runs in the schedule's zone; `error` when the saved line cannot be read. */
  schedule: { cron: string; timezone: string; nextRuns: CronRun[]; error: string | null } | null;
  timezone: string;
  retention: { policy: unknown; summary: string } | null;
  verification: { afterBackup: boolean; schedule: string | null };
  /** The restore drill's target (no password) and cron, and its newest drill; null when it has none. */
  restoreDrill: { settings: RestoreDrillSettings | null; last: RestoreDrillRecord | null };
  /** pg_dump jobs per backup: 1 is the single stream, more a parallel directory dump. */
  parallelJobs: number;
  health: { state: 'up' | 'down' | 'unknown'; since: string | null; detail: string | null };
  pitr: {
    enabled: boolean;
    /** Any second inside one of them can be restored (empty when off or nothing is archived yet). */
    windows: WindowView[];
    gaps: string[];
    error: string | null;
    /** The database of the same cluster whose archive this one shares (docs/pitr.md), or null. */
    sharesArchiveOf: string | null;
    /** The server whose archive this is (docs/servers.md), when it is one. */
    archiveServer: string | null;
  };
  /** The server that registered it (hindsight server add --all-databases), and since when that server no longer has it. */
  server: { name: string; droppedAt: string | null } | null;
  backups: {
    total: number;
    newest: Array<{
      id: string;
      startedAt: string;
      finishedAt: string | null;
      status: string;
      sizeBytes: number | null;
      verification: string | null;
    }>;
  };
}

type Db = Awaited<ReturnType<Session['services']['databases']['get']>>;

function scheduleOf(db: Db): DatabaseShow['schedule'] {
  if (!db.schedule) return null;
  // At the database's own second, as Temporal runs them (lib/schedule/spread.ts).
  const preview = previewCron(db.schedule, db.timezone, new Date(), 5, spreadSecond(db.name));
  return {
    cron: db.schedule,
    timezone: db.timezone,
    nextRuns: preview.ok ? preview.runs : [],
    error: preview.ok ? null : preview.error,
  };
}

function retentionOf(raw: unknown): DatabaseShow['retention'] {
  if (raw === null || raw === undefined) return null;
  const policy = parseRetentionPolicy(raw);
  return { policy, summary: describePolicy(policy) };
}

async function pitrOf({ runtime: { catalog } }: Session, name: string): Promise<DatabaseShow['pitr']> {
  const { enabled, archiveDatabase } = await catalog.wal.config(name);
  const archiveServer = enabled ? ((await catalog.servers.serverOfArchive(archiveDatabase ?? name)) ?? null) : null;
  const sharesArchiveOf = archiveDatabase;
  if (!enabled) return { enabled, windows: [], gaps: [], error: null, sharesArchiveOf, archiveServer };
  try {
    const view = await recoverableWindows(catalog, name);
    return {
      enabled,
      windows: view.windows,
      gaps: view.gaps.map((g) => g.text),
      error: null,
      sharesArchiveOf,
      archiveServer,
    };
  } catch (error) {
    return { enabled, windows: [], gaps: [], error: errorMessage(error), sharesArchiveOf, archiveServer };
  }
}

async function backupsOf(session: Session, name: string): Promise<DatabaseShow['backups']> {
  const all = await session.services.backupReads.list(session.actor, name);
  const newest = all.slice(0, NEWEST_BACKUPS);
  const verified = await session.runtime.catalog.verifications.newestFor(newest.map((b) => b.id));
  return {
    total: all.length,
    newest: newest.map((b) => ({
      id: b.id,
      startedAt: b.startedAt.toISOString(),
      finishedAt: b.finishedAt?.toISOString() ?? null,
      status: b.status,
      sizeBytes: b.sizeBytes,
      verification: verified.get(b.id)?.status ?? null,
    })),
  };
}

/** Everything the screen shows, read as the session's actor (the guard decides whether they may). */
export async function loadDatabaseShow(session: Session, name: string): Promise<DatabaseShow> {
  const { services, actor, runtime } = session;
  const db = await services.databases.get(actor, name);
  const [storages, workspace, health, pitr, backups, server, storagePolicies, drill, lastDrill] = await Promise.all([
    services.storages.list(actor),
    runtime.catalog.access.workspaceById(db.workspaceId),
    runtime.catalog.health.history(name, 1),
    pitrOf(session, name),
    backupsOf(session, name),
    services.servers.ofDatabase(actor, name),
    services.retention.storagePolicies(actor, name),
    services.restoreDrills.settings(actor, name),
    services.restoreDrills.last(actor, name),
  ]);
  const policyOn = (n: string) => storagePolicies.find((s) => s.storageName === n)?.retentionPolicy;
  const latest = health[0];
  return {
    name: db.name,
    workspace: workspace?.name ?? String(db.workspaceId),
    connection: { username: db.username, host: db.host, port: db.port, dbname: db.dbname, sslmode: db.sslmode },
    storages: db.storageNames.map((n) => ({
      name: n,
      type: storages.find((s) => s.name === n)?.type ?? 'unknown',
      retention: retentionOf(policyOn(n)),
    })),
    schedule: scheduleOf(db),
    timezone: db.timezone,
    retention: retentionOf(db.retentionPolicy),
    verification: { afterBackup: db.verifyAfterBackup, schedule: db.verifySchedule },
    restoreDrill: { settings: drill, last: lastDrill },
    parallelJobs: db.parallelJobs,
    health: {
      state: latest?.status ?? 'unknown',
      since: latest?.at.toISOString() ?? null,
      detail: latest?.detail ?? null,
    },
    pitr,
    server: server?.server ? { name: server.server, droppedAt: server.droppedAt?.toISOString() ?? null } : null,
    backups,
  };
}

function scheduleLines(show: DatabaseShow): string[] {
  const { schedule } = show;
  if (!schedule) return ['schedule      none: backups run only when started'];
  const lines = [`schedule      ${schedule.cron} (${schedule.timezone})`];
  if (schedule.error) lines.push(`  cannot be read: ${schedule.error}`);
  for (const run of schedule.nextRuns) lines.push(`  next run    ${run.local}  (${run.iso.slice(0, 16)}Z)`);
  return lines;
}

function pitrLines({ pitr }: DatabaseShow): string[] {
  if (!pitr.enabled) return ['pitr          off'];
  const shared = pitr.sharesArchiveOf ? `on, shares the archive of ${pitr.sharesArchiveOf}` : 'on';
  const on = pitr.archiveServer ? `${shared} (server ${pitr.archiveServer}'s archive)` : shared;
  if (pitr.error) return [`pitr          ${on}; the window cannot be read: ${pitr.error}`];
  if (pitr.windows.length === 0)
    return [`pitr          ${on}; nothing recoverable yet (no complete base backup with its WAL)`];
  return [
    `pitr          ${on}; recoverable:`,
    ...pitr.windows.map((w) => `  window      ${w.text}`),
    ...pitr.gaps.map((g) => `  gap         ${g}`),
  ];
}

/** The screen as text: settings first, then the backups as a table. */
export function renderDatabaseShow(show: DatabaseShow): string {
  const c = show.connection;
  const health = `${show.health.state}${show.health.since ? ` since ${show.health.since}` : ''}${show.health.detail ? ` (${show.health.detail})` : ''}`;
  return [
    `database      ${show.name} (workspace ${show.workspace})`,
    `connection    ${c.username}@${c.host}:${c.port}/${c.dbname}${c.sslmode ? ` sslmode=${c.sslmode}` : ''}`,
    `storages      ${show.storages.map((s) => `${s.name} (${s.type}${s.retention ? `; retention: ${s.retention.summary}` : ''})`).join(', ')}`,
    ...scheduleLines(show),
    `retention     ${show.retention ? show.retention.summary : 'none: every backup is kept'}`,
    `verification  ${show.verification.afterBackup ? 'after every backup' : 'not after backups'}${show.verification.schedule ? `; also on "${show.verification.schedule}" (${show.timezone})` : ''}`,
    ...drillLine(show.restoreDrill, show.timezone),
    `dump          ${show.parallelJobs > 1 ? `${show.parallelJobs} parallel jobs (pg_dump -Fd -j ${show.parallelJobs}, one tar object)` : 'one stream (pg_dump -Fc)'}`,
    `health        ${health}`,
    ...pitrLines(show),
    ...(show.server
      ? [
          `server        ${show.server.name}${show.server.droppedAt ? `; dropped from it ${show.server.droppedAt}: no more backups are taken` : ''}`,
        ]
      : []),
    show.backups.total === 0
      ? `backups       none yet: hindsight backup ${show.name}`
      : `backups       ${show.backups.total}${show.backups.total > show.backups.newest.length ? `, the newest ${show.backups.newest.length} below` : ''}:`,
  ]
    .map((line) => `${line}\n`)
    .join('');
}

export async function showDatabase({ args: [name], flags }: Invocation): Promise<void> {
  const show = await sessionAs(flags.as)((session) => loadDatabaseShow(session, name!));
  if (flags.json) return printJson(show);
  process.stdout.write(renderDatabaseShow(show));
  if (show.backups.newest.length > 0)
    printTable(
      show.backups.newest.map((b) => ({
        id: b.id,
        started: b.startedAt,
        status: b.status,
        size: formatBytes(b.sizeBytes),
        verification: b.verification ?? '-',
      })),
    );
}
