import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { defaultWhere } from '../../lib/backup/compress.ts';
import { streamDumpToStorage } from '../../lib/backup/dump.ts';
import { manifestSchema, type BackupManifest } from '../../lib/backup/manifest.ts';
import { streamRestoreFromStorage } from '../../lib/backup/restore.ts';
import { openBackupFromAny } from '../../lib/backup/sources.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { innermostMessage } from '../support/failures.ts';
import { createDatabase, type Platform } from '../support/platform.ts';
import {
  extractReferenceDecryptor,
  pythonWithCryptography,
  runReferenceDecryptor,
} from '../support/reference-decryptor.ts';
import { assertSameTables, startSeededPlatform } from '../support/seeded-platform.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

/** Tables of different sizes and types, so that two pg_dump jobs each have files to write. */
const sourceSchema = `
  create table orders (id bigint primary key, customer text not null, total numeric(12,2), placed_at timestamptz not null);
  insert into orders select g, 'customer ' || g % 997, g * 0.37, timestamptz '2025-01-01' + g * interval '1 minute'
    from generate_series(1, 120000) g;
  create table order_lines (order_id bigint not null, line int not null, sku text, qty int, note jsonb, primary key (order_id, line));
  insert into order_lines select g / 3 + 1, g % 3, 'sku-' || g % 5000, 1 + g % 9, jsonb_build_object('gift', g % 11 = 0)
    from generate_series(0, 299999) g;
  create schema catalog;
  create table catalog.products (sku text primary key, title text, photo bytea);
  insert into catalog.products select 'sku-' || g, repeat('title ' || g, 3), decode(md5(g::text), 'hex') from generate_series(0, 4999) g;
  create table coupons (code text primary key, used boolean);
  insert into coupons select 'C' || g, g % 2 = 0 from generate_series(1, 700) g;
  create table empty_table (id int);
`;

const tables: Array<[string, string]> = [
  ['orders', 'id'],
  ['order_lines', 'order_id, line'],
  ['catalog.products', 'sku'],
  ['coupons', 'code'],
  ['empty_table', 'id'],
];

const readManifest = async (platform: Platform, id: string): Promise<BackupManifest> =>
  manifestSchema.parse(JSON.parse(await readFile(path.join(platform.backupsDir, 'shop', `${id}.json`), 'utf8')));

describe('parallel logical backups (pg_dump -Fd -j 2 in one tar object)', () => {
  let platform: Platform;
  let source: PgTarget;
  let singleId: string;
  let parallelId: string;
  let tmp: string;
  const previousTmp = process.env.TMPDIR;

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', sourceSchema));
    // The worker runs in this process: from here on its spools and unpacked archives go where the test sees them.
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hindsight-pardump-test-'));
    process.env.TMPDIR = tmp;
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    await platform?.stop();
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('takes a single-stream backup while the setting is 1', async () => {
    const outcome = await (await platform.ops.startBackup('shop')).result();
    assert.equal(outcome.status, 'complete');
    singleId = outcome.backupId;
    const manifest = await readManifest(platform, singleId);
    assert.equal(manifest.tool.format, 'custom');
    assert.equal(manifest.tool.jobs, undefined);
  });

  it('db update --jobs 2 through the CLI; 17 is refused by name', async () => {
    const env = { ...process.env, ...platform.configEnv };
    await run(process.execPath, [cli, 'db', 'update', 'shop', '--jobs', '2'], { env });
    assert.equal((await platform.ops.getDatabase('shop')).parallelJobs, 2);
    const shown = await run(process.execPath, [cli, 'db', 'show', 'shop'], { env });
    assert.match(shown.stdout, /^dump {10}2 parallel jobs \(pg_dump -Fd -j 2, one tar object\)$/m);
    await assert.rejects(
      run(process.execPath, [cli, 'db', 'update', 'shop', '--jobs', '17'], { env }),
      (error: { stderr: string }) => /parallel jobs must be at most 16/.test(error.stderr),
    );
  });

  it('backs up with two jobs into one object whose manifest says directory, 2 jobs; the spool is gone', async () => {
    const outcome = await (await platform.ops.startBackup('shop')).result();
    assert.equal(outcome.status, 'complete');
    parallelId = outcome.backupId;
    const manifest = await readManifest(platform, parallelId);
    assert.equal(manifest.tool.format, 'directory');
    assert.equal(manifest.tool.jobs, 2);
    // The single stream's choice: zstd over the tar before pg_dump 16, zstd in each job from 16.
    assert.equal(manifest.tool.compression.where, defaultWhere(Number.parseInt(manifest.tool.version, 10)));
    const stored = (await readdir(path.join(platform.backupsDir, 'shop'))).filter((f) => f.startsWith(parallelId));
    assert.deepEqual(stored.sort(), [`${parallelId}.dump.hsb`, `${parallelId}.json`, `${parallelId}.roles.hsb`].sort());
    assert.deepEqual(
      (await readdir(tmp)).filter((f) => f.startsWith('hindsight-dump-')),
      [],
      'the spool is removed after the backup',
    );
  });

  it('restores the parallel backup: every table equal to the source, row for row', async () => {
    const restore = await platform.ops.startRestore({
      database: 'shop',
      backupId: parallelId,
      to: { database: 'shop_parallel' },
    });
    await restore.result();
    await assertSameTables({ ...source, database: 'shop_parallel' }, source, tables);
    assert.deepEqual(
      (await readdir(tmp)).filter((f) => f.startsWith('hindsight-restore-')),
      [],
      'the unpacked archive is removed after the restore',
    );
  });

  it('a directory archive compressed by each job (inside) restores too', async () => {
    const root = await mkdtemp(path.join(tmp, 'inside-'));
    const driver = createLocalStorage({ name: 'inside', root });
    const backupId = '20260101T000000Z-a1b2c3';
    const { manifest } = await streamDumpToStorage({
      databaseName: 'shop',
      backupId,
      target: source,
      destinations: [{ name: 'inside', driver }],
      key: platform.runtime.key,
      parallelJobs: 2,
      compression: 'inside',
    });
    assert.deepEqual([manifest.tool.format, manifest.tool.compression.where], ['directory', 'inside']);
    const target = await createDatabase(platform.cluster, 'shop_inside');
    const opened = await openBackupFromAny([{ name: 'inside', driver }], 'shop', backupId);
    await streamRestoreFromStorage({
      label: 'inside',
      manifest: opened.manifest,
      object: opened.object,
      expect: opened.expect,
      key: platform.runtime.key,
      target,
    });
    await assertSameTables(target, source, tables);
  });

  it('the older single-stream backup still restores the same tables', async () => {
    const restore = await platform.ops.startRestore({
      database: 'shop',
      backupId: singleId,
      to: { database: 'shop_single' },
    });
    await restore.result();
    await assertSameTables({ ...source, database: 'shop_single' }, source, tables);
  });

  it('verification in a throwaway server passes with exact counts for every table', async () => {
    const done = await (await platform.ops.requestVerification('shop', { backupId: parallelId })).finished();
    assert.equal(done.status, 'successful', JSON.stringify(done));
    assert.equal(done.report?.mismatches, 0);
    assert.equal(done.report?.tables, tables.length);
  });

  it('a parallel dump that fails leaves no object and no spool, and names the missing grant', async () => {
    const admin = await connect('admin', source);
    try {
      await admin.query(`create role shop_partial login password 'partial-password'`);
      await admin.query('grant select on orders, order_lines, coupons, empty_table to shop_partial');
      await admin.query('grant usage on schema catalog to shop_partial');
    } finally {
      await admin.end();
    }
    const url = targetUrl({ ...source, user: 'shop_partial', password: 'partial-password' });
    await platform.ops.addDatabase({ name: 'shop-partial', url, verifyAfterBackup: false, parallelJobs: 2 });
    const backup = await platform.ops.startBackup('shop-partial');
    await assert.rejects(backup.result(), (error: unknown) => {
      assert.match(
        innermostMessage(error),
        /database "shop-partial": .*permission denied for table products.*grant the backup role SELECT/,
      );
      return true;
    });
    const stored = await readdir(path.join(platform.backupsDir, 'shop-partial')).catch(() => [] as string[]);
    assert.deepEqual(stored, [], 'a failed dump leaves nothing in storage');
    assert.deepEqual(
      (await readdir(tmp)).filter((f) => f.startsWith('hindsight-dump-')),
      [],
      'the spool is removed after a failure',
    );
  });

  it('hindsight decrypt says what the object is; the Python decryptor gives the same tar, which pg_restore reads', async () => {
    const dir = await mkdtemp(path.join(tmp, 'decrypt-'));
    const object = path.join(platform.backupsDir, 'shop', `${parallelId}.dump.hsb`);
    const env = { ...process.env, ...platform.configEnv };
    const out = path.join(dir, 'cli.tar');
    const decrypted = await run(
      process.execPath,
      [cli, 'decrypt', object, '--key', platform.config.secretKeyFile, '-o', out],
      { env },
    );
    assert.match(decrypted.stdout, /a tar of a pg_dump directory archive/);
    const python = await pythonWithCryptography();
    if (python) {
      const script = await extractReferenceDecryptor(dir);
      const byPython = path.join(dir, 'python.tar');
      await runReferenceDecryptor(
        { python, script, keyFile: platform.config.secretKeyFile },
        object,
        byPython,
        (await readManifest(platform, parallelId)).object.key,
      );
      assert.deepEqual(await readFile(byPython), await readFile(out));
    } else process.stderr.write('skipping the Python decryptor: no python with cryptography\n');
    const unpacked = path.join(dir, 'archive');
    await mkdir(unpacked);
    await run('tar', ['-xf', out, '-C', unpacked]);
    const listing = (await run('tar', ['-tf', out])).stdout.trim().split('\n');
    assert.equal(listing.at(-1), 'toc.dat', 'toc.dat is the last entry');
    const pgRestore = await toolFor('pg_restore');
    const toc = await run(pgRestore.path, ['--list', '--format=directory', unpacked]);
    assert.match(toc.stdout, /TABLE DATA public order_lines/);
  });
});
