import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupManifest } from '../../lib/backup/manifest.ts';
import { copyRolesObject, readRolesObject, sealRoles, writeRolesObject } from '../../lib/backup/roles-object.ts';
import type { RolesDocument } from '../../lib/backup/roles.ts';
import { identityForObjectKey, logicalBackupRolesIdentity } from '../../lib/crypto/object-identity.ts';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { storedRole } from '../support/owners-fixture.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';

const key = secretKeyFromBytes(Buffer.alloc(32, 7));
const A = '20261123T103000Z-3f9a1c';
const B = '20261124T103000Z-0b1d2e';
const document: RolesDocument = {
  format: 'hindsight-roles',
  formatVersion: 1,
  roles: [storedRole('app', { login: true, validUntil: 'infinity' })],
  memberships: [],
};

/** Just the manifest fields a roles object is read by. */
const manifestOf = (backupId: string, roles: BackupManifest['roles']) =>
  ({ database: 'orders', backupId, roles }) as BackupManifest;

describe('the roles object in storage', () => {
  let dir: string;
  let storage: StorageDriver;
  let other: StorageDriver;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'roles-object-'));
    storage = createLocalStorage({ name: 'a', root: path.join(dir, 'a') });
    other = createLocalStorage({ name: 'b', root: path.join(dir, 'b') });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is encrypted under its own identity and reads back as the document', async () => {
    const sealed = await sealRoles(document, { database: 'orders', backupId: A }, key);
    assert.equal(sealed.key, `orders/${A}.roles.hsb`);
    assert.deepEqual(identityForObjectKey(sealed.key), logicalBackupRolesIdentity('orders', A));
    assert.ok(!sealed.bytes.includes(Buffer.from('"superuser"')), 'no plaintext in storage');
    await writeRolesObject(storage, sealed);
    const entry = { key: sealed.key, sizeBytes: sealed.bytes.length, sha256: sealed.sha256 };
    assert.deepEqual(await readRolesObject(storage, manifestOf(A, entry), key), document);
    await copyRolesObject(storage, other, manifestOf(A, entry));
    assert.deepEqual(await readRolesObject(other, manifestOf(A, entry), key), document);
    assert.equal(await readRolesObject(storage, manifestOf(A, undefined), key), undefined, 'an older backup has none');
  });

  it("refuses another backup's roles copied over this one's name, even with the manifest rewritten to match", async () => {
    const sealed = await sealRoles(document, { database: 'orders', backupId: A }, key);
    const forged = { ...sealed, key: `orders/${B}.roles.hsb` };
    await writeRolesObject(storage, forged);
    const entry = { key: forged.key, sizeBytes: sealed.bytes.length, sha256: sealed.sha256 };
    await assert.rejects(
      readRolesObject(storage, manifestOf(B, entry), key),
      /roles of backup 20261123T103000Z-3f9a1c of database orders, expected roles of backup 20261124T103000Z-0b1d2e/,
    );
  });

  it('refuses a damaged object by its checksum, and a manifest pointing elsewhere', async () => {
    const sealed = await sealRoles(document, { database: 'orders', backupId: A }, key);
    const damaged = Buffer.from(sealed.bytes);
    damaged[damaged.length - 5]! ^= 1;
    const write = await storage.openWrite(sealed.key);
    await pipeline(Readable.from([damaged]), write.stream);
    await write.commit();
    const entry = { key: sealed.key, sizeBytes: sealed.bytes.length, sha256: sealed.sha256 };
    await assert.rejects(readRolesObject(storage, manifestOf(A, entry), key), /has SHA-256 .*, but the manifest gives/);
    await assert.rejects(copyRolesObject(storage, other, manifestOf(A, entry)), /does not match its manifest/);
    await assert.rejects(
      readRolesObject(storage, manifestOf(A, { ...entry, key: `orders/${A}.dump.hsb` }), key),
      /points at roles object 'orders\/20261123T103000Z-3f9a1c\.dump\.hsb' instead of its own/,
    );
  });
});
