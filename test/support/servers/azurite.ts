import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../ports.ts';

/** Azurite's built-in development account; documented in its README, valid only against Azurite. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteServer {
  port: number;
  /** Blob endpoint including the account path, e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  endpoint: string;
  accountName: string;
  accountKey: string;
  connectionString: string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// If the test process dies without stopping its servers, do not leave Azurite running.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

async function azuriteBlobEntry(): Promise<string> {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve('azurite/package.json');
  } catch {
    throw new Error('azurite is not installed: run `npm install` in the project root (azurite is a devDependency)');
  }
  const pkg = JSON.parse(await readFile(manifest, 'utf8')) as { bin?: Record<string, string> };
  const bin = pkg.bin?.['azurite-blob'];
  const entry = bin ? path.join(path.dirname(manifest), bin) : '';
  if (!bin || !existsSync(entry))
    throw new Error(
      `azurite's azurite-blob entry point is missing from ${path.dirname(manifest)}: reinstall it with \`npm install\``,
    );
  return entry;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const LISTEN_TIMEOUT_MS = 120_000;

/** Starts Azurite's blob service on a free port with a throwaway workspace. */
export async function startAzurite(): Promise<AzuriteServer> {
  const entry = await azuriteBlobEntry();
  const location = await mkdtemp(path.join(tmpdir(), 'hindsight-azurite-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      entry,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  live.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(child);
    await rm(location, { recursive: true, force: true });
  };

  // Azurite loads a large bundle: on a busy machine (a load of 40 on two cores) 30 s was not enough.
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `azurite-blob exited before listening (code ${child.exitCode ?? child.signalCode}): ${stderr.trim()}`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `azurite-blob did not listen on 127.0.0.1:${port} within ${LISTEN_TIMEOUT_MS / 1000} s: ${stderr.trim()}`,
      );
    }
    await sleep(100);
  }

  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    port,
    endpoint,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    stop,
  };
}
