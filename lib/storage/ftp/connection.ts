import { Client, FTPError } from 'basic-ftp';
import { storageError } from '../contract.ts';
import type { FtpStorageConfig } from './config.ts';
import { connectFailure, kindOf } from './errors.ts';

const CONNECT_TIMEOUT_MS = 10_000;
/** Longest silence from the server during a command or transfer before the connection is dropped. */
const IDLE_TIMEOUT_MS = 30_000;

interface ConnectionContext {
  config: FtpStorageConfig;
  label: string;
  port: number;
  redact: (text: string) => string;
}

/**
 * basic-ftp runs one command at a time per connection, so short commands (stat, list, rename,
 * remove) share one control connection through a queue, while every upload and download gets a
 * connection of its own: a transfer lasts as long as its caller keeps the stream open, and must
 * not hold up a listing in the meantime.
 */
export class FtpConnections {
  private closed = false;
  private readonly transfers = new Set<Client>();
  private control: Client | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly context: ConnectionContext;
  constructor(context: ConnectionContext) {
    this.context = context;
  }

  private async connectClient(): Promise<Client> {
    const { config, label, port } = this.context;
    if (this.closed) throw storageError('tool_failed', label, 'connect', '', 'the driver was closed');
    const client = new Client(IDLE_TIMEOUT_MS);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      client.close();
    }, CONNECT_TIMEOUT_MS);
    try {
      await client.access({
        host: config.host,
        port,
        user: config.username,
        password: config.password,
        secure: config.secure,
        secureOptions: { rejectUnauthorized: !config.allowSelfSignedCertificate },
      });
      return client;
    } catch (error) {
      client.close();
      const { kind, detail } = connectFailure(error, {
        endpoint: `${config.host}:${port}`,
        username: config.username,
        redact: this.context.redact,
        ...(timedOut ? { timedOutAfterMs: CONNECT_TIMEOUT_MS } : {}),
      });
      throw storageError(kind, label, 'connect', '', detail);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `work` alone on the shared control connection, opening it again if it dropped. */
  withControl<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const reused = this.control !== undefined && !this.control.closed;
      if (!reused) this.control = await this.connectClient();
      const client = this.control!;
      try {
        return await work(client);
      } catch (error) {
        // A connection that sat idle may have been dropped by the server: try once on a new one.
        if (!reused || error instanceof FTPError || kindOf(error, 'connect') !== 'unreachable') throw error;
        client.close();
        this.control = await this.connectClient();
        return work(this.control);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A connection for one transfer, closed by `release` when the transfer ends, or when the driver closes. */
  async transferClient(): Promise<Client> {
    const client = await this.connectClient();
    this.transfers.add(client);
    return client;
  }

  release(client: Client): void {
    client.close();
    this.transfers.delete(client);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.control?.close();
    this.control = undefined;
    for (const client of this.transfers) this.release(client);
  }
}
