import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeHeader, encodeHeader, headerLength, wrapContextOf } from '../../lib/crypto/backup-header.ts';
import { DecryptStream, EncryptStream, type DecryptionKey, type EncryptionKey } from '../../lib/crypto/chunked-gcm.ts';
import { logicalBackupIdentity } from '../../lib/crypto/object-identity.ts';
import { rewrapHeader } from '../../lib/crypto/rewrap.ts';
import { parseSecretKeyFile, secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { unwrapperFor, wrapperFor } from '../../lib/crypto/wrap/registry.ts';
import { secretUnwrapper, secretWrapper } from '../../lib/crypto/wrap/secret.ts';
import { x25519Unwrapper, x25519Wrapper } from '../../lib/crypto/wrap/x25519.ts';
import { generateIdentity, parseIdentityFile, parseRecipient } from '../../lib/crypto/wrap/x25519-keys.ts';
import { extractReferenceDecryptor, pythonWithCryptography } from '../support/reference-decryptor.ts';

const run = promisify(execFile);
const secret = secretKeyFromBytes(randomBytes(32));
const identity = logicalBackupIdentity('orders', '20261123T103000Z-3f9a1c');
const context = wrapContextOf(identity);
const pair = generateIdentity();
const [holder] = parseIdentityFile(pair.fileText, 'test identity');

async function seal(plain: Buffer, key: EncryptionKey): Promise<Buffer> {
  const enc = new EncryptStream(key, { identity, chunkSize: 1024 });
  const parts: Buffer[] = [];
  enc.on('data', (part: Buffer) => parts.push(part));
  await pipeline(Readable.from([plain.subarray(0, 700), plain.subarray(700)]), enc);
  return Buffer.concat(parts);
}

async function open(sealed: Buffer, key: DecryptionKey): Promise<Buffer> {
  const dec = new DecryptStream(key, { expect: identity });
  const parts: Buffer[] = [];
  dec.on('data', (part: Buffer) => parts.push(part));
  // Byte by byte through the header, so that every split of a version 3 header is met.
  const pieces = [...Array.from({ length: 200 }, (_, i) => sealed.subarray(i, i + 1)), sealed.subarray(200)];
  await pipeline(Readable.from(pieces), dec);
  return Buffer.concat(parts);
}

describe('format version 3 header', () => {
  it('encodes and decodes every field, and is measured from any prefix', async () => {
    const wrappedKey = await secretWrapper(secret).wrap(randomBytes(32), context);
    const header = encodeHeader({ version: 3, algorithm: 2, chunkSize: 4096, keyId: secret.id, identity, wrappedKey });
    for (let n = 5; n < header.length; n++) {
      const measured = headerLength(header.subarray(0, n));
      assert.ok(measured === undefined || measured === header.length, `measured ${measured} from ${n} bytes`);
    }
    assert.equal(headerLength(header), header.length);
    const decoded = decodeHeader(header);
    assert.deepEqual(
      { version: decoded.version, chunkSize: decoded.chunkSize, keyId: decoded.keyId, identity: decoded.identity },
      { version: 3, chunkSize: 4096, keyId: secret.id, identity },
    );
    assert.deepEqual(decoded.wrappedKey, wrappedKey);
  });

  it('refuses a wrap kind it does not know', async () => {
    const wrappedKey = await secretWrapper(secret).wrap(randomBytes(32), context);
    const header = encodeHeader({ version: 3, algorithm: 2, chunkSize: 4096, keyId: secret.id, identity, wrappedKey });
    const at = headerLength(header)! - wrappedKey.wrapped.length - 2 - secret.id.length - 2;
    header[at] = 9;
    assert.throws(() => decodeHeader(header), /unknown wrap kind 9/);
  });
});

describe('key wrappers', () => {
  it("'secret' unwraps only with the same key and the same context", async () => {
    const dataKey = randomBytes(32);
    const record = await secretWrapper(secret).wrap(dataKey, context);
    assert.deepEqual(record.keyRef, secret.id);
    assert.deepEqual(await secretUnwrapper(secret).unwrap(record, context), dataKey);
    const other = wrapContextOf(logicalBackupIdentity('orders', '20261124T103000Z-0b1d2e'));
    await assert.rejects(secretUnwrapper(secret).unwrap(record, other), /failed authentication/);
    const stranger = secretKeyFromBytes(randomBytes(32));
    await assert.rejects(
      secretUnwrapper(stranger).unwrap(record, context),
      new RegExp(`encrypted with key ${secret.id}, but the key in use is ${stranger.id}`),
    );
  });

  it("'x25519' wraps with the recipient alone and unwraps only with its private key", async () => {
    const dataKey = randomBytes(32);
    const record = await x25519Wrapper(pair.recipient).wrap(dataKey, context);
    assert.equal(record.keyRef, pair.recipient);
    assert.equal(holder!.recipient, pair.recipient);
    assert.deepEqual(await x25519Unwrapper([holder!]).unwrap(record, context), dataKey);
    const other = wrapContextOf(logicalBackupIdentity('billing', '20261123T103000Z-3f9a1c'));
    await assert.rejects(x25519Unwrapper([holder!]).unwrap(record, other), /failed authentication/);
    const stranger = parseIdentityFile(generateIdentity().fileText, 'stranger');
    await assert.rejects(
      x25519Unwrapper(stranger).unwrap(record, context),
      new RegExp(`encrypted for recipient ${pair.recipient} .*--identity <file>`),
    );
  });

  it('refuses recipients and identity files that are not keys', () => {
    assert.equal(parseRecipient(` ${pair.recipient}\n`), pair.recipient);
    assert.throws(() => parseRecipient('hspub1short'), /not an X25519 recipient/);
    assert.throws(() => parseIdentityFile('# only a comment\n', 'f'), /holds no hssec1/);
  });

  it('chooses the wrapper by kind, and says which kinds exist', () => {
    assert.equal(wrapperFor({ kind: 'x25519', keyRef: pair.recipient }).keyRef, pair.recipient);
    assert.equal(wrapperFor({ kind: 'secret', key: secret }).keyRef, secret.id);
    assert.throws(() => wrapperFor({ kind: 'vault-transit', keyRef: 'backups' }), /not available in this Hindsight/);
  });
});

describe('envelope encryption through the streams', () => {
  it('round-trips under the secret key and under a recipient', async () => {
    const plain = randomBytes(5000);
    assert.deepEqual(await open(await seal(plain, secret), secret), plain);
    const forRecipient = await seal(plain, x25519Wrapper(pair.recipient));
    assert.deepEqual(await open(forRecipient, { identities: [holder!] }), plain);
  });

  it('a writer without the private key cannot read what it wrote for a recipient', async () => {
    const sealed = await seal(randomBytes(3000), x25519Wrapper(pair.recipient));
    await assert.rejects(
      open(sealed, secret),
      new RegExp(
        `encrypted for recipient ${pair.recipient} \\(public-key mode\\) and no identity is at hand.*--identity <file>`,
      ),
    );
  });

  it('a rewrapped header opens the untouched chunks under the new key only', async () => {
    const plain = randomBytes(4000);
    const sealed = await seal(plain, secret);
    const cut = headerLength(sealed)!;
    const newKey = secretKeyFromBytes(randomBytes(32));
    const header = await rewrapHeader(sealed.subarray(0, cut), unwrapperFor({ secret }), secretWrapper(newKey));
    const rewrapped = Buffer.concat([header, sealed.subarray(cut)]);
    assert.deepEqual(rewrapped.subarray(header.length), sealed.subarray(cut), 'the chunks are untouched');
    assert.deepEqual(await open(rewrapped, newKey), plain);
    await assert.rejects(open(rewrapped, secret), new RegExp(`encrypted with key ${newKey.id}`));
    const toRecipient = await rewrapHeader(header, unwrapperFor({ secret: newKey }), x25519Wrapper(pair.recipient));
    assert.deepEqual(await open(Buffer.concat([toRecipient, sealed.subarray(cut)]), { identities: [holder!] }), plain);
  });
});

describe('version 2 objects stay readable', () => {
  const dir = path.join(import.meta.dirname, '..', 'fixtures', 'format-v2');
  it('decrypts the version 2 fixture written by the version 2 encryptor', async () => {
    const object = await readFile(path.join(dir, 'object.hsb'));
    assert.equal(object[4], 2, 'the fixture is a version 2 object');
    const key = parseSecretKeyFile(await readFile(path.join(dir, 'throwaway-test-key.hex'), 'utf8'), 'fixture');
    assert.deepEqual(await open(object, { secret: key }), await readFile(path.join(dir, 'plain.txt')));
    await assert.rejects(open(object, { identities: [holder!] }), /format version 2, encrypted with secret key/);
  });
});

describe('the reference decryptor (Python) reads version 3', () => {
  let python: string | undefined;
  let dir: string;
  let script: string;
  before(async () => {
    python = await pythonWithCryptography();
    dir = await mkdtemp(path.join(tmpdir(), 'hsb-v3-'));
    script = await extractReferenceDecryptor(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const cases: Array<[string, () => EncryptionKey, () => string]> = [
    ['the secret key', () => secret, () => `${secret.bytes.toString('hex')}\n`],
    ['an identity file', () => x25519Wrapper(pair.recipient), () => pair.fileText],
  ];
  for (const [what, wrapKey, keyText] of cases) {
    it(`decrypts a version 3 object with ${what}`, async (t) => {
      if (!python) return t.skip('no Python with the cryptography package (pip install cryptography)');
      const plain = randomBytes(3000);
      const [object, keyFile, out] = ['object.hsb', 'key', 'plain'].map((n) => path.join(dir, `${what.length}-${n}`));
      await writeFile(object!, await seal(plain, wrapKey()));
      await writeFile(keyFile!, keyText(), { mode: 0o600 });
      const { stderr } = await run(python, [script, object!, keyFile!, out!, 'orders/20261123T103000Z-3f9a1c']);
      assert.match(stderr, /backup 20261123T103000Z-3f9a1c of database orders: 3 chunks decrypted/);
      assert.deepEqual(await readFile(out!), plain);
    });
  }

  it('refuses an object written for a recipient when given the secret key', async (t) => {
    if (!python) return t.skip('no Python with the cryptography package (pip install cryptography)');
    const object = path.join(dir, 'recipient.hsb');
    const keyFile = path.join(dir, 'secret.key');
    await writeFile(object, await seal(randomBytes(100), x25519Wrapper(pair.recipient)));
    await writeFile(keyFile, `${secret.bytes.toString('hex')}\n`);
    const failed = await run(python, [script, object, keyFile, path.join(dir, 'out')]).then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );
    assert.match(
      failed ?? '',
      new RegExp(`wrapped by x25519 key ${pair.recipient}, which this key file cannot unwrap`),
    );
  });
});
