/** One phase of the scale bench: K worker processes, N fresh schedule slots spread over the window. */
import { connect } from '../../lib/pg/connection.ts';
import type { Platform } from '../../test/support/platform.ts';
import { cpuBetween, cpuSnapshot, postmasterPid, rssOf, watchMemory, type CpuGroups } from '../support/proc.ts';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { catalogStats, countQuery, dailyCronAt, dbName, historySample } from './catalog.ts';
import { historyBreakdown, type Breakdown } from './history.ts';
import { forEachLimit, log, MIB, sleep, type Settings } from './settings.ts';
import { startWorkers, type WorkerProcess } from './workers.ts';

export interface BackupSample {
  database: string;
  workflowId: string;
  backupId: string | null;
  worker: string | null;
  status: string;
  scheduledAt: number;
  workflowStartAt: number | null;
  firstActivityAt: number | null;
  dumpStartAt: number | null;
  closedAt: number | null;
}

export interface PhaseContext {
  platform: Platform;
  settings: Settings;
  temporalPid: number | null;
  outPrefix: string;
  live: Set<WorkerProcess>;
  /** Milliseconds one schedule change takes at the harness's concurrency (measured at registration). */
  perUpdateMs: number;
}

const ceilMinute = (ms: number) => Math.ceil(ms / 60_000) * 60_000;
const temporalId = (at: number) => new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Expected = Map<string, { database: string; scheduledAt: number }>;

/**
 * Fresh slots: database i gets the daily minute t0 + floor(i·W/N), all set before the first comes;
 * a phase shorter than the window takes only the databases of its first minutes.
 */
async function scheduleSlots(ctx: PhaseContext, workerCount: number, index: number) {
  const { platform, settings } = ctx;
  const total = settings.databases;
  const minuteOf = (i: number) => Math.floor((i * settings.windowMinutes) / total);
  const members = Array.from({ length: total }, (_, i) => i).filter((i) => minuteOf(i) < settings.phaseMinutes);
  const n = members.length;
  // Room for the schedule changes, then at least ~25 s of idle baseline before the first slot. A
  // change costs more than a registration's share once registration stops waiting on the sweep
  // (72 ms each at 8 in flight measured at 120 databases): never count less than 75 ms.
  const leadMs = 30_000 + 1.5 * n * Math.max(ctx.perUpdateMs, 75);
  const t0 = ceilMinute(Date.now() + leadMs);
  const slotOf = (i: number) => t0 + minuteOf(i) * 60_000;
  // Temporal starts each database's run at its own second of the minute (lib/schedule/spread.ts).
  const dueAt = (i: number) => slotOf(i) + spreadSecond(dbName(i)) * 1000;
  const expected: Expected = new Map();
  for (const i of members)
    expected.set(`backup/${dbName(i)}/scheduled-${temporalId(dueAt(i))}`, {
      database: dbName(i),
      scheduledAt: dueAt(i),
    });
  const perMinute = total / settings.windowMinutes;
  log(
    `phase ${index} (${workerCount} worker${workerCount > 1 ? 's' : ''}): ${n} of ${total} schedules, first slot ${new Date(t0).toISOString().slice(11, 19)}, ` +
      `${perMinute.toFixed(1)} per minute (${Math.round(perMinute * 60)}/h) for ${settings.phaseMinutes} min`,
  );
  const updateStarted = Date.now();
  await forEachLimit(members, settings.registerConcurrency, async (i) => {
    await platform.ops.setSchedule(dbName(i), dailyCronAt(new Date(slotOf(i)), settings.timezone), settings.timezone);
  });
  const updateSeconds = (Date.now() - updateStarted) / 1000;
  const marginSeconds = (t0 - Date.now()) / 1000;
  log(`  schedules set in ${updateSeconds.toFixed(1)} s, ${marginSeconds.toFixed(1)} s before the first slot`);
  if (marginSeconds < 1) log('  WARNING: the schedule changes ran into the window; early slots may not fire');
  return { n, t0, expected, updateSeconds, marginSeconds };
}

/** Waits for the window to pass, then for every expected backup to end (or the drain limit). */
async function waitForBackups(
  platform: Platform,
  settings: Settings,
  workers: WorkerProcess[],
  ids: string[],
  t0: number,
) {
  const deadline = t0 + (settings.phaseMinutes + settings.drainMinutes) * 60_000;
  let ended = 0;
  let lastReport = 0;
  while (Date.now() < deadline) {
    await sleep(3000);
    ended = await countQuery(
      platform,
      `select count(*)::text as n from backups where workflow_id = any($1) and status <> 'running'`,
      [ids],
    );
    if (Date.now() - lastReport > 60_000) {
      lastReport = Date.now();
      log(
        `  ${ended}/${ids.length} backups ended; worker RSS ${workers.map((w) => `${((rssOf(w.pid) ?? 0) / MIB).toFixed(0)}`).join('/')} MiB`,
      );
    }
    if (ended >= ids.length && Date.now() >= t0 + (settings.phaseMinutes - 1) * 60_000) break;
  }
  return { ended, deadline };
}

/** The workflows close a moment after their catalog row ends (settle, verification request). */
async function workflowSamples(platform: Platform, expected: Expected, t0: number, ended: number, deadline: number) {
  const samples = new Map<string, BackupSample>();
  for (let attempt = 0; attempt < 20; attempt++) {
    const query = `WorkflowType = 'backupDatabase' AND StartTime >= '${new Date(t0 - 120_000).toISOString()}'`;
    for await (const wf of platform.env.client.workflow.list({ query })) {
      const exp = expected.get(wf.workflowId);
      if (!exp) continue;
      samples.set(wf.workflowId, {
        database: exp.database,
        workflowId: wf.workflowId,
        backupId: null,
        worker: null,
        status: wf.status.name,
        scheduledAt: exp.scheduledAt,
        workflowStartAt: wf.startTime.getTime(),
        firstActivityAt: null,
        dumpStartAt: null,
        closedAt: wf.closeTime?.getTime() ?? null,
      });
    }
    const open = [...samples.values()].filter((s) => s.closedAt === null).length;
    if (open === 0 && (samples.size >= ended || Date.now() >= deadline)) break;
    await sleep(1000);
  }
  return samples;
}

/** The first activity (recordBackupStarted) writes the catalog row: its started_at is when a worker took it up. */
async function addCatalogRows(
  platform: Platform,
  expected: Expected,
  samples: Map<string, BackupSample>,
  workers: WorkerProcess[],
) {
  const client = await connect('catalog', platform.cluster.target('catalog'));
  try {
    const { rows } = await client.query<{ id: string; workflow_id: string; started_at: Date; status: string }>(
      'select id, workflow_id, started_at, status from backups where workflow_id = any($1)',
      [[...expected.keys()]],
    );
    for (const row of rows) {
      const exp = expected.get(row.workflow_id)!;
      const sample = samples.get(row.workflow_id) ?? {
        database: exp.database,
        workflowId: row.workflow_id,
        backupId: null,
        worker: null,
        status: row.status,
        scheduledAt: exp.scheduledAt,
        workflowStartAt: null,
        firstActivityAt: null,
        dumpStartAt: null,
        closedAt: null,
      };
      sample.backupId = row.id;
      sample.firstActivityAt = row.started_at.getTime();
      for (const w of workers) {
        const at = w.dumpStarts.get(row.id);
        if (at !== undefined) {
          sample.dumpStartAt = at;
          sample.worker = w.label;
        }
      }
      samples.set(row.workflow_id, sample);
    }
  } finally {
    await client.end();
  }
}

/**
 * What the platform burns with no backup due (polling, autovacuum over N databases, health
 * probes): the baseline that the phase's CPU per backup is net of. Returns at the first slot.
 */
async function idleBaseline(groups: CpuGroups, t0: number) {
  await sleep(Math.min(2000, Math.max(0, t0 - Date.now() - 1000)));
  const idleStart = cpuSnapshot();
  await sleep(Math.max(0, t0 - Date.now() - 1000));
  const cpuStart = cpuSnapshot();
  const idle = cpuStart.at - idleStart.at >= 10_000 ? cpuBetween(idleStart, cpuStart, groups) : null;
  return { cpuStart, idle };
}

export async function runPhase(ctx: PhaseContext, workerCount: number, index: number, preStarted?: WorkerProcess[]) {
  const { platform } = ctx;
  const workers = preStarted ?? (await startWorkers(platform, workerCount, `p${index}`, ctx.outPrefix, ctx.live));
  const memory = watchMemory(() => [...workers.map((w) => w.pid), ...(ctx.temporalPid ? [ctx.temporalPid] : [])]);
  const readyRss = workers.map((w) => rssOf(w.pid));
  const temporalRssBefore = ctx.temporalPid ? rssOf(ctx.temporalPid) : null;
  const { n, t0, expected, updateSeconds, marginSeconds } = await scheduleSlots(ctx, workerCount, index);

  const catalogBefore = await catalogStats(platform);
  const groups: CpuGroups = {
    workers: workers.map((w) => w.pid),
    temporal: ctx.temporalPid,
    postmaster: postmasterPid(platform),
  };
  const { cpuStart, idle } = await idleBaseline(groups, t0);
  const { ended, deadline } = await waitForBackups(platform, ctx.settings, workers, [...expected.keys()], t0);
  const samples = await workflowSamples(platform, expected, t0, ended, deadline);
  const cpuEnd = cpuSnapshot();
  memory.stop();
  await addCatalogRows(platform, expected, samples, workers);

  const breakdowns: Breakdown[] = [];
  await forEachLimit(
    [...samples.values()].filter((x) => x.status === 'COMPLETED'),
    8,
    async (x) => {
      const b = await historyBreakdown(platform, x.workflowId);
      if (b) breakdowns.push(b);
    },
  );
  const catalogAfter = await catalogStats(platform);
  const histories = await historySample(
    platform,
    [...samples.values()]
      .filter((s) => s.closedAt !== null)
      .slice(0, 3)
      .map((s) => s.workflowId),
  );
  const workerRss = workers.map((w, i) => ({
    worker: w.label,
    atReadyBytes: readyRss[i] ?? null,
    peakBytes: memory.of(w.pid)?.peak ?? null,
    endBytes: memory.of(w.pid)?.last ?? null,
    slopeMibPerMinute: memory.of(w.pid)?.slopeMibPerMinute ?? null,
    seriesMib: memory.series(w.pid),
  }));
  const temporalRss = ctx.temporalPid ? memory.of(ctx.temporalPid) : null;
  const cpu = cpuBetween(cpuStart, cpuEnd, groups);
  return {
    workers,
    samples: [...samples.values()],
    breakdowns,
    expected: n,
    t0,
    updateSeconds,
    marginSeconds,
    workerRss,
    temporalRss: temporalRss
      ? {
          beforeBytes: temporalRssBefore,
          peakBytes: temporalRss.peak,
          endBytes: temporalRss.last,
          slopeMibPerMinute: temporalRss.slopeMibPerMinute,
        }
      : null,
    cpu,
    idle,
    load: memory.load(),
    catalogBefore,
    catalogAfter,
    histories,
  };
}

export type PhaseRun = Awaited<ReturnType<typeof runPhase>>;
