/** The health monitors of N databases: their first probes in one burst, then their steady rate. */
import type { Platform } from '../../test/support/platform.ts';
import { cpuBetween, cpuSnapshot, rssOf, type CpuGroups } from '../support/proc.ts';
import { countQuery, dbName, historySample } from './catalog.ts';
import { stampMs } from './history.ts';
import { log, sleep, type Settings } from './settings.ts';
import { fmtMib } from './summary.ts';
import type { WorkerProcess } from './workers.ts';

/**
 * The first phase's workers meet N health monitors that have not probed yet: that burst, one first
 * probe per database, is measured on its own before any schedule comes due.
 */
export async function measureFirstProbes(
  platform: Platform,
  settings: Settings,
  firstWorkers: WorkerProcess[],
  healthGroups: CpuGroups,
) {
  const healthStart = cpuSnapshot();
  const rssBeforeHealth = firstWorkers.map((w) => rssOf(w.pid));
  log(
    `workers ready (RSS ${rssBeforeHealth.map(fmtMib).join(', ')}); waiting for the first probe of every health monitor`,
  );
  const healthDeadline = Date.now() + 20 * 60_000;
  let probed = 0;
  while (Date.now() < healthDeadline) {
    probed = await countQuery(platform, 'select count(distinct database_id)::text as n from health_events');
    if (probed >= settings.databases) break;
    await sleep(1000);
  }
  const lastProbe = await countQuery(
    platform,
    `select (extract(epoch from max(at)) * 1000)::bigint::text as n from health_events`,
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
    histories: await historySample(platform, [`health/${dbName(0)}`]),
  };
  log(
    `  ${probed}/${settings.databases} monitors probed in ${health.seconds} s; CPU ms per monitor: worker ${health.cpuMsPerMonitor.workers}, ` +
      `Temporal ${health.cpuMsPerMonitor.temporal}, PostgreSQL ${health.cpuMsPerMonitor.postgres}; worker RSS now ${health.workerRssAfterBytes.map(fmtMib).join(', ')}`,
  );
  return health;
}

/**
 * Health monitors probing at their interval, nothing else running: CPU per probe. The probes are
 * counted in a sample of the monitors' histories (probeHealth activities scheduled in the window).
 */
export async function measureSteadyHealth(platform: Platform, settings: Settings, groups: CpuGroups) {
  const a = cpuSnapshot();
  await sleep(settings.healthSteadyMinutes * 60_000);
  const b = cpuSnapshot();
  const sampleIds = Array.from(
    { length: Math.min(50, settings.databases) },
    (_, k) => `health/${dbName(Math.floor((k * settings.databases) / Math.min(50, settings.databases)))}`,
  );
  let probes = 0;
  let events = 0;
  for (const workflowId of sampleIds) {
    const history = await platform.env.client.workflow
      .getHandle(workflowId)
      .fetchHistory()
      .catch(() => null);
    for (const e of history?.events ?? []) {
      const at = stampMs(e.eventTime);
      if (at < a.at || at > b.at) continue;
      events++;
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'probeHealth') probes++;
    }
  }
  const probesTotal = (probes / sampleIds.length) * settings.databases;
  const cpu = cpuBetween(a, b, groups);
  const perProbe = (v: number) => (probesTotal > 0 ? Math.round(((v * 1000) / probesTotal) * 10) / 10 : null);
  return {
    minutes: settings.healthSteadyMinutes,
    intervalSeconds: settings.healthIntervalSeconds,
    sampledMonitors: sampleIds.length,
    probesPerSecond: Math.round((probesTotal / ((b.at - a.at) / 1000)) * 100) / 100,
    eventsPerProbe: probes > 0 ? Math.round((events / probes) * 10) / 10 : null,
    cpu,
    cpuMsPerProbe: {
      workers: perProbe(cpu.seconds.workers),
      temporal: perProbe(cpu.seconds.temporal),
      postgres: perProbe(cpu.seconds.postgres),
    },
    workerRssBytes: groups.workers.map((pid) => rssOf(pid)),
  };
}

// ---------------------------------------------------------------------------------------------
// One phase: K worker processes, N fresh schedule slots spread over the window
