/**
 * Serves `restore_command` for the length of one restore, over a unix socket that only the
 * server's OS user (and root) can reach. PostgreSQL runs restore_command once per segment, so the
 * command must start fast: it is `curl --unix-socket` run by /bin/sh (a few milliseconds; see
 * restoreCommandFor), or bin/hindsight-wal-fetch.mjs where curl is missing. Neither holds a
 * secret: this server holds the catalog, the storage drivers and the secret key already open, and
 * reads ahead of recovery (prefetch.ts).
 *
 * The protocol is minimal HTTP: `GET /wal/<file name>` answers 200 with the file's bytes, 404 when
 * the archive does not hold it (recovery ends there), 500 with a one-line reason otherwise;
 * anything else is refused. The server never writes into the data directory being restored: that
 * directory belongs to the (hostile) restored cluster, and any name in it may be a link to a file of
 * the host. It decodes into a spool of its own (root's, mode 0700) and sends the bytes over the
 * socket; restore_command, running as the server's user, writes them to %p itself.
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DecryptionKey } from '../crypto/chunked-gcm.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { decodeWalObject } from '../wal/segment-codec.ts';
import { handToServerUser } from './os-user.ts';
import { type FetchableWal, type SpooledWal, WalPrefetcher } from './prefetch.ts';
import { restoreCommandFor } from './recovery-settings.ts';
import type { WalObject, WalSource } from './wal-source.ts';

export interface WalFetchServer {
  socketPath: string;
  /** The restore_command that fetches through this server (curl where the host has it). */
  restoreCommand: string;
  fetched(): number;
  /** Files decoded ahead of recovery, and how many of them recovery then asked for. */
  prefetchStats(): { prefetched: number; servedFromSpool: number };
  close(): Promise<void>;
}

/** Segments read ahead by default: measured with bench/pitr-vs-pgbackrest.ts (docs/performance.md). */
export const DEFAULT_PREFETCH_DEPTH = 6;
/** The spool's bound by default: 8 segments of the default 16 MiB size. */
export const DEFAULT_PREFETCH_BYTES = 128 * 1024 * 1024;

export interface WalFetchServerOptions {
  source: WalSource;
  key: DecryptionKey;
  logger: Logger;
  signal?: AbortSignal;
  onFetched?: (file: string, kind: string) => void;
  /** Segments read ahead (k); 0 turns read-ahead off. */
  prefetchDepth?: number;
  prefetchBytes?: number;
}

const WAL_FILE = /^\/wal\/([0-9A-Za-z._-]{1,64})$/;

/** Looks a file up; its decode retries once when the archiver replaced a partial segment meanwhile. */
async function lookupWal(options: WalFetchServerOptions, file: string): Promise<FetchableWal | undefined> {
  const first = await options.source.find(file);
  if (!first) return undefined;
  const decode = async (object: WalObject, destination: string, signal: AbortSignal) =>
    decodeWalObject({
      driver: await options.source.driver(object.storageName),
      objectKey: object.objectKey,
      key: options.key,
      destination,
      signal,
      ...(object.padToSize !== undefined ? { padToSize: object.padToSize } : {}),
      ...(object.sha256 !== undefined ? { expectedSha256: object.sha256 } : {}),
    });
  return {
    kind: first.kind,
    async decode(destination, signal) {
      try {
        await decode(first, destination, signal);
      } catch (error) {
        if (first.kind !== 'partial' || signal.aborted) throw error;
        const again = await options.source.find(file);
        if (!again) throw error;
        await decode(again, destination, signal);
      }
    },
  };
}

/** Sends a spooled file as the response body and removes it, delivered or not. */
async function sendSpooled(res: http.ServerResponse, spooled: SpooledWal): Promise<void> {
  try {
    const { size } = await stat(spooled.path);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    await pipeline(createReadStream(spooled.path), res);
  } finally {
    await rm(spooled.path, { force: true });
  }
}

function reply(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end(`${text.replace(/[\r\n]+/g, ' ')}\n`);
}

interface Served {
  options: WalFetchServerOptions;
  prefetcher: WalPrefetcher;
  count: number;
}

async function serveRequest(served: Served, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { options } = served;
  const file = req.method === 'GET' ? WAL_FILE.exec(req.url ?? '')?.[1] : undefined;
  if (!file) return reply(res, 400, `"${String(req.url).slice(0, 80)}" is not a WAL file request`);
  try {
    const spooled = await served.prefetcher.take(file);
    options.logger.debug({ file, status: spooled ? 'ok' : 'not_found' }, 'restore_command');
    if (!spooled) return reply(res, 404, `${file} is not in the archive`);
    served.count += 1;
    options.onFetched?.(file, spooled.kind);
    await sendSpooled(res, spooled);
  } catch (error) {
    options.logger.warn({ file, err: errorMessage(error) }, 'restore_command could not be served');
    if (!res.headersSent) reply(res, 500, `${file}: ${errorMessage(error)}`);
    else res.destroy();
  }
}

export async function startWalFetchServer(options: WalFetchServerOptions): Promise<WalFetchServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hs-walfetch-'));
  await chmod(dir, 0o700);
  await handToServerUser(dir);
  // Root's own and closed: the server's user receives bytes over the socket, never a path of ours.
  const spoolDir = await mkdtemp(path.join(os.tmpdir(), 'hs-walspool-'));
  await chmod(spoolDir, 0o700);
  const socketPath = path.join(dir, 'fetch.sock');
  const prefetcher = new WalPrefetcher({
    spoolDir,
    segmentSize: options.source.segmentSize,
    depth: options.prefetchDepth ?? DEFAULT_PREFETCH_DEPTH,
    maxBytes: options.prefetchBytes ?? DEFAULT_PREFETCH_BYTES,
    lookup: (file) => lookupWal(options, file),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const served: Served = { options, prefetcher, count: 0 };
  const server = http.createServer((req, res) => void serveRequest(served, req, res));
  // A client that neither asks nor reads within this long is gone.
  server.requestTimeout = 10 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await handToServerUser(socketPath);
  await chmod(socketPath, 0o600);

  return {
    socketPath,
    restoreCommand: restoreCommandFor(socketPath),
    fetched: () => served.count,
    prefetchStats: () => ({ ...prefetcher.stats }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await prefetcher.close();
      await rm(dir, { recursive: true, force: true });
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}
