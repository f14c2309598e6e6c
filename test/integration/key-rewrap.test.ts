/**
 * `hindsight key rotate` (a new key, then the rewrap) and `hindsight key rewrap`: a backup made
 * before the rotation restores after it, table for table, its chunks untouched by the rewrap;
 * `--reencrypt` leaves nothing the retired keys open, not even with the object's header as it was
 * before the rewrap. Neither runs while a restore reads the objects: both refuse, naming it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { decodeHeader, headerLength } from '../../lib/crypto/backup-header.ts';
import { DecryptStream } from '../../lib/crypto/chunked-gcm.ts';
import type { SecretKey } from '../../lib/crypto/secret-key.ts';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createAuthz, operatorActor } from '../../services/authz.ts';
import { rewrapObjects, rotateAndRewrap } from '../../services/key-rewrap.ts';
import { rotateSecretKey, type KeyServiceDeps } from '../../services/key-rotation.ts';
import { tableHashes, type TableHashes } from '../support/guide-platform.ts';
import type { Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';

const DATABASE = 'ledger';
const operator = operatorActor('test');

/** Decrypts `bytes` with `key` alone; the refusal's message, or '' when it decrypted. */
async function refusalWith(bytes: Buffer, key: SecretKey): Promise<string> {
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  return pipeline(Readable.from([bytes]), new DecryptStream(key), sink).then(
    () => '',
    (error: Error) => error.message,
  );
}

const split = (bytes: Buffer) => {
  const length = headerLength(bytes)!;
  return { header: bytes.subarray(0, length), chunks: bytes.subarray(length) };
};

describe('key rewrap: rotation without re-encrypting, and re-encryption that retires a key', () => {
  let platform: Platform;
  let source: PgTarget;
  let deps: KeyServiceDeps;
  let backupId: string;
  let atBackup: TableHashes;
  let original: Buffer;
  const dumpFile = () => path.join(platform.backupsDir, DATABASE, `${backupId}.dump.hsb`);
  const keyOf = (id: string) => platform.runtime.keyring.resolve(id);

  async function restoresTheBackup(into: string): Promise<void> {
    const restore = await platform.ops.startRestore({ database: DATABASE, backupId, to: { database: into } });
    await restore.result();
    assert.deepEqual(await tableHashes({ ...source, database: into }), atBackup);
  }

  before(async () => {
    const schema =
      'create table entries (id int primary key, memo text); insert into entries select g, md5(g::text) from generate_series(1, 3000) g';
    ({ platform, source } = await startSeededPlatform(DATABASE, schema));
    deps = { runtime: platform.runtime, authz: createAuthz(platform.runtime.catalog.access) };
    await platform.ops.addDatabase({ name: DATABASE, url: targetUrl(source), verifyAfterBackup: false });
    backupId = (await (await platform.ops.startBackup(DATABASE)).result()).backupId;
    atBackup = await tableHashes(source);
    original = await readFile(dumpFile());
  });

  after(async () => {
    await platform?.stop();
  });

  it('rewraps the data keys under the new key, leaving every chunk as it was, and the backup restores', async () => {
    const first = platform.runtime.keyring.current().id;
    const { keyId, rewrap: outcome } = await rotateAndRewrap(deps, operator, { reencrypt: false });
    assert.equal(outcome.objects.rewrap, 2, 'the dump and its roles object');
    assert.equal(outcome.manifests, 2);
    const now = await readFile(dumpFile());
    assert.equal(decodeHeader(now).wrappedKey?.keyRef, keyId);
    assert.ok(split(now).chunks.equals(split(original).chunks), 'the chunks are byte for byte the same');
    assert.match(
      await refusalWith(now, keyOf(first)),
      new RegExp(`encrypted with key ${keyId}, but the key in use is ${first}`),
    );
    await restoresTheBackup('ledger_after_rewrap');
    const again = await rewrapObjects(deps, operator, { reencrypt: false });
    assert.deepEqual([again.objects.rewrap, again.objects.current], [0, 2], 'a second run has nothing to do');
  });

  it('--reencrypt leaves no object that a retired key opens, even with its header of before', async () => {
    const retired = [decodeHeader(original).keyId, platform.runtime.keyring.current().id];
    const rewrapped = await readFile(dumpFile());
    await rotateSecretKey(deps, operator);
    const outcome = await rewrapObjects(deps, operator, { reencrypt: true });
    assert.equal(outcome.objects.reencrypt, 2);
    const now = await readFile(dumpFile());
    assert.ok(!split(now).chunks.equals(split(original).chunks), 'new data key, new chunks');
    // The retired keys with any header they ever wrapped: none opens what is stored now.
    for (const [id, header] of [
      [retired[0]!, split(original).header],
      [retired[1]!, split(rewrapped).header],
    ] as const) {
      const forged = Buffer.concat([header, split(now).chunks]);
      assert.match(await refusalWith(forged, keyOf(id)), /chunk 0 failed authentication/, `key ${id}`);
      assert.match(await refusalWith(now, keyOf(id)), /but the key in use is/, `key ${id} on the object as stored`);
    }
    await restoresTheBackup('ledger_after_reencrypt');
    const audited = await platform.runtime.catalog.access.listAudit({ action: 'key.rewrap' });
    assert.deepEqual(
      audited.map((e) => e.outcome),
      ['ok', 'ok', 'ok'],
    );
  });

  it('refuses while a restore reads the objects, naming it, and rotates nothing', async () => {
    const { catalog, keyring } = platform.runtime;
    const keyBefore = keyring.current().id;
    await catalog.beginRestore({ id: 'held-restore', backupId, workflowId: 'restore/held', target: 'ledger_held' });
    const refusal =
      /cannot rewrap while 1 job\(s\) read or write the objects it would rewrite: restore held-restore of database ledger; wait for them to end/;
    try {
      await assert.rejects(rewrapObjects(deps, operator, { reencrypt: false }), refusal);
      await assert.rejects(rotateAndRewrap(deps, operator, { reencrypt: true }), refusal);
      assert.equal(keyring.current().id, keyBefore, 'the refused rotation made no new key');
    } finally {
      await catalog.endRestore('held-restore', { status: 'failed', error: 'held by the test' });
    }
    const [refused] = await catalog.access.listAudit({ action: 'key.rewrap' });
    assert.equal(refused?.outcome, 'failed');
    assert.match(refused?.detail ?? '', /restore held-restore of database ledger/);
    const outcome = await rewrapObjects(deps, operator, { reencrypt: false });
    assert.equal(outcome.objects.current, 2, 'once the restore ended, the rewrap runs');
  });
});
