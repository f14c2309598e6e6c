/**
 * GET /metrics in Prometheus' text format: the status of every database (read from the catalog at
 * scrape time, as the system actor, across all workspaces), the express host's own HTTP traffic,
 * and prom-client's default process metrics.
 *
 * Access (web/metrics-access.ts): open only when the console listens on loopback alone and no
 * HINDSIGHT_METRICS_TOKEN is set; otherwise that token reads every series, and a personal API token
 * the series of its workspace's databases. It exposes database names and numbers, never hosts,
 * users, errors or secrets.
 */
import type { DrillSummary } from '../lib/catalog/pitr-drills.ts';
import { registerDrillGauges } from './metrics-drills.ts';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { metricsScope, onlyDatabases, type MetricsAccessOptions } from './metrics-access.ts';
import type { DatabaseStatus, DatabaseStatusReport } from '../services/status/database-status.ts';

/** Set by web/src/hooks.server.ts on the request: the SvelteKit route id it matched (null for none). */
export const SVELTEKIT_ROUTE = Symbol.for('hindsight.route');

const BACKUP_STATUSES = ['running', 'complete', 'partial', 'failed', 'cancelled', 'deleted'] as const;
const VERIFICATION_STATUSES = ['pending', 'running', 'successful', 'failed', 'superseded', 'cancelled'] as const;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The route a request matched, as a pattern: an express route (`/api/v1/backups/:id`), a SvelteKit
 * route id (`/hooks/[database]`), or a coarse bucket. Never the raw path: ids in labels would make
 * one series per backup and grow without bound.
 */
export function routeLabel(req: Request): string {
  const kit = (req as unknown as Record<symbol, string | null | undefined>)[SVELTEKIT_ROUTE];
  if (kit !== undefined) return kit ?? '(unmatched)';
  const path = req.originalUrl.split('?')[0] ?? '';
  if (req.route && typeof req.route.path === 'string') {
    // The API router is mounted at /api/v1; express restores baseUrl only when a router is left, which a finished response never does.
    const mount = path.startsWith('/api/v1/') ? '/api/v1' : req.baseUrl;
    return `${mount}${req.route.path}`;
  }
  if (path.startsWith('/api/')) return '/api/*';
  if (path.startsWith('/_app/')) return '/_app/*';
  if (path === '/codec' || path.startsWith('/codec/')) return '/codec/*';
  return '(other)';
}

export interface ConsoleMetricsOptions extends MetricsAccessOptions {
  /** The status of every database, as the system actor sees it. */
  status: () => Promise<DatabaseStatusReport>;
  log?: (msg: string) => void;
  /** Per server, the PITR drills' proven-up-to time and last outcome (web/metrics-drills.ts). */
  drills?: () => Promise<DrillSummary[]>;
}

export interface ConsoleMetrics {
  registry: Registry;
  /** Mount first: counts and times every request the host answers. */
  httpMiddleware: RequestHandler;
  /** GET /metrics. */
  handler: RequestHandler;
}

type Snapshot = () => Promise<DatabaseStatusReport | null>;

/** One catalog read per scrape: every gauge collects from the same snapshot. */
function statusSnapshot(options: ConsoleMetricsOptions): Snapshot {
  let pending: { at: number; report: Promise<DatabaseStatusReport | null> } | undefined;
  return () => {
    if (!pending || Date.now() - pending.at > 1000) {
      pending = {
        at: Date.now(),
        report: options.status().catch((error: unknown) => {
          options.log?.(`metrics: database status could not be read: ${(error as Error).message}`);
          return null;
        }),
      };
    }
    return pending.report;
  };
}

/** A gauge filled afresh at each scrape from every database's status in the catalog snapshot. */
function catalogGauge(
  registry: Registry,
  snapshot: Snapshot,
  config: { name: string; help: string; labelNames: string[] },
  fill: (gauge: Gauge, s: DatabaseStatus) => void,
): Gauge {
  return new Gauge({
    ...config,
    registers: [registry],
    async collect() {
      const report = await snapshot();
      this.reset();
      for (const s of report?.databases ?? []) fill(this, s);
    },
  });
}

/** A gauge with one series per database, set from each database's status at scrape time (absent when null). */
function perDatabaseGauge(
  registry: Registry,
  snapshot: Snapshot,
  name: string,
  help: string,
  value: (s: DatabaseStatus) => number | null | undefined,
): Gauge {
  return catalogGauge(registry, snapshot, { name, help, labelNames: ['database'] }, (gauge, s) => {
    const v = value(s);
    if (v !== null && v !== undefined) gauge.set({ database: s.name }, v);
  });
}

/** A gauge with one series per database and status: how many of its rows have each status. */
function byStatusGauge(
  registry: Registry,
  snapshot: Snapshot,
  name: string,
  help: string,
  statuses: readonly string[],
  counts: (s: DatabaseStatus) => Record<string, number>,
): Gauge {
  return catalogGauge(registry, snapshot, { name, help, labelNames: ['database', 'status'] }, (gauge, s) => {
    const c = counts(s);
    // Every known status, zeros included, so that rate() and absent() behave from the first scrape.
    for (const status of new Set([...statuses, ...Object.keys(c)]))
      gauge.set({ database: s.name, status }, c[status] ?? 0);
  });
}

type PerDatabaseValue = (s: DatabaseStatus) => number | null | undefined;

/** The gauges with one series per database: name, help, and the value read from its status (absent when null). */
const PER_DATABASE_GAUGES: Array<[name: string, help: string, value: PerDatabaseValue]> = [
  [
    'hindsight_last_backup_age_seconds',
    'Seconds since the newest complete (or partial) backup finished.',
    (s) => s.lastCompleteBackup?.ageSeconds,
  ],
  [
    'hindsight_last_backup_size_bytes',
    'Stored size of the newest complete backup (compressed and encrypted), in bytes.',
    (s) => s.lastCompleteBackup?.sizeBytes,
  ],
  [
    'hindsight_last_backup_duration_seconds',
    'How long the newest complete backup took, start to finish.',
    (s) => s.lastCompleteBackup?.durationSeconds,
  ],
  [
    'hindsight_wal_archive_lag_seconds',
    'RPO now: seconds since the newest archived WAL byte arrived (databases with PITR only).',
    (s) => s.pitr?.rpoSeconds,
  ],
  [
    'hindsight_database_up',
    '1 when the health monitor last found the database reachable, 0 when down; absent before the first probe.',
    (s) => (s.health.state === 'unknown' ? null : s.health.state === 'up' ? 1 : 0),
  ],
  [
    'hindsight_storage_used_bytes',
    'Bytes the database holds in storage: every copy of its kept backups, its WAL archive and base backups.',
    (s) => s.storageUsedBytes,
  ],
  [
    'hindsight_backup_overdue',
    '1 when the newest complete backup is older than the overdue threshold (hindsight db overdue); absent without a threshold.',
    (s) => (s.overdue.thresholdHours === null ? null : s.overdue.overdue ? 1 : 0),
  ],
  [
    'hindsight_wal_gaps',
    'Holes in the WAL archive as the catalog records it (databases with PITR only).',
    (s) => (s.pitr ? s.pitr.gaps.length : null),
  ],
  [
    'hindsight_verification_time_to_usable_seconds',
    'Seconds the last verification took from the start of its restore to a usable database (download, decryption, pg_restore and index builds): the measured restore time.',
    (s) => s.lastVerification?.timeToUsableSeconds ?? null,
  ],
  [
    'hindsight_restore_drill_time_to_usable_seconds',
    'Seconds the last restore drill took on its target server from the first byte read to a usable database (download, decryption, pg_restore and index builds); absent when it failed.',
    (s) => (s.lastDrill?.status === 'successful' ? s.lastDrill.timeToUsableSeconds : null),
  ],
  [
    'hindsight_restore_drill_last_success',
    '1 when the last restore drill succeeded, 0 when it failed; absent before the first drill.',
    (s) => (s.lastDrill ? (s.lastDrill.status === 'successful' ? 1 : 0) : null),
  ],
  [
    'hindsight_restore_drill_last_timestamp_seconds',
    'When the last restore drill ended, as a Unix time.',
    (s) => (s.lastDrill?.finishedAt ? Date.parse(s.lastDrill.finishedAt) / 1000 : null),
  ],
  [
    'hindsight_next_backup_timestamp_seconds',
    'When the backup schedule fires next, as a Unix time.',
    (s) => (s.schedule?.nextRunAt ? Date.parse(s.schedule.nextRunAt) / 1000 : null),
  ],
];

/** The per-database gauges, read from the catalog's status at scrape time. */
function registerDatabaseGauges(registry: Registry, snapshot: Snapshot): void {
  for (const [name, help, value] of PER_DATABASE_GAUGES) perDatabaseGauge(registry, snapshot, name, help, value);

  const byStatus = (
    name: string,
    help: string,
    statuses: readonly string[],
    counts: (s: DatabaseStatus) => Record<string, number>,
  ) => byStatusGauge(registry, snapshot, name, help, statuses, counts);
  // Gauges, not counters: they are read from the catalog, and retention removes rows.
  byStatus('hindsight_backups', 'Backups in the catalog by outcome.', BACKUP_STATUSES, (s) => s.backups);
  byStatus(
    'hindsight_verifications',
    'Restore verifications in the catalog by outcome.',
    VERIFICATION_STATUSES,
    (s) => s.verifications,
  );

  new Gauge({
    name: 'hindsight_catalog_up',
    help: '1 when this scrape could read the database status from the catalog.',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
}

/** Counts and times every request the host answers, labelled by route pattern. */
function httpTraffic(registry: Registry): RequestHandler {
  const requests = new Counter({
    name: 'hindsight_http_requests_total',
    help: 'HTTP requests answered by the console host.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'hindsight_http_request_duration_seconds',
    help: 'Time to answer an HTTP request of the console host.',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      const route = routeLabel(req);
      requests.inc({ method, route, status: String(res.statusCode) });
      duration.observe({ method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

function metricsHandler(registry: Registry, options: ConsoleMetricsOptions): RequestHandler {
  return async (req: Request, res: Response) => {
    try {
      const scope = await metricsScope(req, options);
      if ('refused' in scope) {
        res
          .status(401)
          .set('WWW-Authenticate', 'Bearer realm="hindsight metrics"')
          .type('text/plain')
          .send(scope.refused);
        return;
      }
      const all = await registry.metrics();
      const body = scope.all ? all : onlyDatabases(all, scope.databases);
      res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(body);
    } catch (error) {
      res
        .status(500)
        .type('text/plain')
        .send(`metrics could not be collected: ${(error as Error).message}\n`);
    }
  };
}

export function createConsoleMetrics(options: ConsoleMetricsOptions): ConsoleMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerDatabaseGauges(registry, statusSnapshot(options));
  if (options.drills) registerDrillGauges(registry, options.drills, options.log);
  const httpMiddleware = httpTraffic(registry);
  return { registry, httpMiddleware, handler: metricsHandler(registry, options) };
}
