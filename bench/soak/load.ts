/**
 * What runs beside the scheduled backups during a soak: the S3 storage flapping (down, then back),
 * restores of the newest backups into scratch databases, the console's API read as a dashboard
 * would, and a sample of each process's memory and file descriptors.
 */
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '../../lib/pg/connection.ts';
import { errorMessage } from '../../lib/errors.ts';
import { rssOf } from '../support/proc.ts';
import { OWNER, type SoakWorld } from './world.ts';

export interface Sample {
  at: number;
  workerRss: number;
  /** The main thread's V8 heap in use after the heap probe's last forced collection. */
  workerHeapUsed: number;
  /** The worker threads' heaps in use (the SDK's workflow thread, the data plane), not collected first. */
  workerThreadsHeapUsed: number;
  /** The main thread's memory outside its V8 heap (Buffers, native objects V8 knows of), after the probe's collection. */
  workerExternal: number;
  /** The part of `workerExternal` held by ArrayBuffers (Node's Buffers), after the probe's collection. */
  workerArrayBuffers: number;
  /** Physical memory committed by all the worker's V8 heaps: the rest of its RSS is native. */
  workerHeapsPhysical: number;
  /** Workflow executions in the worker's sticky cache. */
  workerCachedWorkflows: number;
  webRss: number;
  workerFds: number;
  webFds: number;
  catalogBytes: number;
}

export interface LoadCounts {
  flaps: number;
  restores: number;
  restoresFailed: number;
  restoreErrors: string[];
  apiCalls: number;
  apiErrors: number;
}

const fdsOf = (pid: number | undefined): number => {
  try {
    return pid === undefined ? 0 : readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
};

/** The storage goes down for `downMs` every `everyMs`, as a flapping link or an S3 outage would. */
export async function flap(world: SoakWorld, until: number, counts: LoadCounts, everyMs: number, downMs: number) {
  while (Date.now() + everyMs < until) {
    await sleep(everyMs - downMs);
    world.proxy.set({ kind: 'down' });
    counts.flaps += 1;
    await sleep(downMs);
    world.proxy.set({ kind: 'pass' });
  }
}

/** Restores the newest complete backup of each database in turn into a scratch database, then drops it. */
export async function restoreLoop(world: SoakWorld, until: number, counts: LoadCounts, everyMs: number) {
  const names = [...world.sources.keys()];
  for (let i = 0; Date.now() + everyMs < until; i++) {
    await sleep(everyMs);
    const database = names[i % names.length]!;
    const newest = (await world.platform.ops.listBackups(database)).find((b) => b.status === 'complete');
    if (!newest) continue;
    const scratch = `scratch_${i}`;
    try {
      await (
        await world.platform.ops.startRestore({ database, backupId: newest.id, to: { database: scratch } })
      ).result();
      counts.restores += 1;
    } catch (error) {
      counts.restoresFailed += 1;
      counts.restoreErrors.push(`${database} ${newest.id}: ${errorMessage(error)}`);
    } finally {
      const admin = await connect('soak', world.platform.cluster.target('postgres'));
      await admin.query(`drop database if exists ${scratch} with (force)`).finally(() => admin.end());
    }
  }
}

/** Reads the console's API every `everyMs` as a signed-in dashboard would. */
export async function pollConsole(world: SoakWorld, until: number, counts: LoadCounts, everyMs: number) {
  const login = await fetch(`${world.web.url}/api/v1/session`, {
    method: 'POST',
    body: JSON.stringify(OWNER),
    headers: { 'content-type': 'application/json' },
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  while (Date.now() + everyMs < until) {
    await sleep(everyMs);
    for (const route of ['/api/v1/overview', '/api/v1/databases', '/api/v1/backups']) {
      counts.apiCalls += 1;
      const answer = await fetch(`${world.web.url}${route}`, { headers: { cookie } }).catch(() => undefined);
      if (!answer?.ok) counts.apiErrors += 1;
      await answer?.arrayBuffer();
    }
  }
}

/** The sum of a metric over its label sets in Prometheus's text format, or 0 when it is absent. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !/[ {]/.test(line[name.length] ?? '')) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

type Probed = Pick<
  Sample,
  'workerHeapUsed' | 'workerThreadsHeapUsed' | 'workerExternal' | 'workerArrayBuffers' | 'workerHeapsPhysical'
>;

/** What the heap probe (heap-probe.ts) last logged, or zeros before its first line. */
function probedHeaps(world: SoakWorld): Probed {
  for (let i = world.workerLog.length - 1; i >= 0; i--) {
    const record = world.workerLog[i]!;
    if (record.msg === 'heap after gc')
      return {
        workerHeapUsed: record.heapUsed ?? 0,
        workerThreadsHeapUsed: record.threadsHeapUsed ?? 0,
        workerExternal: record.external ?? 0,
        workerArrayBuffers: record.arrayBuffers ?? 0,
        workerHeapsPhysical: record.heapsPhysical ?? 0,
      };
  }
  return {
    workerHeapUsed: 0,
    workerThreadsHeapUsed: 0,
    workerExternal: 0,
    workerArrayBuffers: 0,
    workerHeapsPhysical: 0,
  };
}

async function workerMetrics(world: SoakWorld) {
  const text = await fetch(world.workerMetricsUrl)
    .then((r) => r.text())
    .catch(() => '');
  return {
    workerCachedWorkflows: metricSum(text, 'hindsight_worker_cached_workflows'),
  };
}

export async function sampleLoop(world: SoakWorld, until: number, samples: Sample[], everyMs: number) {
  const catalog = world.platform.runtime.catalog.pool;
  while (Date.now() < until) {
    const { rows } = await catalog.query<{ bytes: string }>('select pg_database_size(current_database()) as bytes');
    const worker = world.worker.child.pid;
    const web = world.web.child.pid;
    const metrics = await workerMetrics(world);
    samples.push({
      at: Date.now(),
      workerRss: (worker && rssOf(worker)) || 0,
      ...probedHeaps(world),
      ...metrics,
      webRss: (web && rssOf(web)) || 0,
      workerFds: fdsOf(worker),
      webFds: fdsOf(web),
      catalogBytes: Number(rows[0]!.bytes),
    });
    await sleep(everyMs);
  }
}
