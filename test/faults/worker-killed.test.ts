import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DecryptStream } from '../../lib/crypto/chunked-gcm.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import { backupProgressQuery, cancelBackupSignal } from '../../temporal/contracts/backup.ts';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';
import { startLoading } from '../support/loading.ts';
import { waitFor } from '../support/wait.ts';

/** The real worker program, as `npm start` runs it, in its own process so that it can be killed. */
function startWorkerProcess(platform: Platform, log: string[], args: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [path.resolve('worker/main.ts'), ...args], {
    env: { ...process.env, ...platform.configEnv, HINDSIGHT_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
  return child;
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    stream,
    new Writable({
      write(chunk, _e, cb) {
        hash.update(chunk);
        cb();
      },
    }),
  );
  return hash.digest('hex');
}

/** What a listing of the bucket shows: committed objects, and multipart uploads still open. */
async function bucketState(s3: S3Client): Promise<{ objects: string[]; uploads: number }> {
  const objects = (await s3.send(new ListObjectsV2Command({ Bucket: 'offsite' }))).Contents?.map((o) => o.Key!) ?? [];
  const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: 'offsite' }))).Uploads?.length ?? 0;
  return { objects: objects.sort(), uploads };
}

/** Starts a backup of `bulk` and waits until its partial file appears beside what `before` lists. */
async function startBackupUntilUploading(platform: Platform) {
  const dir = path.join(platform.backupsDir, 'bulk');
  const before = new Set(await readdir(dir));
  const started = await platform.ops.startBackup('bulk');
  await waitFor(
    'the upload to start',
    async () => {
      const names = await readdir(dir).catch(() => [] as string[]);
      return names.some((n) => n.includes('.partial-') && !before.has(n)) ? true : undefined;
    },
    120_000,
  );
  return { dir, before, started };
}

/** Large enough that the dump runs for several seconds on this machine, so the kill lands mid-stream. */
const READINGS_SQL = `create table readings (id bigint primary key, sensor int, value double precision, note text);
  insert into readings select g, g % 977, random(), md5(g::text) || md5((g * 7)::text) from generate_series(1, 2500000) g`;

describe('a backup interrupted midway: worker killed, or cancelled', () => {
  let platform: Platform;
  let moto: MotoServer;
  let s3: S3Client;
  const workers: ChildProcess[] = [];
  const log: string[] = [];

  before(async () => {
    platform = await startPlatform();
    const source = await createDatabase(platform.cluster, 'bulk');
    // Two destinations: the local directory and an S3 bucket, where a killed upload is a multipart upload left open.
    // moto starts while the table fills; both are awaited, so that `after` stops whichever started.
    const { loaded } = await startLoading('bulk', source, READINGS_SQL);
    const ready = await Promise.allSettled([
      loaded,
      startMoto().then((started) => {
        moto = started;
      }),
    ]);
    for (const r of ready) if (r.status === 'rejected') throw r.reason;
    s3 = new S3Client({
      endpoint: moto.endpoint,
      region: moto.region,
      forcePathStyle: true,
      credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'offsite' }));
    await platform.ops.saveStorage('offsite', {
      type: 's3',
      bucket: 'offsite',
      endpoint: moto.endpoint,
      region: moto.region,
      forcePathStyle: true,
      accessKeyId: moto.accessKeyId,
      secretAccessKey: moto.secretAccessKey,
    });
    await platform.ops.addDatabase({
      name: 'bulk',
      url: targetUrl(source),
      storages: ['local', 'offsite'],
      verifyAfterBackup: false,
    });
  });

  after(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    s3?.destroy();
    await platform?.stop();
    await moto?.stop();
  });

  it('retries on a new worker and ends with exactly one complete backup and no partial object in either storage', async () => {
    const first = startWorkerProcess(platform, log);
    workers.push(first);
    const started = await platform.ops.startBackup('bulk');
    const dir = path.join(platform.backupsDir, 'bulk');

    // Kill once the upload is well under way: past S3's first 5 MiB part, so a multipart upload is open.
    const partial = await waitFor(
      'the upload to start',
      async () => {
        const names = await readdir(dir).catch(() => [] as string[]);
        for (const name of names.filter((n) => n.includes('.partial-'))) {
          const size = await stat(path.join(dir, name)).then(
            (s) => s.size,
            () => 0,
          );
          if (size > 16 * 1024 * 1024) return name;
        }
        return undefined;
      },
      120_000,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    assert.ok((await readdir(dir)).includes(partial), 'the killed attempt left its partial file behind');
    const killed = await bucketState(s3);
    assert.deepEqual(killed.objects, [], 'nothing in the bucket looks like a backup after the kill');
    assert.equal(killed.uploads, 1, 'the killed attempt left its multipart upload open (invisible to listings)');
    const [running] = await platform.runtime.catalog.listBackups('bulk');
    assert.equal(running?.status, 'running', 'nothing is marked complete by a killed attempt');

    const second = startWorkerProcess(platform, log);
    workers.push(second);
    const outcome = await started.result();
    assert.equal(outcome.status, 'complete');
    assert.equal(outcome.rows, 2_500_000);

    const backups = await platform.runtime.catalog.listBackups('bulk');
    assert.deepEqual(
      backups.map((b) => [b.id, b.status]),
      [[outcome.backupId, 'complete']],
    );
    const objects = ['dump.hsb', 'json', 'roles.hsb'].map((ext) => `${outcome.backupId}.${ext}`);
    assert.deepEqual((await readdir(dir)).sort(), objects);
    assert.deepEqual(
      await bucketState(s3),
      { objects: objects.map((o) => `bulk/${o}`), uploads: 0 },
      'the retry swept the abandoned upload',
    );
    assert.deepEqual(
      outcome.copies.map((c) => [c.storageName, c.status]),
      [
        ['local', 'complete'],
        ['offsite', 'complete'],
      ],
    );

    // The retried attempt is a whole, authentic backup: both checksums of the manifest hold.
    const manifest = JSON.parse(await readFile(path.join(dir, `${outcome.backupId}.json`), 'utf8'));
    const objectFile = path.join(dir, `${outcome.backupId}.dump.hsb`);
    assert.equal(await sha256Of(createReadStream(objectFile)), manifest.object.sha256);
    const decrypt = new DecryptStream(platform.runtime.key);
    const [dumpSha] = await Promise.all([sha256Of(decrypt), pipeline(createReadStream(objectFile), decrypt)]);
    assert.equal(dumpSha, manifest.dump.sha256);

    const history = await platform.client.workflow.getHandle(started.workflowId).fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt);
    assert.ok(
      attempts.some((a) => (a ?? 0) >= 2),
      `the dump activity ran again after the kill (attempts: ${attempts.join(',')})`,
    );
  });
  it('a cancel signal stops pg_dump, removes the partial object and records the backup cancelled', async () => {
    if (!workers.some((w) => w.exitCode === null && w.signalCode === null))
      workers.push(startWorkerProcess(platform, log));
    const { dir, before, started } = await startBackupUntilUploading(platform);
    const handle = platform.client.workflow.getHandle(started.workflowId);
    await handle.signal(cancelBackupSignal, 'operator changed their mind');
    const outcome = await started.result();
    assert.equal(outcome.status, 'cancelled');
    const progress = await handle.query(backupProgressQuery);
    assert.equal(progress.stage, 'cancelled');
    assert.equal(progress.error, 'cancelled: operator changed their mind');
    const record = await platform.runtime.catalog.getBackup(started.backupId);
    assert.equal(record.status, 'cancelled');
    assert.deepEqual(new Set(await readdir(dir)), before, 'the cancelled attempt left nothing in storage');
    // The workflow may record the cancel before the activity's abort reaches the store: give it 30 s.
    await waitFor(
      'the cancelled attempt aborting its multipart upload',
      async () => ((await bucketState(s3)).uploads === 0 ? true : undefined),
      30_000,
    );
    assert.equal(
      (await bucketState(s3)).objects.length,
      3,
      'only the earlier backup (dump, roles, manifest) is in the bucket',
    );
    const history = await handle.fetchHistory();
    assert.ok(
      (history.events ?? []).some((e) => e.activityTaskCanceledEventAttributes),
      'the dump activity reported cancellation, not a failure to retry',
    );
  });

  it('SIGTERM drains: the running dump is cancelled cleanly after the grace period, the worker exits 0, and the backup completes on the next worker', async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    const draining = startWorkerProcess(platform, log, ['--shutdown-grace-seconds', '1']);
    workers.push(draining);
    const { dir, started } = await startBackupUntilUploading(platform);
    draining.kill('SIGTERM');
    const [code] = await new Promise<[number | null, string | null]>((resolve) =>
      draining.once('exit', (c, sig) => resolve([c, sig])),
    );
    assert.equal(code, 0, `the worker stopped by itself after draining:\n${log.join('').slice(-1500)}`);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.includes('.partial-')),
      [],
      'the cancelled attempt removed its partial file',
    );
    await waitFor(
      'the drained attempt aborting its multipart upload',
      async () => ((await bucketState(s3)).uploads === 0 ? true : undefined),
      30_000,
    );
    assert.equal(
      (await platform.runtime.catalog.getBackup(started.backupId)).status,
      'running',
      'the backup is not failed: it waits for a worker',
    );

    workers.push(startWorkerProcess(platform, log));
    const outcome = await started.result();
    assert.equal(outcome.status, 'complete');
    assert.equal(outcome.rows, 2_500_000);
  });
});
