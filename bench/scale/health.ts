/** The health sweep over N databases: their first checks in one burst, then the steady rate. */
import type { Platform } from '../../test/support/platform.ts';
import { cpuBetween, cpuSnapshot, rssOf, type CpuGroups } from '../support/proc.ts';
import { healthSweepWorkflow } from '../../temporal/contracts/health.ts';
import { countQuery, historySample } from './catalog.ts';
import { log, sleep, type Settings } from './settings.ts';
import { fmtMib } from './summary.ts';
import type { WorkerProcess } from './workers.ts';

/**
 * The first phase's workers meet N databases never checked: that burst, one first check per
 * database by the health sweep, is measured on its own before any backup schedule comes due.
 */
export async function measureFirstProbes(
  platform: Platform,
  settings: Settings,
  firstWorkers: WorkerProcess[],
  healthGroups: CpuGroups,
) {
  const healthStart = cpuSnapshot();
  const rssBeforeHealth = firstWorkers.map((w) => rssOf(w.pid));
  log(`workers ready (RSS ${rssBeforeHealth.map(fmtMib).join(', ')}); waiting for the first check of every database`);
  const healthDeadline = Date.now() + 20 * 60_000;
  let probed = 0;
  while (Date.now() < healthDeadline) {
    probed = await countQuery(
      platform,
      'select count(*)::text as n from database_health where last_probe_at is not null',
    );
    if (probed >= settings.databases) break;
    await sleep(1000);
  }
  const lastProbe = await countQuery(
    platform,
    `select (extract(epoch from max(last_probe_at)) * 1000)::bigint::text as n from database_health`,
  );
  await sleep(3000);
  const healthEnd = cpuSnapshot();
  const healthCpu = cpuBetween(healthStart, healthEnd, healthGroups);
  const health = {
    monitors: settings.databases,
    probed,
    seconds: Math.round((lastProbe - healthStart.at) / 100) / 10,
    cpu: healthCpu,
    cpuMsPerMonitor: {
      workers: Math.round(((healthCpu.seconds.workers * 1000) / settings.databases) * 10) / 10,
      temporal: Math.round(((healthCpu.seconds.temporal * 1000) / settings.databases) * 10) / 10,
      postgres: Math.round(((healthCpu.seconds.postgres * 1000) / settings.databases) * 10) / 10,
    },
    workerRssBeforeBytes: rssBeforeHealth,
    workerRssAfterBytes: firstWorkers.map((w) => rssOf(w.pid)),
    histories: await historySample(
      platform,
      (await sweepRuns(platform, healthStart.at)).map((r) => r.workflowId),
    ),
  };
  log(
    `  ${probed}/${settings.databases} databases checked in ${health.seconds} s; CPU ms per database: worker ${health.cpuMsPerMonitor.workers}, ` +
      `Temporal ${health.cpuMsPerMonitor.temporal}, PostgreSQL ${health.cpuMsPerMonitor.postgres}; worker RSS now ${health.workerRssAfterBytes.map(fmtMib).join(', ')}`,
  );
  return health;
}

/** The sweep runs started since `sinceMs`: the schedule's and any triggered by a registration. */
async function sweepRuns(platform: Platform, sinceMs: number) {
  const runs: Array<{ workflowId: string; runId: string }> = [];
  const query = `WorkflowType = '${healthSweepWorkflow.type}' AND StartTime >= '${new Date(sinceMs).toISOString()}'`;
  for await (const run of platform.client.workflow.list({ query }))
    runs.push({ workflowId: run.workflowId, runId: run.runId });
  return runs;
}

/**
 * The sweep checking every database at its interval, nothing else running: CPU per check. The
 * checks are counted from the outcomes of the sweep runs in the window, their history events
 * from the same runs.
 */
export async function measureSteadyHealth(platform: Platform, settings: Settings, groups: CpuGroups) {
  const a = cpuSnapshot();
  await sleep(settings.healthSteadyMinutes * 60_000);
  const b = cpuSnapshot();
  let probes = 0;
  let events = 0;
  const runs = await sweepRuns(platform, a.at);
  for (const run of runs) {
    const handle = platform.client.workflow.getHandle(run.workflowId, run.runId);
    const outcome = (await handle.result().catch(() => null)) as { probed: number } | null;
    probes += outcome?.probed ?? 0;
    events += (await handle.describe()).historyLength;
  }
  const cpu = cpuBetween(a, b, groups);
  const perProbe = (v: number) => (probes > 0 ? Math.round(((v * 1000) / probes) * 10) / 10 : null);
  return {
    minutes: settings.healthSteadyMinutes,
    intervalSeconds: settings.healthIntervalSeconds,
    sweepRuns: runs.length,
    probesPerSecond: Math.round((probes / ((b.at - a.at) / 1000)) * 100) / 100,
    eventsPerProbe: probes > 0 ? Math.round((events / probes) * 100) / 100 : null,
    cpu,
    cpuMsPerProbe: {
      workers: perProbe(cpu.seconds.workers),
      temporal: perProbe(cpu.seconds.temporal),
      postgres: perProbe(cpu.seconds.postgres),
    },
    workerRssBytes: groups.workers.map((pid) => rssOf(pid)),
  };
}
