import { createHash } from 'node:crypto';
import net from 'node:net';
import ssh2, { type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { storageError } from '../contract.ts';
import type { SftpStorageConfig } from './config.ts';
import { connectFailure } from './errors.ts';

// ssh2 is CommonJS: only its default export is visible to ES modules.
const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

const CONNECT_TIMEOUT_MS = 10_000;
/**
 * How long a close waits for the server to see the connection off. A stalled link never answers,
 * and once ended the socket is no longer watched by ssh2's keepalive: it is then destroyed.
 */
const CLOSE_TIMEOUT_MS = 5_000;

interface Session {
  client: Client;
  sftp: SFTPWrapper;
  /** Ours, not ssh2's: ssh2 can no longer destroy a socket it has ended. */
  socket: net.Socket;
}

const fingerprint = (key: Buffer): string =>
  `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;

/** The requests still waiting on each open channel, failed together when its connection goes. */
const waiting = new WeakMap<SFTPWrapper, Set<(error: Error) => void>>();
const lostChannels = new WeakSet<SFTPWrapper>();

const connectionLost = (): Error =>
  new Error('SSH connection lost: the network dropped it or the server stopped answering');

/** Follows `sftp` from now on: when its connection goes, every request still waiting on it fails. */
function watchChannel(sftp: SFTPWrapper): void {
  waiting.set(sftp, new Set());
  const lost = (): void => markLost(sftp);
  sftp.once('end', lost).once('close', lost);
}

/**
 * ssh2 answers the requests it tracked when the connection drops, but a request made after that
 * is written to a dead channel and never answered: without this, an abort or a close that
 * follows a reset (removing the partial file, closing the handle) would wait forever.
 */
function markLost(sftp: SFTPWrapper): void {
  if (lostChannels.has(sftp)) return;
  lostChannels.add(sftp);
  const requests = waiting.get(sftp);
  waiting.delete(sftp);
  for (const fail of requests ?? []) fail(connectionLost());
}

/**
 * Turns an ssh2 callback API into a promise that always settles: it fails at once on a channel
 * whose connection is gone, and as soon as the connection of `sftp` goes while it waits.
 */
export function call<T = void>(
  sftp: SFTPWrapper,
  start: (done: (error: Error | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (lostChannels.has(sftp)) {
      reject(connectionLost());
      return;
    }
    const requests = waiting.get(sftp);
    let settled = false;
    const settle = (error: Error | null | undefined, value?: T): void => {
      if (settled) return;
      settled = true;
      requests?.delete(onLost);
      if (error) reject(error);
      else resolve(value as T);
    };
    const onLost = (error: Error): void => settle(error);
    requests?.add(onLost);
    try {
      start(settle);
    } catch (error) {
      // ssh2 throws synchronously when the channel is already gone.
      settle(error as Error);
    }
  });
}

/** ssh2's settings; `onKeyMismatch` hears the fingerprint of a host key that was not the expected one. */
function connectConfig(config: SftpStorageConfig, onKeyMismatch: (presented: string) => void): ConnectConfig {
  const expected = config.hostKeySha256?.replace(/=+$/, '');
  return {
    host: config.host,
    port: config.port,
    username: config.username,
    readyTimeout: CONNECT_TIMEOUT_MS,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    ...(config.password ? { password: config.password } : {}),
    ...(config.privateKey
      ? { privateKey: config.privateKey, ...(config.passphrase ? { passphrase: config.passphrase } : {}) }
      : {}),
    ...(expected
      ? {
          hostVerifier: (key: Buffer): boolean => {
            const presented = fingerprint(key);
            if (presented === expected) return true;
            onKeyMismatch(presented);
            return false;
          },
        }
      : {}),
  };
}

interface SessionContext {
  config: SftpStorageConfig;
  label: string;
  endpoint: string;
  redact: (text: string) => string;
}

/** `onClosed` runs when the connection ends, so that the next operation opens a new one. */
function openSession(context: SessionContext, onClosed: () => void): Promise<Session> {
  const { config } = context;
  return new Promise<Session>((resolve, reject) => {
    const client = new Client();
    // ssh2 listens to it from connect() on, in this same tick: no event of the socket is missed.
    const socket = net.connect({ host: config.host, port: config.port });
    let presentedKey: string | undefined;
    let channel: SFTPWrapper | undefined;
    let settled = false;
    const failConnect = (error: Error & { level?: string }): void => {
      if (settled) return;
      settled = true;
      // Nothing of a connection that never became usable is worth a goodbye the server may not answer.
      socket.destroy();
      const { kind, detail } = connectFailure(error, {
        endpoint: context.endpoint,
        username: config.username,
        expectedKey: config.hostKeySha256,
        presentedKey,
      });
      reject(storageError(kind, context.label, 'connect', '', context.redact(detail)));
    };
    client.on('error', failConnect);
    client.on('close', () => {
      failConnect(new Error('the server closed the connection'));
      if (channel) markLost(channel);
      onClosed();
    });
    client.on('ready', () => {
      client.sftp((error, sftp) => {
        if (error) {
          failConnect(error);
          return;
        }
        settled = true;
        channel = sftp;
        watchChannel(sftp);
        resolve({ client, sftp, socket });
      });
    });
    client.connect({
      ...connectConfig(config, (presented) => {
        presentedKey = presented;
      }),
      sock: socket,
    });
  });
}

/**
 * One SSH connection per driver carries every operation (SFTP multiplexes requests); it is
 * opened on first use and again after it dropped.
 */
export class SftpSessions {
  private session: Promise<Session> | undefined;
  private closed = false;
  private readonly context: SessionContext;
  constructor(context: SessionContext) {
    this.context = context;
  }

  async connect(): Promise<SFTPWrapper> {
    if (this.closed) throw storageError('tool_failed', this.context.label, 'connect', '', 'the driver was closed');
    if (!this.session) {
      const attempt: Promise<Session> = openSession(this.context, () => {
        if (this.session === attempt) this.session = undefined;
      });
      this.session = attempt;
    }
    return (await this.session).sftp;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.session;
    this.session = undefined;
    if (!pending) return;
    const open = await pending.catch(() => undefined);
    if (!open) return;
    if (lostChannels.has(open.sftp)) return;
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(() => open.socket.destroy(), CLOSE_TIMEOUT_MS);
      open.client.once('close', () => {
        clearTimeout(deadline);
        resolve();
      });
      open.client.end();
    });
  }
}

/** Closes an open file handle once; later calls do nothing. */
export function handleCloser(
  sftp: SFTPWrapper,
  handle: Buffer,
): { close(): Promise<void>; closeQuietly(): Promise<void> } {
  let open = true;
  const close = async (): Promise<void> => {
    if (!open) return;
    open = false;
    await call(sftp, (done) => sftp.close(handle, done));
  };
  // The channel may already be gone; a failed close loses nothing that was not lost.
  return { close, closeQuietly: () => close().catch(() => undefined) };
}
