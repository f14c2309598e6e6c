import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { downloadStream } from '../../lib/backup/download.ts';
import { recordedChecksums } from '../../lib/backup/expectation.ts';
import { runPgRestore } from '../../lib/backup/restore.ts';
import { openBackupFromAny } from '../../lib/backup/sources.ts';
import { connect, serverInfo, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { createDatabase, type Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { extractReferenceDecryptor, pythonWithCryptography } from '../support/reference-decryptor.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

async function tableCount(target: PgTarget): Promise<number> {
  const client = await connect('identity test', target);
  try {
    const { rows } = await client.query<{ n: number }>(
      "select count(*)::int as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/**
 * The object's bytes at once, its end two seconds later (a storage slow to close the response):
 * without the gate, pg_restore would have the whole archive, and commit it, before the checksum
 * could be compared at the end of the stream.
 */
const slowToEnd = (source: Readable): Readable =>
  Readable.from(
    (async function* () {
      for await (const chunk of source) yield chunk as Buffer;
      await sleep(2000);
    })(),
    { objectMode: false },
  );

/** What a command that must fail wrote on stderr ('' when it succeeded instead). */
const refusalOf = (command: string, args: string[]) =>
  run(command, args).then(
    () => '',
    (error: { stderr: string }) => error.stderr,
  );

const drain = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

describe('backup identity: an object copied over another backup in storage is refused', () => {
  let platform: Platform;
  let source: PgTarget;
  let older: string;
  let newer: string;
  const file = (id: string, ext: 'dump.hsb' | 'json') => path.join(platform.backupsDir, 'orders', `${id}.${ext}`);

  before(async () => {
    const lines =
      'create table lines (id int primary key, item text); insert into lines select g, md5(g::text) from generate_series(1, 3000) g';
    ({ platform, source } = await startSeededPlatform('orders', lines));
    await platform.ops.addDatabase({ name: 'orders', url: targetUrl(source) });
    older = (await (await platform.ops.startBackup('orders')).result()).backupId;
    const client = await connect('orders', source);
    await client.query('insert into lines select g, md5(g::text) from generate_series(3001, 5000) g');
    await client.end();
    newer = (await (await platform.ops.startBackup('orders')).result()).backupId;
    // The verifications that follow each backup must be over before storage is tampered with.
    await waitFor(
      'the verifications after the backups',
      async () => {
        const list = await platform.ops.listVerifications('orders');
        return list.length >= 2 && list.every((v) => !['pending', 'running'].includes(v.status)) ? true : undefined;
      },
      180_000,
    );
  });

  after(async () => {
    await platform?.stop();
  });

  it('the Python reference decryptor in docs/backup-format.md decrypts a real backup to the dump its manifest records', async (t) => {
    const python = await pythonWithCryptography();
    if (!python) {
      t.skip('no Python with the cryptography package (neither .venv/bin/python nor python3 has it)');
      return;
    }
    const script = await extractReferenceDecryptor(platform.dir);
    const manifest = JSON.parse(await readFile(file(newer, 'json'), 'utf8'));
    assert.equal(manifest.encryption.version, 3);
    const out = path.join(platform.dir, 'python.dump');
    const { stderr } = await run(python, [
      script,
      file(newer, 'dump.hsb'),
      platform.config.secretKeyFile,
      out,
      `orders/${newer}`,
    ]);
    // Compressed outside pg_dump: the script decompresses, and names the decrypted bytes' SHA-256 to compare.
    assert.equal(manifest.tool.compression.where, 'outside');
    assert.match(
      stderr,
      new RegExp(
        `backup ${newer} of database orders: \\d+ chunks decrypted and decompressed into .*, decrypted SHA-256 ${manifest.dump.sha256}\n`,
      ),
    );
    const archive = await readFile(out);
    assert.equal(archive.subarray(0, 5).toString(), 'PGDMP', 'the output is the archive pg_restore reads');
    const { stdout: toc } = await run((await toolFor('pg_restore')).path, ['--list', out]);
    assert.match(toc, /TABLE DATA public/);

    const refused = await refusalOf(python, [
      script,
      file(older, 'dump.hsb'),
      platform.config.secretKeyFile,
      path.join(platform.dir, 'refused.dump'),
      `orders/${newer}`,
    ]);
    assert.match(
      refused,
      new RegExp(`the file is backup ${older} of database orders, expected backup ${newer} of database orders`),
    );

    await pythonDecryptsRoles({ python, script, platform, backupId: newer, owner: source.user });
  });

  it('hindsight decrypt names the identity in the header, and --expect refuses another backup', async () => {
    const out = path.join(platform.dir, 'cli.dump');
    const ok = await run(process.execPath, [
      cli,
      'decrypt',
      file(newer, 'dump.hsb'),
      '--key',
      platform.config.secretKeyFile,
      '-o',
      out,
    ]);
    assert.match(
      ok.stderr,
      new RegExp(`is backup ${newer} of database orders \\(format version 3, key ${platform.runtime.key.id}\\)`),
    );
    const refused = await refusalOf(process.execPath, [
      cli,
      'decrypt',
      file(older, 'dump.hsb'),
      '--key',
      platform.config.secretKeyFile,
      '--expect',
      `orders/${newer}`,
      '-o',
      path.join(platform.dir, 'no.dump'),
    ]);
    assert.match(
      refused,
      new RegExp(
        `authenticates as backup ${older} of database orders, expected backup ${newer} of database orders: the object was replaced or copied in storage`,
      ),
    );
  });

  /**
   * For the enclosing describe: the older object copied over the newer one, beside the manifest
   * `manifestFor` makes from the newer one's text; both of the newer backup's files are put back after.
   */
  function olderObjectOverNewer(manifestFor: (newerManifest: string) => Promise<Record<string, unknown>>): void {
    let saved: { object: Buffer; manifest: string };
    before(async () => {
      saved = {
        object: await readFile(file(newer, 'dump.hsb')),
        manifest: await readFile(file(newer, 'json'), 'utf8'),
      };
      const manifest = await manifestFor(saved.manifest);
      await copyFile(file(older, 'dump.hsb'), file(newer, 'dump.hsb'));
      await writeFile(file(newer, 'json'), `${JSON.stringify(manifest, null, 2)}\n`);
    });
    after(async () => {
      await writeFile(file(newer, 'dump.hsb'), saved.object);
      await writeFile(file(newer, 'json'), saved.manifest);
    });
  }

  describe('the older object and its manifest, edited to the newer name, copied over the newer backup', () => {
    olderObjectOverNewer(async () => {
      const manifest = JSON.parse(await readFile(file(older, 'json'), 'utf8'));
      // What a storage writer can do without the key: the manifest is plain JSON.
      manifest.backupId = newer;
      manifest.object.key = `orders/${newer}.dump.hsb`;
      return manifest;
    });

    const catalogMismatch = () =>
      new RegExp(
        `manifest of backup ${newer} of database orders gives object SHA-256 [0-9a-f]{64}, but the catalog recorded [0-9a-f]{64} when the backup was taken: the object or its manifest was replaced or copied in storage`,
      );

    it('a restore refuses it before pg_restore starts, and the target stays empty', async () => {
      const restore = await platform.ops.startRestore({
        database: 'orders',
        backupId: newer,
        to: { database: 'orders_swapped' },
      });
      await assert.rejects(restore.result(), (error: Error) => {
        assert.match(String((error.cause as Error)?.message), catalogMismatch());
        return true;
      });
      assert.equal(await tableCount({ ...source, database: 'orders_swapped' }), 0);
    });

    it('a verification refuses it', async () => {
      const { finished } = await platform.ops.requestVerification('orders', { backupId: newer });
      const summary = await finished(180_000);
      assert.equal(summary.status, 'failed');
      assert.match(summary.reason ?? '', catalogMismatch());
    });

    it('a download refuses it', async () => {
      await assert.rejects(platform.ops.openDownload(newer, { decrypt: true }), catalogMismatch());
      await assert.rejects(platform.ops.openDownload(newer, { decrypt: false }), catalogMismatch());
    });

    it('from storage alone (no catalog record), the identity in the header refuses it before any plaintext', async () => {
      const storage = [{ name: 'local', driver: createLocalStorage({ name: 'local', root: platform.backupsDir }) }];
      const identity = new RegExp(
        `object orders/${newer}\\.dump\\.hsb \\(storage [^)]*\\) authenticates as backup ${older} of database orders, expected backup ${newer} of database orders: the object was replaced or copied in storage`,
      );
      const forDownload = await openBackupFromAny(storage, 'orders', newer);
      assert.equal(forDownload.expect.recorded, false);
      await assert.rejects(
        pipeline(downloadStream(forDownload, platform.runtime.key, { decrypt: true }), drain()),
        identity,
      );

      const target = await createDatabase(platform.cluster, 'orders_storage_only');
      const probe = await connect('probe', target);
      const { major } = await serverInfo(probe);
      await probe.end();
      const opened = await openBackupFromAny(storage, 'orders', newer);
      const result = await runPgRestore({
        label: 'storage-only restore',
        object: opened.object,
        expect: opened.expect,
        key: platform.runtime.key,
        target,
        serverMajor: major,
      });
      assert.match(result.streamError?.message ?? '', identity);
      assert.equal(result.restoredBytes, 0, 'not a byte of plaintext reached pg_restore');
      assert.equal(await tableCount(target), 0);
    });
  });

  describe('the older object copied over the newer one, the manifest edited only in its size', () => {
    olderObjectOverNewer(async (newerManifest) => {
      // The checksums still agree with the catalog's record; only the object's header can tell.
      const manifest = JSON.parse(newerManifest);
      manifest.object.sizeBytes = (await readFile(file(older, 'dump.hsb'))).length;
      return manifest;
    });

    it('a restore and a download refuse it at its header, naming both backups', async () => {
      const identity = new RegExp(
        `authenticates as backup ${older} of database orders, expected backup ${newer} of database orders`,
      );
      const restore = await platform.ops.startRestore({
        database: 'orders',
        backupId: newer,
        to: { database: 'orders_object_swapped' },
      });
      await assert.rejects(restore.result(), (error: Error) => {
        assert.match(String((error.cause as Error)?.message), identity);
        return true;
      });
      assert.equal(await tableCount({ ...source, database: 'orders_object_swapped' }), 0);
      const download = await platform.ops.openDownload(newer, { decrypt: true });
      await assert.rejects(pipeline(download.stream, drain()), identity);
    });
  });

  it('a checksum that differs from the record is caught before the last chunk reaches pg_restore', async () => {
    const storage = [{ name: 'local', driver: createLocalStorage({ name: 'local', root: platform.backupsDir }) }];
    const record = await platform.runtime.catalog.getBackup(newer);
    const restoreWith = async (database: string, objectSha256: string) => {
      const target = await createDatabase(platform.cluster, database);
      const probe = await connect('probe', target);
      const { major } = await serverInfo(probe);
      await probe.end();
      const opened = await openBackupFromAny(storage, 'orders', newer, undefined, recordedChecksums(record));
      const result = await runPgRestore({
        label: database,
        object: slowToEnd(opened.object),
        expect: { ...opened.expect, objectSha256 },
        key: platform.runtime.key,
        target,
        serverMajor: major,
      });
      return { result, tables: await tableCount(target) };
    };
    // The genuine record restores the table: the refusal below is the gate's doing, not the data's.
    const genuine = await restoreWith('orders_gate_genuine', record.objectSha256!);
    assert.equal(genuine.result.streamError, undefined);
    assert.equal(genuine.tables, 1);
    const wrong = await restoreWith('orders_gate_wrong', '0'.repeat(64));
    assert.match(
      wrong.result.streamError?.message ?? '',
      new RegExp(
        `object orders/${newer}\\.dump\\.hsb in storage .* has SHA-256 ${record.objectSha256}, but the catalog recorded 0{64}`,
      ),
    );
    assert.equal(wrong.tables, 0, 'pg_restore never saw the end of the archive, so it committed nothing');
  });
});

/** The roles object beside the dump decrypts to its JSON with the reference decryptor, and is never taken for the dump. */
async function pythonDecryptsRoles(options: {
  python: string;
  script: string;
  platform: Platform;
  backupId: string;
  owner: string;
}): Promise<void> {
  const { python, script, platform, backupId, owner } = options;
  const roles = path.join(platform.dir, 'roles.json');
  const rolesFile = path.join(platform.backupsDir, 'orders', `${backupId}.roles.hsb`);
  await run(python, [script, rolesFile, platform.config.secretKeyFile, roles, `orders/${backupId}.roles.hsb`]);
  const document = JSON.parse(await readFile(roles, 'utf8'));
  assert.equal(document.format, 'hindsight-roles');
  assert.ok(
    document.roles.some((r: { name: string }) => r.name === owner),
    'the table owner is listed',
  );
  const swapped = await refusalOf(python, [
    script,
    rolesFile,
    platform.config.secretKeyFile,
    `${roles}.x`,
    `orders/${backupId}`,
  ]);
  assert.match(
    swapped,
    new RegExp(`the file is roles of backup ${backupId} of database orders, expected backup ${backupId}`),
  );
}
