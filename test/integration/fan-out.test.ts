import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { ReplicateOutcome } from '../../temporal/contracts/backup.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import { createDatabase, startPlatform, tableFingerprint, type Platform } from '../support/platform.ts';
import { expectedArchive } from '../support/expected-archive.ts';

const run = promisify(execFile);

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    createReadStream(file),
    new Writable({
      write(chunk, _e, cb) {
        hash.update(chunk);
        cb();
      },
    }),
  );
  return hash.digest('hex');
}

/** Activity types a workflow run scheduled, in order: how we know pg_dump ran once. */
async function activitiesOf(platform: Platform, workflowId: string): Promise<string[]> {
  const history = await platform.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes?.activityType?.name
      ? [e.activityTaskScheduledEventAttributes.activityType.name]
      : [],
  );
}

/**
 * A real full disk: the third storage is a 20 MiB tmpfs and the backup is about 30 MiB, so that
 * storage refuses writes (ENOSPC) midway through the stream while the other two take every byte.
 */
describe('one backup fanned out to three storages, one of which fills up midway', () => {
  let platform: Platform;
  let source: PgTarget;
  let tinyDir: string;
  let mounted = false;
  let mountRefused: string | undefined;
  let backupId: string;
  let expected: { rows: number; md5: string };

  before(async () => {
    platform = await startPlatform();
    tinyDir = path.join(platform.dir, 'tiny');
    await mkdir(tinyDir, { recursive: true });
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=20m,mode=0777', 'tmpfs', tinyDir]);
      mounted = true;
    } catch (error) {
      mountRefused = (error as Error).message;
      return;
    }
    for (const name of ['alpha', 'bravo']) {
      await mkdir(path.join(platform.dir, name));
      await platform.ops.saveStorage(name, { type: 'local', path: path.join(platform.dir, name) });
    }
    await platform.ops.saveStorage('tiny', { type: 'local', path: tinyDir });
    source = await createDatabase(platform.cluster, 'wide');
    const client = await connect('wide', source);
    // md5 bytes do not compress: the dump is as big as the data.
    await client.query('create table blobs (id int primary key, body bytea not null)');
    await client.query(`insert into blobs select g, decode(string_agg(md5(g::text || '-' || k), ''), 'hex')
                        from generate_series(1, 30000) g, generate_series(1, 64) k group by g`);
    await client.end();
    expected = await tableFingerprint(source, 'blobs', 'id');
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'wide', url: targetUrl(source), storages: ['alpha', 'bravo', 'tiny'] });
  });

  after(async () => {
    await platform?.stopWorker();
    if (mounted) await run('umount', ['-l', tinyDir]).catch(() => undefined);
    await platform?.stop();
  });

  /** A copy's outcome, once its run is known to have copied one storage's object and dumped nothing. */
  async function copiedOnce(starting: Promise<{ workflowId: string; result(): Promise<ReplicateOutcome> }>) {
    const started = await starting;
    const outcome = await started.result();
    const ran = await activitiesOf(platform, started.workflowId);
    assert.deepEqual(ran, ['listCopies', 'copyBackupToStorage', 'settleBackup'], 'no second pg_dump');
    return outcome;
  }

  /** With the object moved aside in `others`, a restore by id reads `storage`'s copy and matches the source. */
  async function restoresFromOnly(storage: string, others: string[]): Promise<void> {
    const moved = others.map((dir) => path.join(dir, 'wide', `${backupId}.dump.hsb`));
    for (const file of moved) await rename(file, `${file}.aside`);
    try {
      const target = `wide_from_${storage}`;
      const restored = await (
        await platform.ops.startRestore({ database: 'wide', backupId, to: { database: target } })
      ).result();
      assert.equal(restored.storageName, storage);
      assert.deepEqual(await tableFingerprint({ ...source, database: target }, 'blobs', 'id'), expected);
    } finally {
      for (const file of moved) await rename(`${file}.aside`, file);
    }
  }

  it('ends partial: two storages hold the whole backup, the full one holds nothing', async (t) => {
    if (!mounted) return t.skip(`cannot mount a tmpfs here (${mountRefused}); this test needs root with mount rights`);
    const started = await platform.ops.startBackup('wide');
    const outcome = await started.result();
    backupId = outcome.backupId;
    assert.equal(outcome.status, 'partial');
    const byName = Object.fromEntries(outcome.copies.map((c) => [c.storageName, c]));
    assert.equal(byName.alpha?.status, 'complete');
    assert.equal(byName.bravo?.status, 'complete');
    assert.equal(byName.tiny?.status, 'failed');
    assert.match(byName.tiny?.error ?? '', /storage local "tiny": unable to write .*(ENOSPC|no space|bytes free)/i);

    const record = await platform.runtime.catalog.getBackup(backupId);
    assert.equal(record.status, 'partial');
    assert.deepEqual(
      record.copies.map((c) => `${c.storageName}:${c.status}`),
      ['alpha:complete', 'bravo:complete', 'tiny:failed'],
    );
    assert.deepEqual(
      await readdir(path.join(tinyDir, 'wide')).catch(() => []),
      [],
      'no object and no partial file on the full storage',
    );

    const manifest = JSON.parse(await readFile(path.join(platform.dir, 'alpha', 'wide', `${backupId}.json`), 'utf8'));
    for (const name of ['alpha', 'bravo']) {
      assert.equal(
        await sha256Of(path.join(platform.dir, name, 'wide', `${backupId}.dump.hsb`)),
        manifest.object.sha256,
        `${name} holds the exact object`,
      );
    }
    const dumps = (await activitiesOf(platform, started.workflowId)).filter((a) => a === 'dumpDatabaseToStorage');
    assert.equal(dumps.length, 1, 'pg_dump ran once for three storages');
  });

  it('restores from each storage that holds it, falling back when the first copy is gone', async (t) => {
    if (!mounted) return t.skip(`cannot mount a tmpfs here (${mountRefused})`);
    const fromAlpha = await (
      await platform.ops.startRestore({ database: 'wide', backupId, to: { database: 'wide_from_alpha' } })
    ).result();
    assert.equal(fromAlpha.storageName, 'alpha');
    assert.deepEqual(await tableFingerprint({ ...source, database: 'wide_from_alpha' }, 'blobs', 'id'), expected);

    const object = path.join(platform.dir, 'alpha', 'wide', `${backupId}.dump.hsb`);
    await rename(object, `${object}.aside`);
    try {
      const fromBravo = await (
        await platform.ops.startRestore({ database: 'wide', backupId, to: { database: 'wide_from_bravo' } })
      ).result();
      assert.equal(fromBravo.storageName, 'bravo', 'the restore fell back to the second storage');
      assert.deepEqual(await tableFingerprint({ ...source, database: 'wide_from_bravo' }, 'blobs', 'id'), expected);
    } finally {
      await rename(`${object}.aside`, object);
    }
  });

  it('downloads the archive from any copy with checksums verified, and fails on a damaged one', async (t) => {
    if (!mounted) return t.skip(`cannot mount a tmpfs here (${mountRefused})`);
    const manifest = JSON.parse(await readFile(path.join(platform.dir, 'bravo', 'wide', `${backupId}.json`), 'utf8'));
    const object = path.join(platform.dir, 'alpha', 'wide', `${backupId}.dump.hsb`);
    await rename(object, `${object}.aside`);
    const fallbacks: string[] = [];
    try {
      const download = await platform.ops.openDownload(backupId, {
        decrypt: true,
        onFallback: (storage) => fallbacks.push(storage),
      });
      assert.equal(download.storageName, 'bravo');
      const hash = createHash('sha256');
      await pipeline(
        download.stream,
        new Writable({
          write(chunk, _e, cb) {
            hash.update(chunk);
            cb();
          },
        }),
      );
      const expected = await expectedArchive(
        path.join(platform.dir, 'bravo', 'wide', `${backupId}.dump.hsb`),
        platform.runtime.keyring.resolve,
        manifest,
      );
      assert.equal(hash.digest('hex'), expected.sha256, 'the download is the exact pg_dump archive');
      assert.deepEqual(fallbacks, ['alpha']);
    } finally {
      await rename(`${object}.aside`, object);
    }

    // One flipped byte in the middle of alpha's copy, same size: only the checksums can tell.
    const original = await readFile(object);
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 2)]! ^= 0x01;
    await writeFile(object, damaged);
    try {
      const download = await platform.ops.openDownload(backupId, { decrypt: false });
      assert.equal(download.storageName, 'alpha');
      await assert.rejects(
        pipeline(
          download.stream,
          new Writable({
            write(_c, _e, cb) {
              cb();
            },
          }),
        ),
        /has SHA-256 [0-9a-f]{64}, but the catalog recorded [0-9a-f]{64}: the object was damaged, replaced or copied in storage/,
      );
    } finally {
      await writeFile(object, original);
    }
  });

  it('copies the backup into the storage once it has room, without a second pg_dump', async (t) => {
    if (!mounted) return t.skip(`cannot mount a tmpfs here (${mountRefused})`);
    await run('mount', ['-o', 'remount,size=80m', tinyDir]);
    const outcome = await copiedOnce(platform.ops.startReplicate(backupId));
    assert.equal(outcome.status, 'complete', JSON.stringify(outcome));

    const record = await platform.runtime.catalog.getBackup(backupId);
    assert.equal(record.status, 'complete');
    assert.ok(record.copies.every((c) => c.status === 'complete'));
    const manifest = JSON.parse(await readFile(path.join(tinyDir, 'wide', `${backupId}.json`), 'utf8'));
    assert.equal(await sha256Of(path.join(tinyDir, 'wide', `${backupId}.dump.hsb`)), manifest.object.sha256);

    // Only the new copy is left to read from: the restore must come from it and match the source.
    await restoresFromOnly('tiny', [path.join(platform.dir, 'alpha'), path.join(platform.dir, 'bravo')]);
  });

  it('copies the complete backup into a storage added later, which restores it alone; a second copy there is refused', async (t) => {
    if (!mounted) return t.skip(`cannot mount a tmpfs here (${mountRefused})`);
    const { actor } = platform.ops;
    const deltaDir = path.join(platform.dir, 'delta');
    await mkdir(deltaDir);
    await platform.ops.saveStorage('delta', { type: 'local', path: deltaDir });
    const outcome = await copiedOnce(platform.services.backups.replicate(actor, backupId, { storages: ['delta'] }));
    assert.deepEqual(
      outcome.copies.map((c) => `${c.storageName}:${c.status}`),
      ['alpha:complete', 'bravo:complete', 'tiny:complete', 'delta:complete'],
    );
    // Retention deletes every copy the catalog lists: the new one is among them.
    const record = await platform.runtime.catalog.getBackup(backupId);
    assert.equal(record.status, 'complete');
    assert.deepEqual(record.copies.find((c) => c.storageName === 'delta')?.status, 'complete');
    assert.equal(await sha256Of(path.join(deltaDir, 'wide', `${backupId}.dump.hsb`)), record.objectSha256);

    const cli = (...args: string[]) => hindsightResult(platform.configEnv, ['backups', 'copy', ...args]);
    const twice = await cli(backupId, '--to', 'delta');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, new RegExp(`backup ${backupId} already has a complete copy in storage "delta"`));
    const blue = await platform.runtime.catalog.access.createWorkspace('fanout-blue');
    await mkdir(path.join(platform.dir, 'blue'));
    await platform.ops.saveStorage(
      'blue-nas',
      { type: 'local', path: path.join(platform.dir, 'blue') },
      {
        workspaceId: blue.id,
      },
    );
    await assert.rejects(
      platform.services.backups.replicate(actor, backupId, { storages: ['blue-nas'] }),
      /storage "blue-nas" belongs to another workspace: backups of database "wide" are copied only to storages of its own workspace/,
    );
    const every = await cli('--database', 'wide', '--to', 'delta', '--json');
    assert.equal(every.code, 0, every.stderr);
    assert.deepEqual(JSON.parse(every.stdout), [], 'delta holds every backup of wide: nothing to copy');

    // Only delta's copy is left to read from: the restore must come from it and match the source.
    const others = ['alpha', 'bravo'].map((name) => path.join(platform.dir, name));
    await restoresFromOnly('delta', [...others, tinyDir]);
  });
});
