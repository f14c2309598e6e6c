/**
 * What the soak runs against: a real platform (catalog PostgreSQL, Temporal dev server), moto's S3
 * behind the fault proxy (the storage that flaps), a local storage, N source databases backed up
 * every minute to both, and the worker and the console as the separate processes `npm start` runs,
 * so that their memory and file descriptors are their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { withV8Flags } from '../../lib/supervisor/worker-env.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createConsoleServices } from '../../web/src/lib/server/view/index.ts';
import { saveProxiedS3 } from '../../test/support/fault-checks.ts';
import { startFaultProxy, type FaultProxy } from '../../test/support/fault-proxy.ts';
import { createFilledDatabase, startPlatform, type Platform } from '../../test/support/platform.ts';
import { freePort } from '../../test/support/ports.ts';
import { newBucket, rawClient } from '../../test/support/s3-moto-helpers.ts';
import { startMoto, type MotoServer } from '../../test/support/servers/moto.ts';
import {
  spawnBenchWorker,
  stopBenchWorker,
  type BenchWorker,
  type WorkerLogRecord,
} from '../support/worker-process.ts';

export const OWNER = { email: 'soak@example.org', password: 'soak soak soak soak' };

/** A table per database that compresses like real data: names, amounts, timestamps, free text. */
const ORDERS = (rows: number) => `create table orders (id int primary key, customer text, amount numeric(10,2),
    placed timestamptz, note text);
  insert into orders select g, 'customer ' || (g % 1913), (g % 50000) / 100.0, timestamptz '2026-01-01' + g * interval '37 s',
    'order ' || g || case when g % 3 = 0 then ' gift wrapped' else '' end from generate_series(1, ${rows}) g;`;

export interface SoakWorld {
  platform: Platform;
  moto: MotoServer;
  proxy: FaultProxy;
  sources: Map<string, PgTarget>;
  worker: BenchWorker;
  web: { child: ChildProcess; url: string };
  /** The worker's own /metrics (HINDSIGHT_WORKER_METRICS_PORT), where its heap and workflow cache are read. */
  workerMetricsUrl: string;
  /** Every JSON line the worker logged, in order. */
  workerLog: WorkerLogRecord[];
  stop(): Promise<void>;
}

export interface SoakSettings {
  databases: number;
  rowsPerDatabase: number;
  outDir: string;
  /** Lets SIGWINCH write a heap snapshot of the worker into outDir, to compare two points of a soak. */
  heapSnapshots: boolean;
}

function spawnWeb(platform: Platform, port: number): { child: ChildProcess; ready: Promise<void> } {
  const main = fileURLToPath(new URL('../../web/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main], {
    // As npm start starts it (lib/supervisor/worker-env.ts).
    env: withV8Flags({
      ...process.env,
      ...platform.configEnv,
      HINDSIGHT_WEB_PORT: String(port),
      HINDSIGHT_LOG_PRETTY: '0',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('console listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the console exited (${code}) before it listened`)));
  });
  return { child, ready };
}

async function addStorages(platform: Platform, moto: MotoServer, proxy: FaultProxy): Promise<void> {
  const bucket = await newBucket(rawClient(moto), 'soak');
  await saveProxiedS3(platform, 'flaky', moto, proxy, bucket);
}

export async function startSoakWorld(settings: SoakSettings): Promise<SoakWorld> {
  const [platform, moto] = await Promise.all([startPlatform(), startMoto()]);
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: moto.port });
  await addStorages(platform, moto, proxy);
  const sources = new Map<string, PgTarget>();
  for (let i = 1; i <= settings.databases; i++) {
    const name = `soak${String(i).padStart(2, '0')}`;
    sources.set(name, await createFilledDatabase(platform.cluster, name, ORDERS(settings.rowsPerDatabase)));
  }
  const consoleServices = createConsoleServices(platform.services);
  const setupToken = await consoleServices.auth.issueSetupToken();
  if (setupToken) await consoleServices.auth.createFirstOwner({ ...OWNER, setupToken }, '127.0.0.1');
  const workerLog: WorkerLogRecord[] = [];
  const metricsPort = await freePort();
  const worker = spawnBenchWorker(platform, {
    label: 'soak',
    // Workflows run in the main thread in the SDK's debug mode, so that a snapshot holds their state too.
    env: {
      HINDSIGHT_WORKER_METRICS_PORT: String(metricsPort),
      ...(settings.heapSnapshots ? { TEMPORAL_DEBUG: '1' } : {}),
    },
    // SIGWINCH: the Temporal runtime stops the worker on SIGUSR2, Node's usual snapshot signal.
    nodeFlags: [
      '--expose-gc',
      `--import=${fileURLToPath(new URL('./heap-probe.ts', import.meta.url))}`,
      ...(settings.heapSnapshots ? ['--heapsnapshot-signal=SIGWINCH', `--diagnostic-dir=${settings.outDir}`] : []),
    ],
    logFile: path.join(settings.outDir, 'soak-worker.log'),
    tailLines: 40,
    onRecord: (record) => workerLog.push(record),
  });
  const port = await freePort();
  const web = spawnWeb(platform, port);
  await Promise.all([worker.ready, web.ready]);
  for (const [name, source] of sources) {
    await platform.ops.addDatabase({ name, url: targetUrl(source), storages: ['local', 'flaky'] });
    await platform.ops.setSchedule(name, '* * * * *');
  }
  return {
    platform,
    moto,
    proxy,
    sources,
    worker,
    web: { child: web.child, url: `http://127.0.0.1:${port}` },
    workerMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    workerLog,
    async stop() {
      web.child.kill('SIGTERM');
      await stopBenchWorker(worker, 60_000);
      await platform.stop();
      await proxy.stop();
      await moto.stop();
    },
  };
}
