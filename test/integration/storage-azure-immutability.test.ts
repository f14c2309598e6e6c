import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { azureStorageConfig } from '../../lib/storage/azure/config.ts';
import { createAzureStorage } from '../../lib/storage/azure/driver.ts';
import { CONNECTION_TEST_DIR, testStorageConnection } from '../../lib/storage/connection-test.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { startAzurite, type AzuriteServer } from '../support/servers/azurite.ts';
import { readAll } from '../support/streams.ts';

// Azure immutability on Azurite. Azurite answers Set Blob Immutability Policy with "not implemented",
// never reports a container's version-level immutability support, and does not enforce a policy sent
// with a write: what runs here is what the driver sends and what it refuses. Enforcement (a delete
// refused until the date) is untested here; docs/storages.md says so.

const DAY = 86_400_000;

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** An HTTP proxy in front of Azurite recording every request: the headers the driver sends. */
async function recordingProxy(target: number): Promise<{ port: number; requests: Recorded[]; stop(): Promise<void> }> {
  const requests: Recorded[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const upstream = http.request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function write(driver: StorageDriver, key: string, body: Buffer): Promise<void> {
  const upload = await driver.openWrite(key);
  await pipeline(Readable.from([body]), upload.stream);
  await upload.commit();
}

/** The requests that make a blob visible: Put Blob, or Put Block List. */
const commits = (requests: Recorded[], blob: string): Recorded[] =>
  requests.filter(
    (r) => r.method === 'PUT' && r.url.split('?')[0]!.endsWith(`/${blob}`) && !/[?&]comp=block(&|$)/.test(r.url),
  );

describe('azure immutability on Azurite', () => {
  let azurite: AzuriteServer;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let container: string;
  let driver: StorageDriver;

  before(async () => {
    azurite = await startAzurite();
    proxy = await recordingProxy(azurite.port);
    container = `hindsight-${randomBytes(4).toString('hex')}`;
    const service = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    );
    await service.getContainerClient(container).create();
    const config = azureStorageConfig.parse({
      type: 'azure',
      container,
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      endpoint: `http://127.0.0.1:${proxy.port}/${azurite.accountName}`,
      immutability: { mode: 'locked', days: 3 },
    });
    driver = createAzureStorage({ name: 'worm', config });
  });
  after(async () => {
    await driver?.close?.();
    await proxy?.stop();
    await azurite?.stop();
  });

  it('commits each blob with a version-level policy of the configured mode, until now + days', async () => {
    const small = randomBytes(1000);
    const large = randomBytes(5 * 1024 * 1024);
    const before = Date.now();
    await write(driver, 'base/small', small);
    await write(driver, 'base/large', large);
    const afterWrites = Date.now();
    for (const [blob, body] of [
      ['base/small', small],
      ['base/large', large],
    ] as const) {
      const sent = commits(proxy.requests, blob);
      assert.equal(sent.length, 1, `one commit of ${blob}`);
      const headers = sent[0]!.headers;
      assert.equal(headers['x-ms-immutability-policy-mode'], 'Locked');
      const until = Date.parse(String(headers['x-ms-immutability-policy-until-date']));
      // The header has a precision of seconds.
      assert.ok(until >= before + 3 * DAY - 1000 && until <= afterWrites + 3 * DAY, `until ${String(until)}`);
      assert.deepEqual(await readAll(await driver.openRead(blob)), body);
    }
    const staged = proxy.requests.filter((r) => /[?&]comp=block(&|$)/.test(r.url));
    assert.ok(staged.length > 0, 'the large blob was staged in blocks');
    assert.ok(staged.every((r) => r.headers['x-ms-immutability-policy-mode'] === undefined));
  });

  it('refuses, at the connection test, a container without version-level immutability', async () => {
    const result = await testStorageConnection(driver);
    assert.deepEqual(
      { ok: result.ok, ...(result.ok ? {} : { stage: result.stage, kind: result.kind, message: result.message }) },
      {
        ok: false,
        stage: 'settings',
        kind: 'bad_input',
        message: `storage azure "worm": unable to connect: container "${container}" does not have version-level immutability support enabled, which immutability needs: enable it on the container (or create it in an account with it enabled), or remove immutability from the storage settings (check the storage settings)`,
      },
    );
  });

  it('writes the connection test probe without a policy, so that it can be removed at once', async () => {
    proxy.requests.length = 0;
    await write(driver, `${CONNECTION_TEST_DIR}/probe`, randomBytes(100));
    const sent = commits(proxy.requests, `${CONNECTION_TEST_DIR}/probe`);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.headers['x-ms-immutability-policy-mode'], undefined);
    await driver.remove(`${CONNECTION_TEST_DIR}/probe`);
  });

  it('removes a blob and its versions where the service allows it', async () => {
    await write(driver, 'base/gone', randomBytes(100));
    await driver.remove('base/gone');
    assert.deepEqual(
      (await driver.list('base')).map((o) => o.key),
      ['base/large', 'base/small'],
    );
    assert.equal(await driver.lockedUntil?.('base/small'), undefined, 'Azurite keeps no policy');
  });
});
