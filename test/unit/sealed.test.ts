import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { reseal, seal, sealedKeyId, unseal } from '../../lib/crypto/sealed.ts';
import { loadOrCreateSecretKey, secretKeyFromBytes, writeNewKeyFile } from '../../lib/crypto/secret-key.ts';

describe('sealed catalog secrets', () => {
  const key = secretKeyFromBytes(randomBytes(32));

  it('round-trips and uses a fresh nonce each time', () => {
    const a = seal(key, 'hunter2', 'database:demo:password');
    const b = seal(key, 'hunter2', 'database:demo:password');
    assert.notEqual(a, b);
    assert.ok(!a.includes('hunter2'));
    assert.equal(unseal(key, a, 'database:demo:password'), 'hunter2');
  });

  it('refuses a value moved to another record', () => {
    const sealed = seal(key, 'hunter2', 'database:demo:password');
    assert.throws(() => unseal(key, sealed, 'database:prod:password'), /failed authentication/);
  });

  it('names both keys when the secret key differs', () => {
    const sealed = seal(key, 'hunter2', 'ctx');
    const other = secretKeyFromBytes(randomBytes(32));
    assert.throws(
      () => unseal(other, sealed, 'ctx'),
      new RegExp(`sealed with key ${key.id}, but the secret key in use is ${other.id}`),
    );
  });
});

describe('sealed secrets across a key rotation', () => {
  const old = secretKeyFromBytes(randomBytes(32));
  const current = secretKeyFromBytes(randomBytes(32));
  const ring = (keyId: string) => {
    const key = [old, current].find((k) => k.id === keyId);
    if (!key) throw new Error(`secret key ${keyId} is not in the keyring`);
    return key;
  };

  it('opens a value with the key its id names', () => {
    assert.equal(unseal(ring, seal(old, 'from before', 'ctx'), 'ctx'), 'from before');
    assert.equal(unseal(ring, seal(current, 'from after', 'ctx'), 'ctx'), 'from after');
  });

  it('re-seals under the new key: the new id, the same secret, still bound to its record', () => {
    const before = seal(old, 's3-secret', 'storage:offsite:secrets');
    const after = reseal(ring, current, before, 'storage:offsite:secrets');
    assert.equal(sealedKeyId(before), old.id);
    assert.equal(sealedKeyId(after), current.id);
    assert.ok(!after.includes('s3-secret'));
    assert.equal(unseal(current, after, 'storage:offsite:secrets'), 's3-secret');
    assert.throws(() => unseal(old, after, 'storage:offsite:secrets'), new RegExp(`sealed with key ${current.id}`));
    assert.throws(() => unseal(current, after, 'storage:other:secrets'), /failed authentication/);
  });

  it('refuses to re-seal a value moved to another record, and names a key the ring lacks', () => {
    const moved = seal(old, 'pw', 'database:prod:password');
    assert.throws(() => reseal(ring, current, moved, 'database:demo:password'), /failed authentication/);
    const foreign = secretKeyFromBytes(randomBytes(32));
    assert.throws(
      () => reseal(ring, current, seal(foreign, 'pw', 'ctx'), 'ctx'),
      new RegExp(`secret key ${foreign.id} is not in the keyring`),
    );
  });

  it('reads no key id from a malformed value', () => {
    assert.equal(sealedKeyId('plain text'), undefined);
    assert.equal(sealedKeyId('v2.abc.def'), undefined);
  });
});

describe('secret key file', () => {
  it('is created once with mode 0600 and then reused', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-key-'));
    const file = path.join(dir, 'secret.key');
    const first = await loadOrCreateSecretKey(file);
    const second = await loadOrCreateSecretKey(file);
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(first.key.id, second.key.id);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(await readFile(file, 'utf8'), /^[0-9a-f]{64}\n$/);
  });

  it('is not created afresh when the keys directory beside it holds rotated keys', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-key-'));
    const rotated = secretKeyFromBytes(randomBytes(32));
    await writeNewKeyFile(path.join(dir, 'keys', `${rotated.id}.key`), rotated);
    await assert.rejects(
      loadOrCreateSecretKey(path.join(dir, 'secret.key')),
      new RegExp(`secret.key is missing, but .*keys holds ${rotated.id}\\.key`),
    );
    await assert.rejects(stat(path.join(dir, 'secret.key')), /ENOENT/);
  });
});
