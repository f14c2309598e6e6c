/**
 * The expensive servers that the suites of one test process share: a PostgreSQL server, Temporal's dev server and
 * Chromium, started once by the first suite that asks and stopped after the last one. Each suite still gets a
 * platform of its own on them (its own catalog database, data directory and secret key, task queue) and its own
 * browser contexts, so no suite sees another's accounts, sessions or cookies; what is shared is only the start-up,
 * some ten seconds a suite on a busy machine. A file that gathers several suites (test/integration/sign-in.test.ts)
 * holds the servers for its whole run, so that they are not stopped and started again between its suites; a suite
 * run alone starts and stops them itself.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Browser } from 'playwright-core';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { launchChromium } from './browser.ts';
import { quietTemporalRuntime, startPlatform, startServers, type Platform } from './platform.ts';

interface SharedServers {
  dir: string;
  cluster: LocalCluster;
  temporal: TestWorkflowEnvironment;
  temporalAddress: string;
  /** Launched when a suite first asks for a browser. */
  browser?: Promise<Browser>;
}

let users = 0;
let servers: Promise<SharedServers> | undefined;

async function startShared(): Promise<SharedServers> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-shared-'));
  // PostgreSQL runs as its own OS user when the tests run as root, and must reach its data directory.
  await chmod(dir, 0o755);
  // As a platform of its own would: the dev server's start would otherwise install the SDK's default runtime.
  quietTemporalRuntime();
  const { cluster, env, temporalPort } = await startServers(dir, {});
  return { dir, cluster, temporal: env, temporalAddress: `127.0.0.1:${temporalPort}` };
}

async function stopShared(shared: SharedServers): Promise<void> {
  const browser = await shared.browser?.catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await shared.temporal.teardown().catch(() => undefined);
  await shared.cluster.stop('immediate').catch(() => undefined);
  await rm(shared.dir, { recursive: true, force: true });
}

function acquire(): Promise<SharedServers> {
  users += 1;
  servers ??= startShared();
  return servers;
}

/** Gives back what `acquire` lent; the last one out stops the servers. */
async function release(): Promise<void> {
  users -= 1;
  if (users > 0 || !servers) return;
  const stopping = servers;
  servers = undefined;
  await stopShared(await stopping);
}

/** A platform of its own (catalog, data directory, key) on the shared servers; stop it with `stopSharedPlatform`. */
export async function startSharedPlatform(): Promise<Platform> {
  const shared = await acquire();
  try {
    return await startPlatform({ cluster: shared.cluster, temporalAddress: shared.temporalAddress });
  } catch (error) {
    await release();
    throw error;
  }
}

export async function stopSharedPlatform(platform: Platform | undefined): Promise<void> {
  if (!platform) return;
  await platform.stop();
  await release();
}

/** The shared Chromium; each suite opens contexts of its own in it and gives it back with `releaseSharedBrowser`. */
export async function sharedBrowser(): Promise<Browser> {
  const shared = await acquire();
  shared.browser ??= launchChromium();
  try {
    return await shared.browser;
  } catch (error) {
    shared.browser = undefined;
    await release();
    throw error;
  }
}

export async function releaseSharedBrowser(browser: Browser | undefined): Promise<void> {
  if (browser) await release();
}

/**
 * Holds the shared servers from the start of the file's first suite to the end of its last: called at the top of a
 * file that gathers several suites, before their imports.
 */
export function holdSharedServersForThisFile(): void {
  before(() => {
    users += 1;
  });
  after(release);
}
