import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { DecryptStream, EncryptStream } from '../../lib/crypto/chunked-gcm.ts';
import { keyFileIn, openKeyring, type KeyringSources } from '../../lib/crypto/keyring.ts';
import { generateSecretKey, replaceKeyFile, writeNewKeyFile, type SecretKey } from '../../lib/crypto/secret-key.ts';
import { EncryptionCodec, KEY_ID_METADATA } from '../../temporal/codec.ts';
import { KeyringCodec } from '../../temporal/keyring-codec.ts';
import { readAll } from '../support/streams.ts';

async function store(): Promise<KeyringSources & { dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-keyring-'));
  return { dir, currentFile: path.join(dir, 'secret.key'), keysDir: path.join(dir, 'keys'), previousFiles: [] };
}

const writeKey = (file: string, key: SecretKey) => writeFile(file, `${key.bytes.toString('hex')}\n`, { mode: 0o600 });

async function encrypt(key: SecretKey, plain: Buffer): Promise<Buffer> {
  return readAll(
    Readable.from([plain]).pipe(
      new EncryptStream(key, {
        chunkSize: 1024,
        identity: { kind: 'logical-backup', database: 'keyring', backupId: 'b1' },
      }),
    ),
  );
}

describe('keyring', () => {
  it('holds the current key, the keys directory and the previous files, current first', async () => {
    const s = await store();
    const [current, rotated, elsewhere] = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
    await writeKey(s.currentFile, current);
    await writeNewKeyFile(keyFileIn(s.keysDir, rotated.id), rotated);
    const previousFile = path.join(s.dir, 'old.key');
    await writeKey(previousFile, elsewhere);
    const keyring = openKeyring({ ...s, previousFiles: [previousFile] });
    assert.equal(keyring.current().id, current.id);
    assert.deepEqual(
      keyring.entries().map((e) => [e.key.id, e.current]),
      [
        [current.id, true],
        [rotated.id, false],
        [elsewhere.id, false],
      ],
    );
    assert.ok(keyring.resolve(rotated.id).bytes.equals(rotated.bytes));
    assert.ok(keyring.resolve(elsewhere.id).bytes.equals(elsewhere.bytes));
  });

  it('names the missing key id and the file to restore', async () => {
    const s = await store();
    await writeKey(s.currentFile, generateSecretKey());
    const keyring = openKeyring(s);
    assert.throws(
      () => keyring.resolve('0123456789abcdef'),
      (error: Error) => {
        assert.match(error.message, /secret key 0123456789abcdef is not in the keyring/);
        assert.ok(error.message.includes(path.join(s.keysDir, '0123456789abcdef.key')), error.message);
        return true;
      },
    );
  });

  it('refuses a key file whose name is not its key id', async () => {
    const s = await store();
    await writeKey(s.currentFile, generateSecretKey());
    await mkdir(s.keysDir);
    const stray = generateSecretKey();
    await writeKey(path.join(s.keysDir, 'backup-2025.key'), stray);
    assert.throws(
      () => openKeyring(s),
      new RegExp(`backup-2025\\.key holds key ${stray.id}.*rename it to ${stray.id}\\.key`),
    );
  });

  it('follows a current key replaced by another process, and finds keys added after it opened', async () => {
    const s = await store();
    const first = generateSecretKey();
    await writeKey(s.currentFile, first);
    const keyring = openKeyring(s);
    const added = generateSecretKey();
    await writeNewKeyFile(keyFileIn(s.keysDir, added.id), added);
    assert.equal(keyring.resolve(added.id).id, added.id, 'an unknown id re-reads the keys directory');

    const second = generateSecretKey();
    await writeNewKeyFile(keyFileIn(s.keysDir, first.id), first);
    await replaceKeyFile(s.currentFile, second);
    assert.equal(keyring.current().id, second.id, 'the replaced file is noticed without a reload');
    assert.equal(keyring.resolve(first.id).id, first.id, 'the earlier key is still found by its id');
    assert.deepEqual(
      (await readdir(s.dir)).filter((n) => n.includes('.tmp-')),
      [],
      'no temporary file is left',
    );
  });

  it('decrypts each backup with the key its header names', async () => {
    const s = await store();
    const [old, current] = [generateSecretKey(), generateSecretKey()];
    await writeKey(s.currentFile, current);
    await writeNewKeyFile(keyFileIn(s.keysDir, old.id), old);
    const keyring = openKeyring(s);
    const plain = randomBytes(5000);
    for (const writer of [old, current]) {
      const decrypted = await readAll(
        Readable.from([await encrypt(writer, plain)]).pipe(new DecryptStream(keyring.resolve)),
      );
      assert.ok(decrypted.equals(plain), `a backup under ${writer.id} decrypts`);
    }
    const foreign = generateSecretKey();
    await assert.rejects(
      pipeline(
        Readable.from([await encrypt(foreign, plain)]),
        new DecryptStream(keyring.resolve),
        async function* (source) {
          for await (const chunk of source) yield chunk;
        },
      ),
      new RegExp(`secret key ${foreign.id} is not in the keyring`),
    );
  });
});

describe('key files', () => {
  it('are written 0600, never overwritten by another key, and accepted again when identical', async () => {
    const s = await store();
    const key = generateSecretKey();
    const file = keyFileIn(s.keysDir, key.id);
    await writeNewKeyFile(file, key);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), key.bytes.toString('hex'));
    await writeNewKeyFile(file, key);
    await assert.rejects(
      writeNewKeyFile(file, generateSecretKey()),
      /already holds key .* a key file is never overwritten/,
    );
    assert.equal((await readFile(file, 'utf8')).trim(), key.bytes.toString('hex'), 'the first key is intact');
  });

  it('replace the current key in one rename, mode 0600', async () => {
    const s = await store();
    await writeKey(s.currentFile, generateSecretKey());
    const next = generateSecretKey();
    await replaceKeyFile(s.currentFile, next);
    assert.equal((await readFile(s.currentFile, 'utf8')).trim(), next.bytes.toString('hex'));
    assert.equal((await stat(s.currentFile)).mode & 0o777, 0o600);
  });
});

describe('payload codec over a keyring', () => {
  it('encodes under the key that is current now and decodes payloads of every key, without a restart', async () => {
    const s = await store();
    const first = generateSecretKey();
    await writeKey(s.currentFile, first);
    const codec = new KeyringCodec(openKeyring(s), 'refuse');
    const payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"backup/shop"') };
    const [before] = await codec.encode([payload]);
    assert.equal(Buffer.from(before!.metadata![KEY_ID_METADATA]!).toString(), first.id);

    // Another process rotates: the earlier key is kept by id, the current file replaced.
    const second = generateSecretKey();
    await writeNewKeyFile(keyFileIn(s.keysDir, first.id), first);
    await writeNewKeyFile(keyFileIn(s.keysDir, second.id), second);
    await replaceKeyFile(s.currentFile, second);
    const [after] = await codec.encode([payload]);
    assert.equal(Buffer.from(after!.metadata![KEY_ID_METADATA]!).toString(), second.id);
    const decoded = await codec.decode([before!, after!]);
    assert.deepEqual(
      decoded.map((p) => Buffer.from(p.data!).toString()),
      ['"backup/shop"', '"backup/shop"'],
    );
  });

  it('decodes a payload under a key written after it opened (a rotation it has not noticed yet)', async () => {
    const s = await store();
    const current = generateSecretKey();
    await writeKey(s.currentFile, current);
    const codec = new KeyringCodec(openKeyring(s), 'refuse');
    const newer = generateSecretKey();
    const [sealed] = await new EncryptionCodec(newer).encode([{ metadata: {}, data: Buffer.from('"x"') }]);
    await assert.rejects(
      codec.decode([sealed!]),
      new RegExp(`encrypted with key ${newer.id}`),
      'unknown until it is on disk',
    );
    await writeNewKeyFile(keyFileIn(s.keysDir, newer.id), newer);
    assert.equal(Buffer.from((await codec.decode([sealed!]))[0]!.data!).toString(), '"x"');
  });
});
