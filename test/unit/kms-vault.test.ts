import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { kmsWrapper } from '../../lib/crypto/wrap/kms/index.ts';
import { HindsightError } from '../../lib/errors.ts';
import { freePort } from '../support/ports.ts';

// The 'vault-transit' kind at the unit level: Vault's server could not be built here (its module
// cannot be installed with `go install`, and compiling it from source did not finish within the
// time allowed), so these tests run the wrapper against a stand-in that answers transit's
// documented encrypt and decrypt requests with AES-256-GCM and the associated data, as Vault does.

const TOKEN = `hvs.${randomBytes(12).toString('hex')}`;

interface Seen {
  path: string;
  token: string | undefined;
  body: Record<string, string>;
}

/** Transit's encrypt and decrypt for one key, "hindsight", under the mount "transit". */
function transitStandIn(seen: Seen[]): http.Server {
  const key = randomBytes(32);
  const answer = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  return http.createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text || '{}') as Record<string, string>;
      const token = req.headers['x-vault-token'] as string | undefined;
      seen.push({ path: req.url ?? '', token, body });
      if (token !== TOKEN) return answer(res, 403, { errors: ['permission denied'] });
      const aad = Buffer.from(body.associated_data ?? '', 'base64');
      if (req.url === '/v1/transit/encrypt/hindsight') {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
        const sealed = Buffer.concat([cipher.update(Buffer.from(body.plaintext ?? '', 'base64')), cipher.final()]);
        const blob = Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64');
        return answer(res, 200, { data: { ciphertext: `vault:v1:${blob}`, key_version: 1 } });
      }
      if (req.url === '/v1/transit/decrypt/hindsight') {
        const raw = Buffer.from((body.ciphertext ?? '').replace(/^vault:v1:/, ''), 'base64');
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(aad);
          decipher.setAuthTag(raw.subarray(raw.length - 16));
          const plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
          return answer(res, 200, { data: { plaintext: plain.toString('base64') } });
        } catch {
          return answer(res, 400, { errors: ['cipher: message authentication failed'] });
        }
      }
      return answer(res, 400, { errors: ['encryption key not found'] });
    });
  });
}

describe('vault-transit wrapping', () => {
  const seen: Seen[] = [];
  const server = transitStandIn(seen);
  let address = '';
  const config = () => ({ provider: 'vault' as const, address, keyName: 'hindsight', token: TOKEN });
  const context = { database: 'shop', object: 'base/0001.tar' };

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  it('wraps with the token and the context as associated data, and unwraps with the same context only', async () => {
    const wrapper = kmsWrapper({ ...config(), mount: 'transit', contextAs: 'associated_data' });
    const dataKey = randomBytes(32);
    const record = await wrapper.wrap(dataKey, context);
    assert.equal(record.kind, 'vault-transit');
    assert.equal(record.keyRef, 'hindsight');
    assert.match(record.wrapped.toString('utf8'), /^vault:v1:/);
    assert.equal(seen[0]!.token, TOKEN);
    assert.equal(
      Buffer.from(seen[0]!.body.associated_data!, 'base64').toString(),
      '[["database","shop"],["object","base/0001.tar"]]',
    );
    assert.deepEqual(await wrapper.unwrap(record, { object: 'base/0001.tar', database: 'shop' }), dataKey);
    await assert.rejects(
      wrapper.unwrap(record, { ...context, object: 'base/0002.tar' }),
      (error: unknown) =>
        error instanceof HindsightError &&
        error.kind === 'integrity' &&
        error.message.startsWith('the data key wrapped by Vault transit key hindsight (mount transit at'),
    );
  });

  it('names the key and the fix for a refused token and a missing key, without the token', async () => {
    const wrong = kmsWrapper({ ...config(), token: 'hvs.wrong-token-value' });
    await assert.rejects(
      wrong.wrap(randomBytes(32), context),
      (error: unknown) =>
        error instanceof HindsightError &&
        error.kind === 'access_denied' &&
        /give the token a policy with "update" on transit\/encrypt\/hindsight/.test(error.message) &&
        !error.message.includes('wrong-token-value'),
    );
    const missing = kmsWrapper({ ...config(), keyName: 'nope' });
    await assert.rejects(
      missing.wrap(randomBytes(32), context),
      (error: unknown) => error instanceof HindsightError && error.kind === 'not_found',
    );
    assert.equal(missing.canUnwrap({ kind: 'vault-transit', keyRef: 'hindsight', wrapped: Buffer.alloc(0) }), false);
  });

  it('tries an unreachable Vault again, then names its address', async () => {
    const gone = kmsWrapper({ ...config(), address: `http://127.0.0.1:${await freePort()}` });
    await assert.rejects(
      gone.wrap(randomBytes(32), context),
      (error: unknown) =>
        error instanceof HindsightError &&
        error.kind === 'unreachable' &&
        /^cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ for transit key hindsight \(ECONNREFUSED\)/.test(
          error.message,
        ),
    );
  });
});
