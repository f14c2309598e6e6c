/**
 * The worker's own /metrics (HINDSIGHT_WORKER_METRICS_PORT; off by default): prom-client's process
 * metrics plus what this worker's activities did, counted by an activity interceptor so that every
 * activity on every task queue of the process is seen the same way. An activity interceptor was
 * chosen over the SDK core's Prometheus exporter (Runtime telemetryOptions.metrics.prometheus):
 * one port and one registry for process and activity metrics, and names we control.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActivityInterceptorsFactory, Worker } from '@temporalio/worker';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HindsightError } from '../lib/errors.ts';
import { bearerMatches } from '../lib/net/bearer.ts';
import { isLoopbackHost } from '../lib/net/loopback.ts';

export interface WorkerMetrics {
  registry: Registry;
  /** Pass in WorkerOptions.interceptors.activity. */
  activityInterceptor: ActivityInterceptorsFactory;
  /** Reports the workflow cache of these workers, read at each scrape. */
  watchWorkers(workers: ReadonlyArray<Pick<Worker, 'getStatus' | 'options'>>): void;
}

const isCancellation = (error: unknown): boolean => (error as { name?: string } | null)?.name === 'CancelledFailure';

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['activity', 'task_queue'] as const;
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers: [registry] });
  const started = counter('hindsight_activities_started_total', 'Activity executions this worker started.');
  const failed = counter(
    'hindsight_activities_failed_total',
    'Activity executions that ended in an error (cancellations not included).',
  );
  const cancelled = counter('hindsight_activities_cancelled_total', 'Activity executions that ended cancelled.');
  const duration = new Histogram({
    name: 'hindsight_activity_duration_seconds',
    help: 'Time an activity execution took on this worker, whatever its outcome.',
    labelNames,
    // Activities range from catalog reads (milliseconds) to dumps and restores (hours).
    buckets: [0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 14400],
    registers: [registry],
  });

  const activityInterceptor: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      async execute(input, next) {
        // Activity types are the names activities/index.ts registers: a fixed, small set.
        const labels = { activity: ctx.info.activityType, task_queue: ctx.info.taskQueue };
        started.inc(labels);
        const end = duration.startTimer(labels);
        try {
          return await next(input);
        } catch (error) {
          (isCancellation(error) ? cancelled : failed).inc(labels);
          throw error;
        } finally {
          end();
        }
      },
    },
  });
  let watched: ReadonlyArray<Pick<Worker, 'getStatus' | 'options'>> = [];
  // The sticky cache holds each open workflow's state in memory: its size is what the worker's heap follows.
  new Gauge({
    name: 'hindsight_worker_cached_workflows',
    help: 'Workflow executions held in the worker sticky cache (at most HINDSIGHT_WORKER_MAX_CACHED_WORKFLOWS).',
    labelNames: ['task_queue'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of watched) this.set({ task_queue: w.options.taskQueue }, w.getStatus().numCachedWorkflows);
    },
  });
  return {
    registry,
    activityInterceptor,
    watchWorkers: (workers) => {
      watched = workers;
    },
  };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics of a registry; with a token, only to `Authorization: Bearer <token>`. */
export async function startMetricsServer(
  registry: Registry,
  options: { host: string; port: number; token?: string | undefined },
): Promise<MetricsServer> {
  // Metrics name databases and their outcomes: beyond this machine they are for a token holder only.
  if (options.token === undefined && !isLoopbackHost(options.host))
    throw new HindsightError(
      'bad_input',
      `the worker's /metrics would listen on ${options.host}:${options.port} without a token: set HINDSIGHT_METRICS_TOKEN (scrapes then send Authorization: Bearer <token>), listen on loopback (HINDSIGHT_WEB_HOST=127.0.0.1), or unset HINDSIGHT_WORKER_METRICS_PORT`,
    );
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    if (options.token !== undefined && !bearerMatches(req.headers.authorization, options.token)) {
      res
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="hindsight metrics"' })
        .end('metrics need Authorization: Bearer <HINDSIGHT_METRICS_TOKEN>\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(body),
      (error: unknown) =>
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`metrics could not be collected: ${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
