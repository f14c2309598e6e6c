/**
 * The checks the storage driver tests share beside the contract suite: a failed connection test,
 * the login failures every driver that logs in with a user and password reports alike, and the
 * messages of rejected settings.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { freePort } from './ports.ts';

/**
 * Runs a driver's connection test and closes the driver; the test must have failed with `kind`.
 * Returns the message, for the driver's own checks of what it names and what it leaves out.
 */
export async function connectionFailure(driver: StorageDriver, kind: string): Promise<string> {
  const result = await testStorageConnection(driver);
  await driver.close?.();
  assert.ok(!result.ok);
  assert.equal(result.kind, kind, result.message);
  return result.message;
}

/** A server a storage driver logs in to with a user and password. */
export interface LoginServer {
  host: string;
  port: number;
  username: string;
  password: string;
  stop(): Promise<void>;
}

/** Where a server listens and who may log in to it, as a storage's settings name them. */
export function loginSettings(server: LoginServer) {
  return { host: server.host, port: server.port, username: server.username, password: server.password };
}

/** A driver on the suite's server, named `name`, with some of its login settings replaced. */
export type OpenWithLogin<S> = (
  server: S,
  name: string,
  overrides: { password?: string; port?: number },
) => StorageDriver;

/**
 * Starts a server before the tests of the enclosing suite and stops it after them, and adds the
 * failures a driver that logs in to it must tell apart: a wrong password is access_denied naming
 * the user and never the password, a closed port is unreachable naming host and port. Returns the
 * server's getter for the suite's own tests.
 */
export function loginServerSuite<S extends LoginServer>(start: () => Promise<S>, open: OpenWithLogin<S>): () => S {
  let started: S | undefined;
  const server = (): S => {
    assert.ok(started, 'the suite server has started');
    return started;
  };
  before(async () => {
    started = await start();
  });
  after(async () => {
    await started?.stop();
  });

  it('reports a wrong password as access_denied naming the user, without the password', async () => {
    const wrong = open(server(), 'wrong', { password: 'not-the-password-123' });
    const message = await connectionFailure(wrong, 'access_denied');
    assert.match(message, new RegExp(`authentication failed for user ${server().username}`));
    assert.doesNotMatch(message, /not-the-password-123/);
  });

  it('reports a closed port as unreachable, naming host and port', async () => {
    const port = await freePort();
    const message = await connectionFailure(open(server(), 'closed', { port }), 'unreachable');
    assert.match(message, new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}`));
  });
  return server;
}

/** The settings were refused, and each of `wanted` matches one of the messages the schema gave. */
export function assertRefused(
  parsed: { success: boolean; error?: { issues: Array<{ message: string }> } },
  wanted: RegExp[],
): void {
  assert.equal(parsed.success, false);
  const messages = parsed.error?.issues.map((i) => i.message) ?? [];
  for (const pattern of wanted) {
    assert.ok(
      messages.some((m) => pattern.test(m)),
      `${String(pattern)} not in: ${messages.join('; ')}`,
    );
  }
}
