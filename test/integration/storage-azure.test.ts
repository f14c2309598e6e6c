import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { azureStorageConfig, type AzureStorageConfig } from '../../lib/storage/azure/config.ts';
import { createAzureStorage } from '../../lib/storage/azure/driver.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { freePort } from '../support/ports.ts';
import { startAzurite, type AzuriteServer } from '../support/servers/azurite.ts';
import { describeStorageContract } from '../support/storage-contract.ts';
import { listedKeys, putObject } from '../support/storage-objects.ts';
import { readAll } from '../support/streams.ts';

let server: Promise<AzuriteServer> | undefined;
const azurite = (): Promise<AzuriteServer> => (server ??= startAzurite());
after(async () => {
  if (server) await (await server).stop();
});

/** The container as the Azure SDK sees it, bypassing the driver. */
async function rawContainer(name: string): Promise<ContainerClient> {
  const s = await azurite();
  const service = new BlobServiceClient(s.endpoint, new StorageSharedKeyCredential(s.accountName, s.accountKey));
  return service.getContainerClient(name);
}

async function newContainer(): Promise<string> {
  const name = `hindsight-${randomBytes(4).toString('hex')}`;
  await (await rawContainer(name)).create();
  return name;
}

async function keyConfig(overrides: Partial<AzureStorageConfig> = {}): Promise<AzureStorageConfig> {
  const s = await azurite();
  return azureStorageConfig.parse({
    type: 'azure',
    container: await newContainer(),
    accountName: s.accountName,
    accountKey: s.accountKey,
    endpoint: s.endpoint,
    ...overrides,
  });
}

/** A TCP server that accepts connections and never answers: a hung storage service. */
async function withSilentServer(body: (port: number) => Promise<void>): Promise<void> {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    await body((silent.address() as net.AddressInfo).port);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
}

describeStorageContract('azure (azurite)', async () => {
  const config = await keyConfig({ prefix: 'team-a/pg' });
  return { driver: createAzureStorage({ name: 'contract', config }), cleanup: async () => undefined };
});

describe('azure storage driver', () => {
  const drivers: StorageDriver[] = [];
  const open = (config: AzureStorageConfig, timeouts?: { connectMs: number; idleMs: number }): StorageDriver => {
    const driver = createAzureStorage({ name: 'offsite', config, ...(timeouts ? { timeouts } : {}) });
    drivers.push(driver);
    return driver;
  };
  /** A driver on an endpoint that accepts connections and never answers: a hung storage service. */
  const onSilentEndpoint = (
    timeouts: { connectMs: number; idleMs: number },
    body: (driver: StorageDriver) => Promise<void>,
  ) =>
    withSilentServer(async (port) => {
      const s = await azurite();
      await body(open(await keyConfig({ endpoint: `http://127.0.0.1:${port}/${s.accountName}` }), timeouts));
    });
  before(async () => {
    await azurite();
  });
  after(async () => {
    await Promise.all(drivers.map((d) => d.close?.()));
  });

  it('keeps keys under the prefix, and lists them without it', async () => {
    const config = await keyConfig({ prefix: '/nested/prefix/' });
    const driver = open(config);
    await putObject(driver, 'db/x.bin', Buffer.from('x'));
    assert.deepEqual(await listedKeys(driver, 'db'), ['db/x.bin']);
    assert.deepEqual(await listedKeys(driver, ''), ['db/x.bin']);
    const names: string[] = [];
    for await (const blob of (await rawContainer(config.container)).listBlobsFlat()) names.push(blob.name);
    assert.deepEqual(names, ['nested/prefix/db/x.bin']);
  });

  it('uploads in 4 MiB blocks committed at once, and an aborted upload stays invisible', async () => {
    const config = await keyConfig();
    const driver = open(config);
    await putObject(driver, 'big/kept.bin', randomBytes(9 * 1024 * 1024));
    const raw = await rawContainer(config.container);
    const blocks = await raw.getBlockBlobClient('big/kept.bin').getBlockList('committed');
    assert.deepEqual(
      blocks.committedBlocks?.map((b) => b.size),
      [4, 4, 1].map((n) => n * 1024 * 1024),
    );

    const write = await driver.openWrite('big/aborted.bin');
    for (let i = 0; i < 9; i += 1) {
      await new Promise<void>((resolve, reject) =>
        write.stream.write(randomBytes(1024 * 1024), (e) => (e ? reject(e) : resolve())),
      );
    }
    await write.abort();
    assert.equal(await driver.stat('big/aborted.bin'), undefined);
    assert.deepEqual(await listedKeys(driver, 'big'), ['big/kept.bin']);
    await assert.rejects(
      driver.openRead('big/aborted.bin'),
      (error: Error & { kind?: string }) => error.kind === 'not_found',
    );
  });

  it('stops accepting bytes while the service is slow, holding at most 16 MiB', async () => {
    await onSilentEndpoint({ connectMs: 5_000, idleMs: 30_000 }, async (driver) => {
      const write = await driver.openWrite('slow.bin');
      const MiB = 1024 * 1024;
      let accepted = 0;
      let stalled: Promise<void> | undefined;
      while (accepted <= 32 * MiB) {
        const done = new Promise<void>((resolve, reject) =>
          write.stream.write(Buffer.alloc(MiB), (e) => (e ? reject(e) : resolve())),
        );
        const inTime = await Promise.race([
          done.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500)),
        ]);
        if (!inTime) {
          stalled = done.catch(() => undefined);
          break;
        }
        accepted += MiB;
      }
      assert.ok(stalled, 'the stream stopped accepting data');
      assert.ok(accepted <= 16 * MiB, `accepted ${accepted / MiB} MiB while nothing was stored`);
      const started = Date.now();
      await write.abort();
      await stalled;
      assert.ok(Date.now() - started < 2_000, 'abort does not wait for the stalled requests');
    });
  });

  it('keeps a download open while its reader pauses longer than the idle timeout', async () => {
    const config = await keyConfig();
    const body = randomBytes(24 * 1024 * 1024);
    await putObject(open(config), 'paused.bin', body);
    // An idle timeout a loaded machine's Azurite never comes near while it sends, and a pause well past it.
    const driver = open(config, { connectMs: 2_000, idleMs: 1_000 });
    const stream = await driver.openRead('paused.bin');
    const chunks: Buffer[] = [];
    let paused = false;
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      if (!paused) {
        paused = true;
        await new Promise((resolve) => setTimeout(resolve, 3_000));
      }
    }
    assert.ok(Buffer.concat(chunks).equals(body));
  });

  it('reads an empty range, a range that starts at the end, and an empty object', async () => {
    const driver = open(await keyConfig());
    await putObject(driver, 'r.bin', Buffer.from('0123456789'));
    assert.equal((await readAll(await driver.openRead('r.bin', { start: 3, end: 3 }))).length, 0);
    assert.equal((await readAll(await driver.openRead('r.bin', { start: 10 }))).length, 0);
    assert.equal((await readAll(await driver.openRead('r.bin', { start: 8 }))).toString(), '89');
    await putObject(driver, 'empty.bin', Buffer.alloc(0));
    assert.equal((await driver.stat('empty.bin'))?.size, 0);
    assert.equal((await readAll(await driver.openRead('empty.bin'))).length, 0);
  });

  it('tells a wrong key, a missing container and an unreachable endpoint apart, without secrets', async () => {
    const s = await azurite();
    const wrongKey = Buffer.from('not-the-azurite-account-key-000').toString('base64');
    const badKey = await testStorageConnection(open(await keyConfig({ accountKey: wrongKey })));
    const noContainer = await testStorageConnection(open(await keyConfig({ container: 'no-such-container' })));
    const closedPort = await freePort();
    const closedEndpoint = `http://127.0.0.1:${closedPort}/${s.accountName}`;
    const started = Date.now();
    const unreachable = await testStorageConnection(open(await keyConfig({ endpoint: closedEndpoint })));
    const unreachableMs = Date.now() - started;

    assert.ok(!badKey.ok && !noContainer.ok && !unreachable.ok, 'all three fail');
    assert.equal(badKey.kind, 'access_denied', badKey.message);
    assert.match(
      badKey.message,
      /^storage azure "offsite": unable to write '.+': Server failed to authenticate the request/,
    );
    assert.equal(noContainer.kind, 'bad_input', noContainer.message);
    assert.match(noContainer.message, /container "no-such-container" does not exist \(create it or fix the name\)/);
    assert.equal(unreachable.kind, 'unreachable', unreachable.message);
    assert.ok(unreachable.message.includes(`endpoint ${closedEndpoint} is unreachable`), unreachable.message);
    assert.match(unreachable.message, /ECONNREFUSED/);
    assert.ok(unreachableMs < 10_000, `gave up after ${unreachableMs} ms`);
    for (const result of [badKey, noContainer, unreachable]) {
      assert.ok(
        !result.message.includes(wrongKey) && !result.message.includes(s.accountKey),
        `no key in: ${result.message}`,
      );
    }
  });

  it('gives up on an endpoint that accepts connections but never answers', async () => {
    await onSilentEndpoint({ connectMs: 500, idleMs: 500 }, async (driver) => {
      const result = await testStorageConnection(driver);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.kind, 'unreachable', JSON.stringify(result));
      assert.match(!result.ok ? result.message : '', /no response for 0\.5 s/);
      assert.ok(result.elapsedMs < 10_000, `gave up after ${result.elapsedMs} ms`);
    });
  });

  it('works with a connection string', async () => {
    const s = await azurite();
    const config = azureStorageConfig.parse({
      type: 'azure',
      container: await newContainer(),
      connectionString: s.connectionString,
      prefix: 'cs',
    });
    const driver = open(config);
    await putObject(driver, 'small/hello.txt', Buffer.from('hello over a connection string'));
    assert.equal(
      (await readAll(await driver.openRead('small/hello.txt'))).toString(),
      'hello over a connection string',
    );
    assert.deepEqual(
      (await driver.list('small')).map((o) => [o.key, o.size]),
      [['small/hello.txt', 30]],
    );
    await driver.remove('small/hello.txt');
    assert.equal(await driver.stat('small/hello.txt'), undefined);
    assert.deepEqual(await testStorageConnection(driver).then((r) => r.ok), true);
  });

  it('validates its settings with clear messages', () => {
    const messages = (input: object): string[] => {
      const result = azureStorageConfig.safeParse({ type: 'azure', ...input });
      return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    const byKey = { container: 'backups', accountName: 'acct123', accountKey: 'a2V5' };
    assert.deepEqual(messages(byKey), []);
    const refused: Array<[object, (message: string) => boolean]> = [
      [{ accountName: 'acct123', accountKey: 'a2V5' }, (m) => m.startsWith('container: container is required')],
      [{ ...byKey, container: 'Bad_Name' }, (m) => m.startsWith('container: container must be')],
      [{ container: 'backups' }, (m) => m.includes('either connectionString, or accountName and accountKey')],
      [
        { container: 'backups', connectionString: 'not a connection string' },
        (m) => m.startsWith('connectionString: connectionString is not a valid'),
      ],
      [
        { container: 'backups', connectionString: 'AccountName=a;AccountKey=a2V5', accountKey: 'a2V5' },
        (m) => m.startsWith('accountKey: accountKey cannot be combined'),
      ],
      [{ ...byKey, prefix: 'a/../b' }, (m) => m.startsWith('prefix:')],
      [{ ...byKey, endpoint: 'ftp://x' }, (m) => m.startsWith('endpoint:')],
    ];
    for (const [input, expected] of refused) {
      const got = messages(input);
      assert.ok(got.some(expected), `${JSON.stringify(input)}: ${got.join('; ')}`);
    }
  });
});
