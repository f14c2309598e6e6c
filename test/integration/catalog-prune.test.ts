/**
 * A bounded catalog on a real PostgreSQL catalog: a backup deleted by retention takes the rows that
 * describe it alone (its copies and finished verifications at once, its row and restore runs once
 * its tombstone has aged), and the daily maintenance activity removes old audit entries,
 * notifications with their deliveries, hook runs and superseded history in small batches, keeping
 * recent rows and the newest record of each backup and database. What is shown for a kept backup
 * does not change.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCatalogMaintenanceActivities } from '../../activities/catalog-maintenance.ts';
import { openCatalog, type Catalog } from '../../lib/catalog/catalog.ts';
import type { PruneCount } from '../../lib/catalog/prune.ts';
import { defaultCatalogRetention } from '../../lib/catalog/prune-rules.ts';
import { openKeyring } from '../../lib/crypto/keyring.ts';
import { generateSecretKey, writeNewKeyFile } from '../../lib/crypto/secret-key.ts';
import { destroyLocalCluster, type LocalCluster } from '../../lib/pg/cluster.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import type { PruneReport } from '../../services/catalog/prune.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import { capturedLogger, createDatabase, startTestCluster } from '../support/platform.ts';
import { useTempDir } from '../support/temp-dir.ts';

const DAY = 24 * 3600_000;
const daysAgo = (n: number, now = Date.now()) => new Date(now - n * DAY);

let catalog: Catalog;
let cliEnv: Record<string, string>;
const sql = (text: string, values: unknown[] = []) => catalog.pool.query(text, values);
const count = async (text: string, values: unknown[] = []) =>
  Number((await sql(`select count(*)::int as n from ${text}`, values)).rows[0].n);

/** A complete backup with one copy, a successful verification and a verified restore, started `age` days ago. */
async function seedBackup(id: string, age: number): Promise<void> {
  const at = daysAgo(age);
  await sql(
    `insert into backups (id, database_id, workflow_id, status, trigger, started_at, finished_at, size_bytes)
     values ($1, 1, 'backup/shop/' || $1, 'complete', 'schedule', $2, $2, 100)`,
    [id, at],
  );
  await sql(`insert into backup_copies (backup_id, storage_id, status, size_bytes) values ($1, 1, 'complete', 100)`, [
    id,
  ]);
  await sql(
    `insert into verifications (id, database_id, backup_id, trigger, status, requested_at)
     values ('v-' || $1, 1, $1, 'after_backup', 'successful', $2)`,
    [id, at],
  );
  await sql(
    `insert into restores (id, backup_id, workflow_id, target, status, started_at)
     values ('r-' || $1, $1, 'restore/shop/' || $1, 'sandbox', 'verified', $2)`,
    [id, at],
  );
}

/** A notification queued `age` days ago with one delivery in `status`; its id. */
async function notify(age: number, status: string): Promise<number> {
  const { rows } = await sql(
    `insert into notifications (database_id, workspace_id, event, message, created_at, planned_at)
     values (1, 1, 'backup_failed', 'm', $1, $1) returning id`,
    [daysAgo(age)],
  );
  await sql(
    `insert into notification_deliveries (notification_id, notifier_id, status, created_at) values ($1, 1, $2, $3)`,
    [rows[0].id, status, daysAgo(age)],
  );
  return Number(rows[0].id);
}

/** Audit entries, hook runs, a second verification and health transitions, old and recent. */
async function seedHistory(): Promise<void> {
  for (const age of [400, 401, 402, 403, 404, 10, 11])
    await sql(`insert into audit_log (at, actor, action, outcome) values ($1, 'system', 'test.entry', 'ok')`, [
      daysAgo(age),
    ]);
  for (const age of [200, 1])
    await sql(
      `insert into hook_runs (database_id, scope, kind, workflow_id, duration_ms, status, started_at, finished_at)
       values (1, 'database', 'pre_backup', 'w', 1, 'ok', $1, $1)`,
      [daysAgo(age)],
    );
  await seedBackup('b-history', 300);
  await sql(
    `insert into verifications (id, database_id, backup_id, trigger, status, requested_at)
     values ('v-again', 1, 'b-history', 'schedule', 'successful', $1)`,
    [daysAgo(250)],
  );
  await sql(`insert into health_events (database_id, status, at) values (1, 'up', $1), (1, 'down', $2)`, [
    daysAgo(200),
    daysAgo(199),
  ]);
  await sql(
    `insert into restore_drills (id, database_id, trigger, status, started_at, finished_at, time_to_usable_seconds)
     values ('d-old', 1, 'schedule', 'successful', $1, $1, 40), ('d-old-failed', 1, 'manual', 'failed', $2, $2, null),
            ('d-recent', 1, 'schedule', 'successful', $3, $3, 41)`,
    [daysAgo(250), daysAgo(200), daysAgo(1)],
  );
}

/** Throttling counters, challenges, SSO attempts, reset links, setup tokens and invitations, dead and live. */
async function pruneSignInState(): Promise<void> {
  await sql(`insert into users (email, display_name, password_hash) values ('ann@example.com', 'Ann', null)`);
  await sql(`insert into identity_providers (name, display_name, issuer, client_id, sealed_client_secret, claim)
             values ('idp', 'IdP', 'https://idp.example', 'c', 'sealed', 'groups')`);
  await sql(`insert into login_attempts (key, window_start, attempts) values ('old', $1, 3), ('now', now(), 1)`, [
    daysAgo(2),
  ]);
  const expiring = (table: string, columns: string, values: string) =>
    sql(`insert into ${table} (token_sha256, ${columns}, expires_at) values
         ('dead', ${values}, now() - interval '1 minute'), ('live', ${values}, now() + interval '1 hour')`);
  const ann = `(select id from users where email = 'ann@example.com')`;
  await expiring('auth_challenges', 'purpose, user_id', `'second_factor', ${ann}`);
  await expiring('password_resets', 'user_id', ann);
  await expiring('setup_tokens', 'created_at', 'now()');
  await sql(`insert into oidc_logins (state_sha256, provider_id, nonce, code_verifier, expires_at)
             select s, id, 'n', 'v', now() + e from identity_providers,
             (values ('dead', interval '-1 minute'), ('live', interval '5 minutes')) v(s, e)`);
  await sql(
    `insert into invitations (token_sha256, email, workspace_id, role, expires_at, accepted_at, accepted_by)
     values ('dead', 'a@example.com', 1, 'viewer', $1, null, null), ('accepted', 'ann@example.com', 1, 'viewer', $1, $1, (select id from users)),
            ('recent', 'b@example.com', 1, 'viewer', $2, null, null)`,
    [daysAgo(400), daysAgo(3)],
  );
  const pruned = await catalog.maintenance.pruneCatalog(defaultCatalogRetention);
  const rows = (rule: string) => pruned.find((p) => p.rule === rule)?.rows;
  for (const rule of ['login-attempts', 'sign-in-challenges', 'oidc-logins', 'password-resets', 'setup-tokens'])
    assert.equal(rows(rule), 1, `${rule}: the dead row only`);
  assert.deepEqual((await sql(`select key from login_attempts`)).rows, [{ key: 'now' }]);
  for (const table of ['auth_challenges', 'password_resets', 'setup_tokens'])
    assert.deepEqual((await sql(`select token_sha256 from ${table}`)).rows, [{ token_sha256: 'live' }], table);
  assert.deepEqual((await sql(`select state_sha256 from oidc_logins`)).rows, [{ state_sha256: 'live' }]);
  assert.equal(rows('invitations'), 1);
  const invitations = (await sql(`select token_sha256 from invitations order by 1`)).rows;
  assert.deepEqual(invitations, [{ token_sha256: 'accepted' }, { token_sha256: 'recent' }], 'accepted and recent stay');
}

/** `hindsight catalog prune` as an operator runs it, against the same catalog. */
async function pruneFromTheCli(): Promise<void> {
  await sql(`insert into audit_log (at, actor, action, outcome) values ($1, 'system', 'test.cli', 'ok')`, [
    daysAgo(500),
  ]);
  const dry = await hindsightResult(cliEnv, ['catalog', 'prune', '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout) as PruneReport;
  assert.equal(planned.dryRun, true);
  assert.equal(planned.rules.find((r) => r.rule === 'audit')?.rows, 1);
  assert.equal(await count(`audit_log where action = 'test.cli'`), 1, 'a dry run removes nothing');

  const run = await hindsightResult(cliEnv, ['catalog', 'prune']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^audit: removed 1 audit_log row\(s\) before /m);
  assert.equal(await count(`audit_log where action = 'test.cli'`), 0);
  assert.equal(await count(`audit_log where action = 'catalog.prune' and outcome = 'ok'`), 1, 'the run is audited');
}

/** A catalog on a fresh server in `dir`, with one database on one storage, and the CLI's environment for it. */
async function openTestCatalog(dir: string): Promise<LocalCluster> {
  // PostgreSQL runs as its own OS user when the tests run as root: it must reach the directory.
  await chmod(dir, 0o755);
  const cluster = await startTestCluster(dir);
  const keyFile = path.join(dir, 'data', 'secret.key');
  await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  await writeNewKeyFile(keyFile, generateSecretKey());
  const keys = openKeyring({ currentFile: keyFile, keysDir: path.join(dir, 'keys'), previousFiles: [] });
  const target = await createDatabase(cluster, 'catalog');
  catalog = await openCatalog(target, keys);
  cliEnv = { HINDSIGHT_DATA_DIR: path.dirname(keyFile), DATABASE_URL: targetUrl(target) };
  await sql(`insert into storages (name, type, config) values ('local', 'local', '{}')`);
  await sql(`insert into databases (name, host, port, dbname, username) values ('shop', 'db', 5432, 'shop', 'u')`);
  await sql(`insert into database_storages (database_id, storage_id, position) values (1, 1, 0)`);
  return cluster;
}

describe('catalog pruning', () => {
  const tempDir = useTempDir('hindsight-catalog-prune-');
  let cluster: LocalCluster;

  before(async () => {
    cluster = await openTestCatalog(tempDir());
  });

  after(async () => {
    await catalog?.close();
    if (cluster) await destroyLocalCluster(cluster);
  });

  it('removes the rows of a backup deleted by retention, and its tombstone once it has aged', async () => {
    await seedBackup('b-old', 40);
    await seedBackup('b-kept', 1);
    const keptBefore = await catalog.getBackup('b-kept');
    const listedBefore = (await catalog.listBackups('shop')).find((b) => b.id === 'b-kept');

    await catalog.markBackupDeleted('b-old', 'older than the policy keeps');
    assert.equal((await catalog.getBackup('b-old')).status, 'deleted');
    assert.equal(await count(`backup_copies where backup_id = 'b-old'`), 0, 'its copies went with it');
    assert.equal(await count(`verifications where backup_id = 'b-old'`), 0, 'its verification went with it');
    assert.equal(await count(`restores where backup_id = 'b-old'`), 1, 'its restore run stays with the tombstone');

    // Within HINDSIGHT_DELETED_BACKUP_RETENTION_DAYS the tombstone stays.
    await catalog.maintenance.pruneCatalog(defaultCatalogRetention);
    assert.equal(await count(`backups where id = 'b-old'`), 1);

    const later = new Date(Date.now() + (defaultCatalogRetention.deletedBackupDays + 1) * DAY);
    const pruned = await catalog.maintenance.pruneCatalog(defaultCatalogRetention, later);
    assert.equal(pruned.find((p) => p.rule === 'deleted-backups')?.rows, 1);
    assert.equal(await count(`backups where id = 'b-old'`), 0, 'the tombstone is gone');
    assert.equal(await count(`restores where backup_id = 'b-old'`), 0, 'its restore runs went by cascade');

    assert.deepEqual(await catalog.getBackup('b-kept'), keptBefore, 'the kept backup reads the same');
    const listedAfter = (await catalog.listBackups('shop')).find((b) => b.id === 'b-kept');
    assert.deepEqual(listedAfter, listedBefore, 'and is listed the same');
    assert.equal(await count(`backup_copies where backup_id = 'b-kept'`), 1);
    assert.equal(await count(`verifications where backup_id = 'b-kept'`), 1);
  });

  it('prunes old audit entries, deliveries and history in batches, and keeps the recent and the newest', async () => {
    await sql(`insert into notifiers (name, type, config, summary, events) values ('ops', 'webhook', '{}', 'x', '{}')`);
    const oldSent = await notify(100, 'sent');
    const oldPending = await notify(100, 'pending');
    const recent = await notify(5, 'sent');
    await seedHistory();

    const planned = await catalog.maintenance.planCatalogPrune(defaultCatalogRetention);
    const rows = (list: typeof planned, rule: string) => list.find((p) => p.rule === rule)?.rows;
    const { pruneCatalogRows } = createCatalogMaintenanceActivities({
      catalog,
      logger: capturedLogger('maintenance', () => undefined),
    });
    const pruned = (await new MockActivityEnvironment().run(pruneCatalogRows, {
      retention: defaultCatalogRetention,
      batchSize: 2,
    })) as PruneCount[];
    for (const rule of ['audit', 'notifications', 'hook-runs', 'verifications', 'health-events', 'restore-drills'])
      assert.equal(rows(pruned, rule), rows(planned, rule), `the dry run counted what ${rule} removed`);

    assert.equal(rows(pruned, 'audit'), 5, 'five entries over a year old, in three batches of at most two');
    assert.equal(await count(`audit_log where action = 'test.entry'`), 2, 'the recent entries stay');
    assert.equal(await count(`notifications where id = $1`, [oldSent]), 0);
    assert.equal(await count(`notification_deliveries where notification_id = $1`, [oldSent]), 0);
    assert.equal(await count(`notifications where id = $1`, [oldPending]), 1, 'an undelivered one waits');
    assert.equal(await count(`notification_deliveries where notification_id = $1`, [recent]), 1);
    assert.equal(await count(`hook_runs`), 1, 'the recent hook run stays');
    assert.equal(
      await count(`verifications where backup_id = 'b-history'`),
      1,
      "the backup's newest verification stays",
    );
    assert.equal(await count(`verifications where id = 'v-again'`), 1);
    assert.deepEqual((await sql(`select status from health_events`)).rows, [{ status: 'down' }]);
    assert.equal(rows(pruned, 'restore-drills'), 2, 'the two drills older than the job history');
    assert.deepEqual((await sql(`select id from restore_drills`)).rows, [{ id: 'd-recent' }]);
    assert.equal(await count(`restores where backup_id = 'b-history'`), 1, "the backup's only restore run stays");
    assert.equal(await count(`backups where id in ('b-kept', 'b-history')`), 2, 'kept backups are never pruned');
  });
  it("prunes old PITR drills but each server's newest and the passed one its proven-up-to time comes from", async () => {
    await sql(`insert into servers (name, system_identifier, server_version, username, host, port, dbname)
               values ('pg1', '7000000000000000001', '17.2', 'u', 'db', 5432, 'postgres')`);
    const proves = (hours: number) => new Date(Date.UTC(2026, 0, 1, hours));
    const drill = (age: number, outcome: string, hours: number) =>
      sql(
        `insert into pitr_drills (server_id, workflow_id, window_text, target, proves_until, outcome, started_at, finished_at)
         select id, 'w', 'window', $3::timestamptz::text, $3, $2, $1, $1 from servers where name = 'pg1'`,
        [daysAgo(age), outcome, proves(hours)],
      );
    await drill(300, 'passed', 10);
    await drill(250, 'failed', 12);
    await drill(200, 'passed', 5);
    await drill(190, 'failed', 11);
    await drill(1, 'failed', 13);
    const before = await catalog.servers.drillSummaries();
    assert.deepEqual(before[0]?.provenUpTo, proves(10));
    const pruned = await catalog.maintenance.pruneCatalog(defaultCatalogRetention);
    assert.equal(pruned.find((p) => p.rule === 'pitr-drills')?.rows, 3);
    const kept = (await sql(`select outcome, proves_until from pitr_drills order by finished_at`)).rows;
    assert.deepEqual(kept, [
      { outcome: 'passed', proves_until: proves(10) },
      { outcome: 'failed', proves_until: proves(13) },
    ]);
    assert.deepEqual(await catalog.servers.drillSummaries(), before, 'proven-up-to and the last outcome stay');
  });
  it('prunes dead sign-in state and keeps what is live or accepted', pruneSignInState);
  it('shows with catalog prune --dry-run what would go, removes it without, and audits the run', pruneFromTheCli);
});
