import { access, constants, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config.ts';
import { errorMessage } from '../lib/errors.ts';
import { connect, serverInfo } from '../lib/pg/connection.ts';
import { findTools } from '../lib/pg/tools.ts';
import { testStorageConnection } from '../lib/storage/connection-test.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import { connectTemporalClient } from '../temporal/client.ts';
import { VERIFY_TASK_QUEUE_SUFFIX } from '../temporal/contracts/common.ts';
import { hindsightSearchAttributes } from '../temporal/search-attributes.ts';
import { runDeepChecks } from './doctor-deep.ts';
import { openRuntime, type Runtime } from './runtime.ts';

/** The directory itself, or the closest ancestor that exists (where it would be created). */
async function nearestExisting(dir: string): Promise<string> {
  let current = path.resolve(dir);
  for (;;) {
    if (
      await access(current).then(
        () => true,
        () => false,
      )
    )
      return current;
    const parent = path.dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

/** Records one check's outcome. */
type Report = (name: string, status: DoctorCheck['status'], detail: string) => void;

type Tool = Awaited<ReturnType<typeof findTools>>[number];

/** Opens the runtime (secret key and catalog) that the later checks read; undefined when it cannot be. */
async function checkKeyAndCatalog(config: Config, add: Report): Promise<Runtime | undefined> {
  let runtime: Runtime | undefined;
  try {
    runtime = await openRuntime(config, { migrate: false });
    add(
      'secret key',
      'ok',
      `${config.secretKeyFile} (key ${runtime.key.id}${runtime.previousKeys.length ? `, ${runtime.previousKeys.length} earlier key(s)` : ''})`,
    );
    const applied = await runtime.catalog.migrationsApplied();
    add('catalog', 'ok', `${config.databaseUrl ? 'DATABASE_URL' : 'embedded catalog'}: ${applied} migrations applied`);
  } catch (error) {
    add('secret key and catalog', 'fail', errorMessage(error));
  }
  return runtime;
}

async function checkSearchAttributes(config: Config, temporal: Client, add: Report): Promise<void> {
  const attributes = await temporal.connection.operatorService.listSearchAttributes({
    namespace: config.temporalNamespace,
  });
  const missing = hindsightSearchAttributes
    .map((a) => a.name)
    .filter((name) => !(name in (attributes.customAttributes ?? {})));
  add(
    'temporal',
    missing.length ? 'fail' : 'ok',
    missing.length
      ? `namespace "${config.temporalNamespace}" lacks search attributes ${missing.join(', ')} (temporal operator search-attribute create --name <name> --type Keyword)`
      : `${config.temporalAddress}, namespace "${config.temporalNamespace}"${config.temporalTls ? ', TLS' : ''}`,
  );
}

/** The main and the verification task queues each need a worker polling. */
async function checkWorkers(config: Config, temporal: Client, add: Report): Promise<void> {
  for (const queue of [config.taskQueue, `${config.taskQueue}${VERIFY_TASK_QUEUE_SUFFIX}`]) {
    const described = await temporal.workflowService.describeTaskQueue({
      namespace: config.temporalNamespace,
      taskQueue: { name: queue },
      taskQueueType: queue === config.taskQueue ? 1 : 2,
    });
    const pollers = described.pollers?.length ?? 0;
    add(
      `workers on ${queue}`,
      pollers > 0 ? 'ok' : 'warn',
      pollers > 0 ? `${pollers} poller(s)` : 'no worker is polling: start one (node worker/main.ts)',
    );
  }
}

/** Returns the client once connected, even when a later check fails, so that the caller closes it. */
async function checkTemporal(config: Config, runtime: Runtime, add: Report): Promise<Client | undefined> {
  let temporal: Client | undefined;
  try {
    temporal = await connectTemporalClient(config, runtime);
    await checkSearchAttributes(config, temporal, add);
    await checkWorkers(config, temporal, add);
  } catch (error) {
    add('temporal', 'fail', errorMessage(error));
  }
  return temporal;
}

async function checkTools(add: Report): Promise<{ pgDumps: Tool[]; servers: Tool[] }> {
  const pgDumps = await findTools('pg_dump');
  add(
    'pg_dump',
    pgDumps.length ? 'ok' : 'fail',
    pgDumps.length
      ? pgDumps.map((t) => `${t.version} (${t.path})`).join('; ')
      : 'not found: install postgresql-client-<major> or set HINDSIGHT_PG_BIN',
  );
  const servers = await findTools('initdb');
  add(
    'sandbox servers',
    servers.length ? 'ok' : 'warn',
    servers.length
      ? `PostgreSQL ${servers.map((t) => t.major).join(', ')} can be verified`
      : 'no initdb: backups cannot be verified here (install postgresql-<major>)',
  );
  return { pgDumps, servers };
}

/** Every storage: write, read back, delete. */
async function checkStorages(runtime: Runtime, add: Report): Promise<void> {
  for (const storage of await runtime.catalog.listStorages().catch(() => [])) {
    try {
      const driver = createStorageDriver(storage.name, await runtime.catalog.storageConfig(storage.name));
      try {
        const result = await testStorageConnection(driver);
        add(
          `storage ${storage.name}`,
          result.ok ? 'ok' : 'fail',
          result.ok
            ? `${storage.type}: write, read back, delete in ${result.elapsedMs} ms`
            : `${storage.type}: failed at ${result.stage}: ${result.message}`,
        );
      } finally {
        await driver.close?.().catch(() => undefined);
      }
    } catch (error) {
      add(`storage ${storage.name}`, 'fail', errorMessage(error));
    }
  }
}

/** Every registered database: reachable, and dumpable by the newest pg_dump here. */
async function checkDatabases(
  runtime: Runtime,
  { pgDumps, servers }: { pgDumps: Tool[]; servers: Tool[] },
  add: Report,
): Promise<void> {
  for (const db of await runtime.catalog.listDatabases().catch(() => [])) {
    try {
      const client = await connect(db.name, await runtime.catalog.databaseTarget(db.name));
      try {
        const info = await serverInfo(client);
        const newest = pgDumps[0];
        const fits = newest !== undefined && newest.major >= info.major;
        add(
          `database ${db.name}`,
          fits ? 'ok' : 'fail',
          fits
            ? `PostgreSQL ${info.version}, dumped with pg_dump ${newest.major}${servers.some((s) => s.major === info.major) ? '' : `; no PostgreSQL ${info.major} server here to verify its backups`}`
            : `PostgreSQL ${info.version} needs pg_dump ${info.major} or newer (install postgresql-client-${info.major})`,
        );
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (error) {
      add(`database ${db.name}`, 'warn', errorMessage(error));
    }
  }
}

async function checkSandboxRoot(config: Config, add: Report): Promise<void> {
  const writableDir = await nearestExisting(config.sandboxRoot);
  const writable = await access(writableDir, constants.W_OK).then(
    () => true,
    () => false,
  );
  add(
    'sandbox root',
    writable ? 'ok' : 'fail',
    writable
      ? `${config.sandboxRoot}${writableDir === config.sandboxRoot ? '' : ' (created on first use)'}`
      : `${writableDir} is not writable, so ${config.sandboxRoot} cannot hold sandboxes (set HINDSIGHT_SANDBOX_ROOT)`,
  );
}

async function checkCodecToken(config: Config, add: Report): Promise<void> {
  if (!config.codecTokenFile) return;
  const token = await readFile(config.codecTokenFile, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  add(
    'codec endpoint',
    token.length >= 16 ? 'ok' : 'fail',
    token.length >= 16
      ? `token from ${config.codecTokenFile}, origin ${config.codecCorsOrigin}`
      : `${config.codecTokenFile} is unreadable or holds fewer than 16 characters`,
  );
}

/**
 * Checks everything Hindsight depends on, each on its own so that one broken part does not hide
 * the others: the secret key and catalog, Temporal (namespace, search attributes, workers polling),
 * every storage (write, read back, delete), the PostgreSQL tools against every registered database,
 * the sandbox root and the codec token; with `deep`, the catalog held against the storages and
 * Temporal (services/doctor-deep.ts).
 */
export async function runDoctor(config: Config, options: { deep?: boolean } = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add: Report = (name, status, detail) => checks.push({ name, status, detail });

  const runtime = await checkKeyAndCatalog(config, add);
  const temporal = runtime ? await checkTemporal(config, runtime, add) : undefined;
  const tools = await checkTools(add);
  if (runtime) {
    await checkStorages(runtime, add);
    await checkDatabases(runtime, tools, add);
  }
  await checkSandboxRoot(config, add);
  await checkCodecToken(config, add);
  if (options.deep && runtime) await runDeepChecks(runtime, temporal, add);

  await temporal?.connection.close().catch(() => undefined);
  await runtime?.close().catch(() => undefined);
  return checks;
}
