import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { generateSecretKey } from '../../lib/crypto/secret-key.ts';
import { DataPlane } from '../../lib/dataplane/plane.ts';
import type { DumpJob } from '../../lib/dataplane/protocol.ts';
import { HindsightError } from '../../lib/errors.ts';

const testThread = new URL('../support/dataplane-test-thread.ts', import.meta.url);
const key = generateSecretKey();

function jobFor(databaseName: string, storagePath = '/var/empty/hindsight-test'): DumpJob {
  return {
    databaseName,
    backupId: `2026-12-07T05-00-00Z-${databaseName}`,
    target: { host: '127.0.0.1', port: 1, database: databaseName, user: 'backup', password: 'not-logged' },
    destinations: [{ name: 'local', config: { type: 'local', path: storagePath } }],
    key: { id: key.id, bytes: new Uint8Array(key.bytes) },
  };
}

const quiet = () => ({ signal: new AbortController().signal, onProgress: () => undefined });

// The first tests share one plane, as a worker's backups do: starting a thread costs about a second.
const shared = new DataPlane({ entry: testThread });
after(() => shared.close());

test('a job runs in the thread: progress arrives in order, the key arrives whole, the caller copy is wiped', async () => {
  const job = jobFor('shop');
  const seen: number[] = [];
  const result = await shared.run(job, { ...quiet(), onProgress: (p) => seen.push(p.dumpBytes) });
  assert.deepEqual(seen, [100, 200, 300]);
  assert.equal(result.manifest.encryption.keyId, key.id, 'the thread rebuilt the same key from the bytes it got');
  assert.notEqual(result.manifest.snapshot, `thread-0`, 'the job ran off the main thread');
  assert.deepEqual(result.copies, [{ storageName: 'local', status: 'complete', sizeBytes: 303 }]);
  assert.ok(
    job.key.bytes.every((b) => b === 0),
    'the caller copy of the key is wiped once it is in the plane',
  );
});

test('several backups share one long-lived thread', async () => {
  const results = await Promise.all(['a', 'b', 'c'].map((name) => shared.run(jobFor(name), quiet())));
  assert.deepEqual(
    results.map((r) => r.manifest.database),
    ['a', 'b', 'c'],
  );
  await shared.run(jobFor('d'), quiet());
  assert.equal(new Set(results.map((r) => r.manifest.snapshot)).size, 1, 'one thread ran them all');
  assert.equal(shared.starts, 1, 'one thread ran every backup so far');
});

test('an error keeps its kind and message across the port', async () => {
  await assert.rejects(shared.run(jobFor('refused'), quiet()), (error: unknown) => {
    assert.ok(error instanceof HindsightError);
    assert.equal(error.kind, 'access_denied');
    assert.match(error.message, /database "refused": pg_dump was refused/);
    return true;
  });
});

test('a cancel aborts that job only, after its cleanup; the others go on', async () => {
  const controller = new AbortController();
  const hung = shared.run(jobFor('hang'), { signal: controller.signal, onProgress: () => undefined });
  const other = shared.run(jobFor('shop'), quiet());
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(hung, /backup of "hang" was cancelled/);
  assert.equal((await other).manifest.database, 'shop');
  assert.equal(shared.starts, 1, 'a cancel does not cost the thread');
});

test('a thread that dies fails its backups as retryable, and the next backup starts a new one', async () => {
  const plane = new DataPlane({ entry: testThread });
  try {
    const hung = plane.run(jobFor('hang'), quiet());
    await assert.rejects(plane.run(jobFor('crash'), quiet()), (error: unknown) => {
      assert.ok(error instanceof HindsightError);
      assert.equal(error.kind, 'unreachable');
      assert.equal(error.retryable, true);
      assert.match(error.message, /backup .* of "crash": the data plane stopped \(.*exit code 3\)/);
      return true;
    });
    await assert.rejects(hung, /of "hang": the data plane stopped/, 'every backup in the dead thread fails');
    const first = plane.starts;
    const result = await plane.run(jobFor('after'), quiet());
    assert.equal(result.manifest.database, 'after');
    assert.equal(plane.starts, first + 1);
  } finally {
    await plane.close();
  }
});

test('a thread over its heap limit ends alone; the worker goes on and the plane restarts', async () => {
  const plane = new DataPlane({ entry: testThread, resourceLimits: { maxOldGenerationSizeMb: 24 } });
  try {
    await assert.rejects(plane.run(jobFor('oom'), quiet()), /the data plane stopped \(.*memory/i);
    assert.equal((await plane.run(jobFor('next'), quiet())).manifest.database, 'next');
    assert.equal(plane.starts, 2);
  } finally {
    await plane.close();
  }
});

test('a closed plane refuses new backups by name', async () => {
  const plane = new DataPlane({ entry: testThread });
  await plane.run(jobFor('first'), quiet());
  await plane.close();
  assert.equal(plane.threadId, undefined);
  await assert.rejects(plane.run(jobFor('late'), quiet()), /backup .*late: the data plane is closed/);
});

test('the real plane thread loads the pipeline and reports a source it cannot reach by name', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-plane-'));
  const plane = new DataPlane();
  try {
    await assert.rejects(plane.run(jobFor('unreachable_db', dir), quiet()), (error: unknown) => {
      assert.ok(error instanceof HindsightError, String(error));
      assert.equal(error.kind, 'unreachable');
      assert.match(error.message, /127\.0\.0\.1:1/);
      assert.doesNotMatch(error.message, /not-logged/, 'the password is not in the error');
      return true;
    });
    assert.deepEqual(await readdir(dir), [], 'nothing was written for a backup that never started');
  } finally {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  }
});
