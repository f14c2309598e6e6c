/**
 * Serves `restore_command` for the length of one restore, over a unix socket that only the
 * server's OS user (and root) can reach. PostgreSQL runs restore_command once per segment, so the
 * command must start fast: bin/hindsight-wal-fetch.mjs is plain JavaScript (no tsx, no catalog
 * connection, no key) that asks this server, which holds the catalog, the storage drivers and the
 * secret key already open.
 *
 * The server never writes into the data directory being restored: that directory belongs to the
 * (hostile) restored cluster, and any name in it may be a link to a file of the host. It decodes
 * each file into a staging directory of its own (root's, traversable but not listable), under a
 * random name handed to the server's user, and replies with that name; restore_command, running as
 * the server's user, copies it to %p itself. The staged file goes when the connection closes.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { KeyResolver } from '../crypto/chunked-gcm.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { decodeWalObject } from '../wal/segment-codec.ts';
import { handToServerUser } from './os-user.ts';
import type { WalObject, WalSource } from './wal-source.ts';

export interface WalFetchServer {
  socketPath: string;
  fetched(): number;
  close(): Promise<void>;
}

export type WalFetchReply =
  { status: 'ok'; kind: string; staged: string } | { status: 'not_found' } | { status: 'error'; message: string };

export interface WalFetchServerOptions {
  source: WalSource;
  key: SecretKey | KeyResolver;
  logger: Logger;
  signal?: AbortSignal;
  onFetched?: (file: string, kind: string) => void;
}

/** Decodes the WAL file a request names into `dest` and hands it to the server's user. */
async function stageWalFile(
  options: WalFetchServerOptions,
  file: string,
  dest: string,
): Promise<WalObject | undefined> {
  let found = await options.source.find(file);
  if (!found) return undefined;
  const decode = async (object: WalObject) =>
    decodeWalObject({
      driver: await options.source.driver(object.storageName),
      objectKey: object.objectKey,
      key: options.key,
      destination: dest,
      ...(object.padToSize !== undefined ? { padToSize: object.padToSize } : {}),
      ...(object.sha256 !== undefined ? { expectedSha256: object.sha256 } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  try {
    await decode(found);
  } catch (error) {
    // The archiver may have completed (and replaced) the partial segment while it was read.
    if (found.kind !== 'partial') throw error;
    found = await options.source.find(file);
    if (!found) throw error;
    await decode(found);
  }
  await handToServerUser(dest);
  return found;
}

/**
 * One restore_command connection: a JSON line naming the file, one JSON line back. The staged
 * file goes when the connection closes.
 */
type Answer = (request: { file?: unknown }, dest: string) => Promise<WalFetchReply>;

function serveConnection(socket: net.Socket, staged: string, options: WalFetchServerOptions, answer: Answer): void {
  // A client that neither asks nor copies within this long is gone: its staged file goes too.
  socket.setTimeout(10 * 60_000, () => socket.destroy());
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  // restore_command closes the connection once it has copied the file (or given up).
  socket.on('close', () => {
    rm(staged, { force: true }).catch(() => undefined);
  });
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const newline = buffered.indexOf('\n');
    if (newline < 0) {
      if (buffered.length > 4096) socket.destroy();
      return;
    }
    socket.pause();
    let request: { file?: unknown };
    try {
      request = JSON.parse(buffered.slice(0, newline)) as typeof request;
    } catch {
      socket.end(`${JSON.stringify({ status: 'error', message: 'bad request' })}\n`);
      return;
    }
    answer(request, staged).then(
      (reply) => {
        options.logger.debug({ file: request.file, status: reply.status }, 'restore_command');
        // An answer with a staged file keeps the connection open until the client has copied it.
        if (reply.status === 'ok') socket.write(`${JSON.stringify(reply)}\n`);
        else socket.end(`${JSON.stringify(reply)}\n`);
      },
      (error: unknown) => {
        options.logger.warn({ file: request.file, err: errorMessage(error) }, 'restore_command could not be served');
        socket.end(`${JSON.stringify({ status: 'error', message: errorMessage(error) })}\n`);
      },
    );
  });
}

export async function startWalFetchServer(options: WalFetchServerOptions): Promise<WalFetchServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hs-walfetch-'));
  await chmod(dir, 0o700);
  await handToServerUser(dir);
  // Root's own: the server's user may open a staged file by its random name, never list or replace one.
  const stage = await mkdtemp(path.join(os.tmpdir(), 'hs-walstage-'));
  await chmod(stage, 0o711);
  const socketPath = path.join(dir, 'fetch.sock');
  let count = 0;

  async function answer(request: { file?: unknown }, dest: string): Promise<WalFetchReply> {
    const file = typeof request.file === 'string' ? request.file : '';
    if (!/^[0-9A-Za-z._-]{1,64}$/.test(file)) return { status: 'error', message: `"${file}" is not a WAL file name` };
    const found = await stageWalFile(options, file, dest);
    if (!found) return { status: 'not_found' };
    count += 1;
    options.onFetched?.(file, found.kind);
    return { status: 'ok', kind: found.kind, staged: dest };
  }

  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    serveConnection(socket, path.join(stage, randomBytes(16).toString('hex')), options, answer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await handToServerUser(socketPath);
  await chmod(socketPath, 0o600);

  return {
    socketPath,
    fetched: () => count,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
      await rm(dir, { recursive: true, force: true });
      await rm(stage, { recursive: true, force: true });
    },
  };
}
