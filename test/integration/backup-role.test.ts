import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { checkReadOnly, createBackupRole } from '../../lib/pg/backup-role.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { getPage, postAction, startSignedInConsole } from '../support/console.ts';
import { tableFingerprint, type Platform } from '../support/platform.ts';
import { assertSameTables, sequenceValue, startSeededPlatform } from '../support/seeded-platform.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

const schema = `
  create table customers (id serial primary key, email text not null, plan text);
  insert into customers (email, plan) select 'c' || g || '@example.org', (array['free','pro'])[1 + g % 2] from generate_series(1, 3000) g;
  create schema billing;
  create table billing.invoices (no bigint primary key, customer_id int not null, amount numeric(12,2));
  insert into billing.invoices select g, 1 + g % 3000, g * 1.25 from generate_series(1, 5000) g;
  -- Row-level security: pg_dump refuses such a table unless the role bypasses it.
  create table notes (id int primary key, owner text not null, body text);
  insert into notes select g, 'u' || g % 7, 'note ' || g from generate_series(1, 700) g;
  alter table notes enable row level security;
  create policy own_notes on notes using (owner = current_user);
  create sequence billing.invoice_no start 1000;
  select setval('billing.invoice_no', 1234);
  -- A role that can write in several ways, for the check.
  create role editors nologin;
  grant update on customers to editors;
  create role app_writer login password 'app-writer-pw' in role editors;
  grant usage, create on schema billing to app_writer;
  grant select, insert on customers to app_writer;
`;
const tables: Array<[string, string]> = [
  ['customers', 'id'],
  ['billing.invoices', 'no'],
  ['notes', 'id'],
];

describe('the read-only backup role', () => {
  let platform: Platform;
  let source: PgTarget;

  before(async () => {
    ({ platform, source } = await startSeededPlatform('crm', schema));
    // Registered as the superuser, as people often do at first.
    await platform.ops.addDatabase({ name: 'crm', url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    await platform?.stop();
  });

  it('the check reports a writable role as not read-only, with every reason', async () => {
    const superuser = await platform.ops.backupRole.checkRole('crm');
    assert.equal(superuser.readOnly, false);
    assert.deepEqual(superuser.reasons, [
      `role "${source.user}" has SUPERUSER, CREATEDB, CREATEROLE, REPLICATION (only PITR needs it)`,
    ]);

    const writer = await checkReadOnly('crm', { ...source, user: 'app_writer', password: 'app-writer-pw' });
    assert.equal(writer.readOnly, false);
    assert.deepEqual(writer.reasons, [
      'member of role "editors", which has write access to 1 table(s)',
      'can INSERT on 1 table(s): public.customers',
      'can UPDATE on 1 table(s): public.customers',
      'can CREATE objects in schema(s) billing',
    ]);
    assert.deepEqual(
      writer.unreadableTables,
      ['billing.invoices', 'public.notes'],
      'tables it cannot read are named too',
    );

    const { stdout } = await run(process.execPath, [cli, 'db', 'add', 'crm2', '--url', targetUrl(source)], {
      env: { ...process.env, ...platform.configEnv },
    });
    assert.match(
      stdout,
      /role "hindsight" can write \(role "hindsight" has SUPERUSER.*\): create a read-only backup role with hindsight db create-backup-role crm2\n$/,
      'db add offers the read-only role in one line',
    );
  });

  it('creates a read-only role in one step and switches the database to it', async () => {
    const result = await platform.ops.backupRole.createRole('crm', { roleName: 'crm_backup' });
    assert.equal(result.role, 'crm_backup');
    assert.equal(result.check.readOnly, true, result.check.reasons.join('; '));
    assert.deepEqual(result.check.unreadableTables, []);
    assert.ok(result.statements.includes('grant pg_read_all_data to "crm_backup"'));
    assert.ok(
      result.statements[0]!.includes('BYPASSRLS') && result.statements[0]!.includes('NOREPLICATION'),
      result.statements[0],
    );
    assert.ok(
      !JSON.stringify(result).includes((await platform.runtime.catalog.databaseTarget('crm')).password!),
      'the password is not returned',
    );

    const target = await platform.runtime.catalog.databaseTarget('crm');
    assert.equal(target.user, 'crm_backup');
    assert.ok(target.password && target.password !== source.password);
    const { rows } = await platform.runtime.catalog.pool.query(
      "select sealed_password from databases where name = 'crm'",
    );
    assert.ok(!String(rows[0].sealed_password).includes(target.password), 'the password is sealed in the catalog');

    const { stdout } = await run(process.execPath, [cli, 'db', 'role-check', 'crm'], {
      env: { ...process.env, ...platform.configEnv },
    });
    assert.equal(stdout, 'database "crm": role "crm_backup" is read-only\n');
  });

  it('the created role takes a full backup that restores with identical data', async () => {
    const outcome = await (await platform.ops.startBackup('crm')).result();
    assert.equal(outcome.status, 'complete');
    assert.equal(outcome.rows, 3000 + 5000 + 700, 'every row, the row-level-secured table included');
    const restore = await platform.ops.startRestore({
      database: 'crm',
      backupId: outcome.backupId,
      to: { url: targetUrl({ ...source, database: 'crm_restored' }) },
    });
    await restore.result();
    const restored = { ...source, database: 'crm_restored' };
    await assertSameTables(restored, source, tables);
    assert.equal(await sequenceValue(restored, 'billing.invoice_no'), '1234');
  });

  it('the created role cannot INSERT, UPDATE, DELETE, TRUNCATE or CREATE', async () => {
    const target = await platform.runtime.catalog.databaseTarget('crm');
    const client = await connect('crm as backup role', target);
    try {
      const attempts: Array<[string, string]> = [
        ['INSERT', "insert into customers (email) values ('x@example.org')"],
        ['UPDATE', "update customers set plan = 'pro' where id = 1"],
        ['DELETE', 'delete from billing.invoices where no = 1'],
        ['TRUNCATE', 'truncate notes'],
        ['CREATE TABLE', 'create table public.intruder (id int)'],
        ['CREATE TABLE in billing', 'create table billing.intruder (id int)'],
        ['CREATE SCHEMA', 'create schema intruder'],
        ['nextval', "select nextval('billing.invoice_no')"],
      ];
      for (const [what, sql] of attempts) {
        await assert.rejects(
          client.query(sql),
          (error: { code?: string; message: string }) => {
            assert.equal(error.code, '42501', `${what}: ${error.message}`);
            assert.match(error.message, /permission denied/);
            return true;
          },
          `${what} must be refused`,
        );
      }
      // It reads everything, though.
      const { rows } = await client.query(
        'select (select count(*) from customers)::int as c, (select count(*) from notes)::int as n',
      );
      assert.deepEqual(rows[0], { c: 3000, n: 700 });
    } finally {
      await client.end();
    }
    assert.deepEqual(
      await tableFingerprint(source, 'customers', 'id'),
      await tableFingerprint({ ...source, database: 'crm_restored' }, 'customers', 'id'),
      'nothing changed',
    );
  });

  it('explicit grants (servers before 14) give a read-only role that also reads tables created later', async () => {
    const created = await createBackupRole('crm', source, { roleName: 'crm_backup_explicit', explicitGrants: true });
    assert.ok(!created.statements.some((s) => s.includes('pg_read_all_data')));
    assert.ok(created.statements.includes('grant select on all tables in schema "billing" to "crm_backup_explicit"'));
    const admin = await connect('crm', source);
    await admin.query('create table billing.later (id int); insert into billing.later values (1)');
    await admin.end();
    const report = await checkReadOnly('crm', { ...source, user: 'crm_backup_explicit', password: created.password });
    assert.equal(report.readOnly, true, report.reasons.join('; '));
    assert.deepEqual(report.unreadableTables, [], 'default privileges cover the table created afterwards');
    await assert.rejects(
      createBackupRole('crm', source, { roleName: 'crm_backup_explicit' }),
      /role "crm_backup_explicit" already exists/,
    );
  });

  it('the console shows the check and creates the read-only role from its form', async () => {
    const server = await startSignedInConsole(platform);
    try {
      const before = await getPage(server, '/hooks/crm2');
      assert.match(before, /Backups connect as <code>hindsight<\/code>, which can write/);
      assert.match(before, /has SUPERUSER/);
      const body = await postAction(server, '/hooks/crm2?/createRole', { roleName: 'crm2_backup' });
      assert.equal(body.type, 'success', JSON.stringify(body));
      const target = await platform.runtime.catalog.databaseTarget('crm2');
      assert.equal(target.user, 'crm2_backup');
      assert.ok(body.data && !body.data.includes(target.password!), 'the new password is not sent to the browser');
      const after = await getPage(server, '/hooks/crm2');
      assert.match(after, /Backups connect as <code>crm2_backup<\/code>, which is read-only/);
      const refused = await postAction(server, '/hooks/crm2?/createRole', { roleName: 'crm2_backup' });
      assert.equal(refused.type, 'failure');
      assert.match(refused.data ?? '', /already connects as \\"crm2_backup\\"|already connects as/);
    } finally {
      await server.close();
    }
  });
});
