import assert from 'node:assert/strict';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../lib/logger.ts';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import { createConsoleServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { createHindsightWorker } from '../../worker/create-worker.ts';
import { createWorkerMetrics, startMetricsServer, type MetricsServer } from '../../worker/metrics.ts';
import { startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import {
  enablePitr,
  startPitrSource,
  stopArchiver,
  takeBaseBackup,
  waitUntilArchived,
  writeRows,
  type PitrSource,
} from '../support/pitr-fixture.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

// ---- Prometheus text exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/), parsed line by line

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq).trim();
    assert.equal(text[eq + 1], '"', `label ${name} has a quoted value`);
    let value = '';
    let j = eq + 2;
    for (; text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        j++;
        value += text[j] === 'n' ? '\n' : text[j];
      } else value += text[j];
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}

function parseExposition(body: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    const labels = brace >= 0 && brace < space ? parseLabels(line.slice(brace + 1, line.lastIndexOf('}'))) : {};
    const raw = line.slice(space + 1);
    // Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes "Nan").
    const special: Record<string, number> = { '+inf': Infinity, inf: Infinity, '-inf': -Infinity, nan: NaN };
    const value = special[raw.toLowerCase()] ?? Number(raw);
    assert.ok(!Number.isNaN(value) || raw.toLowerCase() === 'nan', `a number in ${line}`);
    samples.push({ name, labels, value });
  }
  return { samples, types };
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = pick(samples, name, labels);
  assert.equal(found.length, 1, `exactly one ${name}${JSON.stringify(labels)}, got ${JSON.stringify(found)}`);
  return found[0]!.value;
}

describe('/metrics: database status from the catalog, HTTP traffic, worker activities', () => {
  let platform: Platform;
  let console_: SignedInConsole;
  let guarded: WebServer;
  let workerMetricsServer: MetricsServer;
  let worker: Awaited<ReturnType<typeof createHindsightWorker>>;
  let workerDone: Promise<void>;
  let ledger: PitrSource | undefined;
  const TOKEN = 'test-metrics-token-0123456789abcdef';

  before(async () => {
    platform = await startPlatform();
    const source = await createDatabase(platform.cluster, 'shop');
    const client = await connect('shop', source);
    await client.query(
      `create table items (id int primary key, note text); insert into items select g, 'item ' || g from generate_series(1, 2000) g;`,
    );
    await client.end();

    // The worker as worker/main.ts starts it with HINDSIGHT_WORKER_METRICS_PORT set.
    const metrics = createWorkerMetrics();
    worker = await createHindsightWorker(platform.runtime, createLogger('test-worker'), {
      interceptors: { activity: [metrics.activityInterceptor] },
    });
    metrics.watchWorkers(worker.workers);
    workerDone = worker.run();
    workerMetricsServer = await startMetricsServer(metrics.registry, {
      host: '127.0.0.1',
      port: await freePort(),
      token: TOKEN,
    });

    await platform.ops.addDatabase({
      name: 'shop',
      url: targetUrl(source),
      schedule: '0 3 * * *',
      timezone: 'UTC',
      verifyAfterBackup: false,
    });
    // Nothing listens on this port: the health monitor marks it down after one failed probe.
    await platform.ops.addDatabase({
      name: 'zebra',
      url: `postgres://nobody@127.0.0.1:${await freePort()}/zebra`,
      skipCheck: true,
      verifyAfterBackup: false,
    });
    for (const name of ['shop', 'zebra'])
      await platform.runtime.catalog.updateDatabaseSettings(name, {
        healthIntervalSeconds: 1,
        healthFailureThreshold: 1,
      });

    console_ = await startSignedInConsole(platform);
    guarded = await startWebServer({
      services: createConsoleServices(platform.services),
      host: '127.0.0.1',
      port: await freePort(),
      metricsToken: TOKEN,
      log: () => undefined,
    });
  });

  after(async () => {
    if (ledger) {
      await stopArchiver(platform, 'ledger');
      await ledger.cluster.stop('immediate').catch(() => undefined);
    }
    await guarded?.close();
    await console_?.close();
    await workerMetricsServer?.close();
    if (worker) {
      worker.shutdown();
      await workerDone;
      await worker.close();
    }
    await platform?.stop();
  });

  const scrape = async (url = console_.url, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}/metrics`, { headers });
    assert.equal(response.status, 200, await response.clone().text());
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseExposition(await response.text());
  };

  it('after a real backup: age, size, duration and counts match the catalog', async () => {
    const started = await platform.ops.startBackup('shop');
    const outcome = await started.result();
    assert.equal(outcome.status, 'complete');
    const backup = await platform.runtime.catalog.getBackup(started.backupId);
    const onDisk = await stat(path.join(platform.backupsDir, ...backup.objectKey!.split('/')));

    const { samples, types } = await scrape();
    const age = one(samples, 'hindsight_last_backup_age_seconds', { database: 'shop' });
    assert.ok(age >= 0 && age < 60, `age ${age}`);
    const size = one(samples, 'hindsight_last_backup_size_bytes', { database: 'shop' });
    assert.equal(size, backup.sizeBytes);
    assert.equal(size, onDisk.size, 'the size is that of the object in storage');
    const duration = one(samples, 'hindsight_last_backup_duration_seconds', { database: 'shop' });
    assert.ok(
      Math.abs(duration - (backup.finishedAt!.getTime() - backup.startedAt.getTime()) / 1000) < 1e-6,
      `duration ${duration}`,
    );
    assert.equal(one(samples, 'hindsight_backups', { database: 'shop', status: 'complete' }), 1);
    assert.equal(one(samples, 'hindsight_backups', { database: 'shop', status: 'failed' }), 0);
    assert.equal(one(samples, 'hindsight_backups', { database: 'zebra', status: 'complete' }), 0);
    assert.equal(one(samples, 'hindsight_verifications', { database: 'shop', status: 'successful' }), 0);
    assert.equal(
      one(samples, 'hindsight_storage_used_bytes', { database: 'shop' }),
      backup.copies.reduce((sum, c) => sum + (c.sizeBytes ?? 0), 0),
    );
    assert.equal(one(samples, 'hindsight_storage_used_bytes', { database: 'shop' }), onDisk.size);
    assert.deepEqual(
      pick(samples, 'hindsight_last_backup_age_seconds', { database: 'zebra' }),
      [],
      'no backup, no age',
    );
    assert.deepEqual(pick(samples, 'hindsight_wal_archive_lag_seconds'), [], 'no PITR, no archive lag');
    assert.equal(types.get('hindsight_backups'), 'gauge');
    assert.equal(types.get('hindsight_http_requests_total'), 'counter');
    assert.equal(one(samples, 'hindsight_catalog_up'), 1);
    // 03:00 UTC daily: the next run is within a day and on the hour of 03:00.
    const next = one(samples, 'hindsight_next_backup_timestamp_seconds', { database: 'shop' });
    assert.ok(next > Date.now() / 1000 && next <= Date.now() / 1000 + 86400, `next run ${next}`);
    assert.equal(next % 86400, 3 * 3600 + spreadSecond('shop'), "at 03:00 and shop's own second");
    assert.ok(pick(samples, 'process_cpu_user_seconds_total').length === 1, 'the default process metrics are there');
  });

  it('a verification exports its measured time to a usable database', async () => {
    assert.deepEqual(pick((await scrape()).samples, 'hindsight_verification_time_to_usable_seconds'), []);
    const [backup] = await platform.runtime.catalog.listBackups('shop');
    const v = await (await platform.ops.requestVerification('shop', { backupId: backup!.id })).finished();
    assert.equal(v.status, 'successful', v.reason ?? '');
    const seconds = one((await scrape()).samples, 'hindsight_verification_time_to_usable_seconds', {
      database: 'shop',
    });
    assert.equal(seconds, v.report!.timeToUsableSeconds);
    assert.ok(seconds > 0);
  });

  it('database_up is 1 for a reachable database and 0 for one that is down, after health checks', async () => {
    await waitFor(
      'both health transitions',
      async () => {
        const { samples } = await scrape();
        const up = pick(samples, 'hindsight_database_up');
        return up.length === 2 ? up : undefined;
      },
      30_000,
      500,
    );
    const { samples } = await scrape();
    assert.equal(one(samples, 'hindsight_database_up', { database: 'shop' }), 1);
    assert.equal(one(samples, 'hindsight_database_up', { database: 'zebra' }), 0);
    const history = await platform.runtime.catalog.health.history('zebra');
    assert.equal(history[0]?.status, 'down', 'the catalog says the same');
  });

  it('counts HTTP requests by route pattern, never by raw id', async () => {
    const count = async (labels: Record<string, string>) =>
      pick((await scrape()).samples, 'hindsight_http_requests_total', labels).reduce((s, x) => s + x.value, 0);
    const healthz = { method: 'GET', route: '/healthz', status: '200' };
    const before = await count(healthz);
    assert.equal((await fetch(`${console_.url}/healthz`)).status, 200);
    assert.equal(await count(healthz), before + 1);

    assert.equal((await console_.fetch(`${console_.url}/api/v1/databases/shop/backups`)).status, 200);
    assert.equal((await console_.fetch(`${console_.url}/hooks/shop`)).status, 200);
    const { samples } = await scrape();
    assert.equal(
      one(samples, 'hindsight_http_requests_total', {
        method: 'GET',
        route: '/api/v1/databases/:name/backups',
        status: '200',
      }),
      1,
    );
    assert.equal(
      one(samples, 'hindsight_http_requests_total', { method: 'GET', route: '/hooks/[database]', status: '200' }),
      1,
    );
    const routes = new Set(pick(samples, 'hindsight_http_requests_total').map((s) => s.labels.route));
    assert.ok(![...routes].some((r) => r?.includes('shop')), `no raw ids in routes: ${[...routes].join(', ')}`);
    assert.ok(
      pick(samples, 'hindsight_http_request_duration_seconds_count', { method: 'GET', route: '/healthz' })[0]!.value >=
        1,
    );
  });

  it('with HINDSIGHT_METRICS_TOKEN set, a scrape without the bearer token is refused', async () => {
    assert.equal((await fetch(`${guarded.url}/metrics`)).status, 401);
    assert.equal(
      (await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token-wrong' } }))
        .status,
      401,
    );
    assert.equal(
      (
        await fetch(`${guarded.url}/metrics`, {
          headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
        })
      ).status,
      401,
    );
    const { samples } = await scrape(guarded.url, { authorization: `Bearer ${TOKEN}` });
    assert.equal(one(samples, 'hindsight_backups', { database: 'shop', status: 'complete' }), 1);
  });

  it('the worker counts the activities it ran, by type', async () => {
    assert.equal((await fetch(`${workerMetricsServer.url}/metrics`)).status, 401);
    const { samples } = await scrape(workerMetricsServer.url, { authorization: `Bearer ${TOKEN}` });
    const labels = { activity: 'dumpDatabaseToStorage', task_queue: platform.config.taskQueue };
    assert.equal(one(samples, 'hindsight_activities_started_total', labels), 1, 'one backup, one dump');
    assert.deepEqual(
      pick(samples, 'hindsight_activities_failed_total', labels)
        .map((s) => s.value)
        .filter((v) => v > 0),
      [],
    );
    // zebra's probes fail, but as a result value, not an activity error: the health batch answered.
    assert.ok(
      one(samples, 'hindsight_activities_started_total', {
        activity: 'probeHealthBatch',
        task_queue: platform.config.taskQueue,
      }) >= 1,
    );
    assert.equal(one(samples, 'hindsight_activity_duration_seconds_count', labels), 1);
  });

  it('the worker reports its workflow cache, bounded by HINDSIGHT_WORKER_MAX_CACHED_WORKFLOWS', async () => {
    const [main, verify] = worker.workers;
    assert.equal(main!.options.maxCachedWorkflows, platform.config.workerMaxCachedWorkflows);
    assert.equal(platform.config.workerMaxCachedWorkflows, 500);
    // The cache changes as workflows open and close: read it until a scrape and the SDK agree.
    await waitFor(
      'the cached-workflow gauge to equal the SDK status',
      async () => {
        const { samples } = await scrape(workerMetricsServer.url, { authorization: `Bearer ${TOKEN}` });
        const cached = (queue: string) => one(samples, 'hindsight_worker_cached_workflows', { task_queue: queue });
        const agree =
          cached(platform.config.taskQueue) === main!.getStatus().numCachedWorkflows &&
          cached(verify!.options.taskQueue) === verify!.getStatus().numCachedWorkflows;
        return agree || undefined;
      },
      30_000,
    );
  });

  it('the dashboard puts the database that is down first, under a problems banner', async () => {
    const response = await console_.fetch(`${console_.url}/`);
    assert.equal(response.status, 200);
    const html = await response.text();
    const zebra = html.indexOf('data-testid="database-card-zebra"');
    const shop = html.indexOf('data-testid="database-card-shop"');
    assert.ok(zebra > 0 && shop > 0, 'both cards are rendered');
    assert.ok(zebra < shop, 'zebra (down) comes before shop (healthy) although it sorts after it by name');
    const banner = html.indexOf('data-testid="problems-banner"');
    assert.ok(banner > 0 && banner < zebra, 'the problems banner is above the cards');
    const bannerText = html.slice(banner, zebra).replace(/<[^>]+>/g, ' ');
    assert.match(bannerText, /zebra/);
    assert.doesNotMatch(bannerText, /\bshop\b/);
    assert.match(html, /href="\/databases\/shop"/);

    const status = await console_.services.databaseStatus(systemActor);
    assert.deepEqual(
      status.databases.map((d) => d.name),
      ['zebra', 'shop'],
    );
  });
  it('PITR: the archive lag is the age of the newest archived WAL, the window starts at the base backup', async () => {
    ledger = await startPitrSource(platform, 'ledger', 'ledger');
    await enablePitr(platform, ledger);
    const base = await takeBaseBackup(platform, 'ledger', 'metrics');
    await writeRows(ledger, 600, 100);
    await waitUntilArchived(platform, ledger);

    const before = await platform.runtime.catalog.wal.latestDurable('ledger');
    const t0 = Date.now();
    const { samples } = await scrape();
    const t1 = Date.now();
    const afterScrape = await platform.runtime.catalog.wal.latestDurable('ledger');
    const lag = one(samples, 'hindsight_wal_archive_lag_seconds', { database: 'ledger' });
    // More WAL may arrive during the scrape: the lag lies between what the two readings allow.
    assert.ok(
      lag >= (t0 - afterScrape!.receivedAt.getTime()) / 1000 - 0.001 &&
        lag <= (t1 - before!.receivedAt.getTime()) / 1000 + 0.001,
      `lag ${lag} s for WAL received at ${before!.receivedAt.toISOString()}…${afterScrape!.receivedAt.toISOString()}`,
    );
    assert.ok(lag < 30, `lag ${lag}`);
    assert.equal(one(samples, 'hindsight_wal_gaps', { database: 'ledger' }), 0);
    assert.ok(
      one(samples, 'hindsight_storage_used_bytes', { database: 'ledger' }) > base.storedBytes,
      'the base backup and the WAL archive count as storage used',
    );

    const status = (await console_.services.databaseStatus(systemActor)).databases.find((d) => d.name === 'ledger')!;
    const record = (await platform.runtime.catalog.wal.baseBackupsOf('ledger', { status: 'complete' }))[0]!;
    assert.equal(status.pitr?.window?.from, record.stopTime!.toISOString(), "restorable from the base backup's end");
    assert.ok(Date.parse(status.pitr!.window!.to) >= Date.parse(status.pitr!.window!.from));
    assert.deepEqual(status.problems, []);
  });
});
