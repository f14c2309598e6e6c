import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerSandboxDriver } from '../../lib/sandbox/docker.ts';
import { createSandboxDriver } from '../../lib/sandbox/index.ts';

/** The warnings `auto` logs, as the worker's logger would receive them. */
function recordingLogger() {
  const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
  return {
    warnings,
    logger: {
      warn: (fields: Record<string, unknown>, message: string) => {
        warnings.push({ fields, message });
      },
    } as never,
  };
}

/** A load failure as a broken module gives it: a TypeError from a property read on undefined. */
const bindError = () => new TypeError("Cannot read properties of undefined (reading 'bind')");

// Closing a server waits for its connections (the silent socket holds them open): they are ended first.
const open = new Set<net.Socket>();

/** A real unix socket that is not a Docker engine: it answers every request with `reply`, or never. */
async function fakeEngineSocket(file: string, reply: string | undefined): Promise<net.Server> {
  const server = net.createServer((connection) => {
    connection.on('error', () => undefined);
    open.add(connection);
    if (reply !== undefined) connection.end(reply);
  });
  server.listen(file);
  await once(server, 'listening');
  return server;
}

describe('the auto sandbox driver choice never takes the worker down', () => {
  let dir: string;
  const servers: net.Server[] = [];
  const savedDockerHost = process.env.DOCKER_HOST;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hindsight-driver-choice-'));
  });
  after(async () => {
    if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedDockerHost;
    for (const connection of open) connection.destroy();
    for (const server of servers) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const options = (socket: string, extra: Record<string, unknown> = {}) => ({
    preferred: 'auto' as const,
    dockerSocket: socket,
    root: path.join(dir, 'sandboxes'),
    engineTimeoutMs: 5_000,
    ...extra,
  });
  /** A fake engine on a socket of this name in the test folder, and a logger that records the choice's warnings. */
  const engineAt = async (name: string, reply: string | undefined) => {
    const socket = path.join(dir, name);
    servers.push(await fakeEngineSocket(socket, reply));
    return { socket, ...recordingLogger() };
  };

  it('a socket that never answers: the process driver once the wait is over (first: testcontainers keeps what it found)', async () => {
    const { socket, warnings, logger } = await engineAt('silent.sock', undefined);
    const started = Date.now();
    const driver = await createSandboxDriver(options(socket, { logger, engineTimeoutMs: 1_500 }));
    delete process.env.DOCKER_HOST;
    assert.equal(driver.name, 'process');
    assert.ok(Date.now() - started < 10_000, 'the choice does not wait on the socket beyond its timeout');
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]!.fields.reason), /did not answer within 1.5 s|no Docker engine answers/);
  });

  it('a socket that answers, but not as Docker: the process driver, and the log says why', async () => {
    const reply = 'HTTP/1.1 500 Not Docker\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
    const { socket, warnings, logger } = await engineAt('http-garbage.sock', reply);
    const driver = await createSandboxDriver(options(socket, { logger }));
    delete process.env.DOCKER_HOST; // The docker driver points testcontainers at the socket it was given.
    assert.equal(driver.name, 'process');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.fields.dockerSocket, socket);
    assert.match(String(warnings[0]!.fields.reason), /\S/, 'the reason is given');
    assert.match(warnings[0]!.message, /process driver/);
    assert.deepEqual(await driver.sweepLeftovers(), { removed: [] }, 'the fallback driver works');
  });

  it("the docker driver module fails to load: the process driver, with the loader's error", async () => {
    const { socket, warnings, logger } = await engineAt('module-fails.sock', undefined);
    const loadDockerDriver = () => Promise.reject(bindError());
    const driver = await createSandboxDriver(options(socket, { logger, loadDockerDriver }));
    assert.equal(driver.name, 'process');
    assert.match(String(warnings[0]!.fields.reason), /reading 'bind'/);
  });

  it('testcontainers fails to load inside the docker driver: the process driver, with the package named', async () => {
    const { socket, warnings, logger } = await engineAt('testcontainers-fails.sock', undefined);
    const brokenTestcontainers = () => Promise.reject(bindError());
    const loadDockerDriver = () =>
      Promise.resolve({
        createDockerSandboxDriver: (driverOptions: Parameters<typeof createDockerSandboxDriver>[0]) =>
          createDockerSandboxDriver({ ...driverOptions, load: brokenTestcontainers }),
      });
    const driver = await createSandboxDriver(options(socket, { logger, loadDockerDriver }));
    delete process.env.DOCKER_HOST;
    assert.equal(driver.name, 'process');
    assert.match(
      String(warnings[0]!.fields.reason),
      /testcontainers package failed to load: Cannot read properties of undefined \(reading 'bind'\)/,
    );
  });

  it('no socket: the process driver without a word; docker asked for by name is taken as asked', async () => {
    const { warnings, logger } = recordingLogger();
    assert.equal((await createSandboxDriver(options(path.join(dir, 'missing.sock'), { logger }))).name, 'process');
    assert.equal(warnings.length, 0);
    let loaded = 0;
    const loadDockerDriver = () => {
      loaded += 1;
      return import('../../lib/sandbox/docker.ts');
    };
    const docker = await createSandboxDriver({
      preferred: 'docker',
      dockerSocket: path.join(dir, 'missing.sock'),
      loadDockerDriver,
    });
    assert.equal(docker.name, 'docker');
    assert.equal(loaded, 1, 'the docker driver module is loaded only when docker is chosen');
  });
});
