/**
 * `hindsight doctor --deep`: the catalog held against the storages and Temporal, listing every
 * disagreement (a complete copy missing or resized in its storage, a manifest in storage for a
 * backup the catalog does not have as complete, a running backup without its workflow, a schedule
 * missing or left over, an archived WAL file or base backup gone). It only reads: each finding names
 * the thing and what to do, and an operator (or a fault test) decides.
 */
import { ScheduleNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { backupObjectKey, manifestKey, storedDatabaseName } from '../lib/backup/ids.ts';
import type { CopyRow } from '../lib/catalog/reconcile.ts';
import { errorMessage } from '../lib/errors.ts';
import { createStorageDriver, type StorageDriver } from '../lib/storage/index.ts';
import type { ObjectInfo } from '../lib/storage/contract.ts';
import { backupScheduleId } from '../temporal/contracts/backup.ts';
import type { Runtime } from './runtime.ts';

export type DeepReport = (name: string, status: 'ok' | 'warn' | 'fail', detail: string) => void;

/** A backup's manifest: `<stored name>/<backup id>.json`. */
const MANIFEST = /^(.+)\/([0-9]{8}T[0-9]{6}Z-[0-9a-f]+)\.json$/;

/** Storages by name, each driver made once and closed at the end. */
class Drivers {
  private readonly open = new Map<string, StorageDriver>();
  private readonly runtime: Runtime;
  constructor(runtime: Runtime) {
    this.runtime = runtime;
  }
  async get(name: string): Promise<StorageDriver> {
    let driver = this.open.get(name);
    if (!driver) {
      driver = createStorageDriver(name, await this.runtime.catalog.storageConfig(name));
      this.open.set(name, driver);
    }
    return driver;
  }
  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((d) => d.close?.().catch(() => undefined)));
  }
}

const isKept = (c: CopyRow) =>
  c.copyStatus === 'complete' && (c.backupStatus === 'complete' || c.backupStatus === 'partial');

/** Every complete copy the catalog records: its object and manifest are in that storage, at the recorded size. */
async function checkCopies(copies: CopyRow[], drivers: Drivers, add: DeepReport): Promise<void> {
  let found = 0;
  for (const copy of copies.filter(isKept)) {
    const stored = storedDatabaseName({ objectKey: copy.objectKey, databaseName: copy.database });
    const key = copy.objectKey ?? backupObjectKey(stored, copy.backupId);
    const driver = await drivers.get(copy.storage);
    const [object, manifest] = await Promise.all([driver.stat(key), driver.stat(manifestKey(stored, copy.backupId))]);
    const where = `backup ${copy.backupId} in ${copy.storage}`;
    if (!object || !manifest) {
      const missing = [object ? null : key, manifest ? null : manifestKey(stored, copy.backupId)].filter(Boolean);
      add(
        where,
        'fail',
        `the catalog has a complete copy of database ${copy.database}'s backup here, but the storage has no ${missing.join(' and no ')}: restore from another copy, or let retention forget it`,
      );
    } else if (copy.sizeBytes !== null && object.size !== copy.sizeBytes) {
      add(
        where,
        'fail',
        `${key} holds ${object.size} bytes where the catalog recorded ${copy.sizeBytes}: the object was replaced; do not restore from this copy`,
      );
    } else found += 1;
  }
  add(
    'backup copies',
    'ok',
    `${found} complete cop${found === 1 ? 'y' : 'ies'} found in their storages at the recorded size`,
  );
}

/** A manifest in storage makes a backup look complete: the catalog must have that copy as complete too. */
async function checkManifests(runtime: Runtime, copies: CopyRow[], drivers: Drivers, add: DeepReport): Promise<void> {
  const statuses = await runtime.catalog.reconcile.backupStatuses();
  const kept = new Set(copies.filter(isKept).map((c) => `${c.storage}\0${c.backupId}`));
  const dirs = new Set([
    ...copies.map((c) => storedDatabaseName({ objectKey: c.objectKey, databaseName: c.database })),
    ...(await runtime.catalog.listDatabases()).map((d) => d.name),
  ]);
  for (const storage of await runtime.catalog.listStorages()) {
    const driver = await drivers.get(storage.name);
    let listed = 0;
    for (const dir of dirs) {
      for (const object of await driver.list(dir)) {
        const [, , backupId] = MANIFEST.exec(object.key) ?? [];
        if (!backupId) continue;
        listed += 1;
        if (kept.has(`${storage.name}\0${backupId}`)) continue;
        const status = statuses.get(backupId);
        add(
          `object ${object.key} in ${storage.name}`,
          status === 'running' ? 'warn' : 'fail',
          status === 'running'
            ? 'a manifest of a backup still running: it is complete in the catalog once its copies are'
            : `a manifest makes backup ${backupId} look complete here, but the catalog has ${status ? `it as ${status}` : 'no such backup'}: run hindsight catalog rebuild to adopt it, or remove the object`,
        );
      }
    }
    add(`manifests in ${storage.name}`, 'ok', `${listed} read`);
  }
}

/** A backup the catalog has as running has a running workflow. */
async function checkRunningBackups(runtime: Runtime, temporal: Client, add: DeepReport): Promise<void> {
  const running = await runtime.catalog.reconcile.runningBackups();
  for (const backup of running) {
    const status = await temporal.workflow
      .getHandle(backup.workflowId)
      .describe()
      .then(
        (d) => d.status.name,
        (error: unknown) =>
          error instanceof WorkflowNotFoundError ? 'not found' : `unreadable (${errorMessage(error)})`,
      );
    if (status === 'RUNNING') continue;
    add(
      `backup ${backup.backupId}`,
      'fail',
      `running in the catalog since ${backup.startedAt.toISOString()}, but its workflow ${backup.workflowId} is ${status}: the backup watchdog marks it failed; nothing of it is restorable`,
    );
  }
  add('running backups', 'ok', `${running.length} in the catalog, each checked against its workflow`);
}

/** Each scheduled database has its `backup/<name>` schedule, and no such schedule outlives its database. */
async function checkSchedules(runtime: Runtime, temporal: Client, add: DeepReport): Promise<void> {
  const expected = new Set(await runtime.catalog.reconcile.scheduledDatabases());
  const present = new Set<string>();
  for await (const schedule of temporal.schedule.list()) {
    if (schedule.scheduleId.startsWith('backup/')) present.add(schedule.scheduleId);
  }
  for (const name of expected) {
    if (present.has(backupScheduleId(name))) continue;
    add(
      `schedule ${backupScheduleId(name)}`,
      'fail',
      `database ${name} has a backup schedule in the catalog but none in Temporal: save it again (hindsight db schedule ${name} '<cron>')`,
    );
  }
  for (const id of present) {
    if (expected.has(id.slice('backup/'.length))) continue;
    const left = await temporal.schedule
      .getHandle(id)
      .describe()
      .then(
        () => true,
        (error: unknown) => !(error instanceof ScheduleNotFoundError),
      );
    if (left)
      add(
        `schedule ${id}`,
        'fail',
        `no scheduled database ${id.slice('backup/'.length)} in the catalog: delete it (temporal schedule delete --schedule-id ${id})`,
      );
  }
  add('backup schedules', 'ok', `${expected.size} expected, ${present.size} in Temporal`);
}

/** Every WAL file and complete base backup the catalog holds is in its storage; complete ones at their size. */
async function checkArchive(runtime: Runtime, drivers: Drivers, add: DeepReport): Promise<void> {
  const rows = await runtime.catalog.reconcile.archiveObjects();
  const listings = new Map<string, Map<string, ObjectInfo>>();
  let found = 0;
  for (const row of rows) {
    const at = `${row.storage}\0${row.systemIdentifier}`;
    let listing = listings.get(at);
    if (!listing) {
      const objects = await (await drivers.get(row.storage)).list(`pitr/${row.systemIdentifier}`);
      listing = new Map(objects.map((o) => [o.key, o]));
      listings.set(at, listing);
    }
    const object = listing.get(row.objectKey);
    const sizeDiffers = object && row.complete && row.storedBytes !== null && object.size !== row.storedBytes;
    if (object && !sizeDiffers) {
      found += 1;
      continue;
    }
    add(
      `${row.kind} ${row.objectKey} in ${row.storage}`,
      row.complete ? 'fail' : 'warn',
      object
        ? `holds ${object.size} bytes where the catalog recorded ${row.storedBytes}: the chain monitor counts it as damaged; take a base backup`
        : `database ${row.database}'s archive lacks it${row.complete ? ': every window through it is broken until a new base backup (hindsight base-backup ${row.database})' : ' (a partial segment, replaced as WAL streams)'}`,
    );
  }
  add('PITR archive', 'ok', `${found} of ${rows.length} archived objects found in their storages`);
}

/** Runs every deep check; a check that cannot run is itself a failure, so that silence never means agreement. */
export async function runDeepChecks(runtime: Runtime, temporal: Client | undefined, add: DeepReport): Promise<void> {
  const drivers = new Drivers(runtime);
  const attempt = async (name: string, check: () => Promise<void>) => {
    await check().catch((error: unknown) => add(name, 'fail', `could not be checked: ${errorMessage(error)}`));
  };
  try {
    const copies = await runtime.catalog.reconcile.copies();
    await attempt('backup copies', () => checkCopies(copies, drivers, add));
    await attempt('manifests', () => checkManifests(runtime, copies, drivers, add));
    await attempt('PITR archive', () => checkArchive(runtime, drivers, add));
    if (!temporal) add('workflows and schedules', 'fail', 'Temporal is unreachable, so they could not be checked');
    else {
      await attempt('running backups', () => checkRunningBackups(runtime, temporal, add));
      await attempt('backup schedules', () => checkSchedules(runtime, temporal, add));
    }
  } finally {
    await drivers.close();
  }
}
