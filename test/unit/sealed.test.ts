import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { seal, unseal } from '../../lib/crypto/sealed.ts';
import { loadOrCreateSecretKey, secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';

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
    assert.throws(() => unseal(other, sealed, 'ctx'), new RegExp(`sealed with key ${key.id}, but the secret key in use is ${other.id}`));
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
});
