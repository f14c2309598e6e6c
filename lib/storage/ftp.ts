import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Client, FTPError, type FileInfo } from 'basic-ftp';
import { z } from 'zod';
import { HindsightError, type ErrorKind } from '../errors.ts';
import { assertRange, assertSafeKey, storageError, type AtomicWrite, type ObjectInfo, type StorageDriver, type StorageOperation } from './contract.ts';

const posix = path.posix;

/** Marks temporary files: `<dir>/.<name>.partial-<random>`. Listing never shows them. */
const PARTIAL_MARK = '.partial-';
const CONNECT_TIMEOUT_MS = 10_000;
/** Longest silence from the server during a command or transfer before the connection is dropped. */
const IDLE_TIMEOUT_MS = 30_000;
const STREAM_BUFFER = 1024 * 1024;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** FTP commands are lines of text: a line break inside a value would start another command. */
const oneLine = (field: string) => [(value: string) => !/[\r\n]/.test(value), `${field} must not contain line breaks`] as const;

export const ftpStorageConfig = z.object({
  type: z.literal('ftp'),
  host: z.string({ error: 'host is required' }).trim().min(1, 'host is required'),
  /** 21, or 990 with implicit TLS, when absent. */
  port: z.number().int('port must be a whole number').min(1, 'port must be between 1 and 65535').max(65535, 'port must be between 1 and 65535').optional(),
  username: z.string({ error: 'username is required' }).min(1, 'username is required').refine(...oneLine('username')),
  password: z.string({ error: 'password is required' }).min(1, 'password is required').refine(...oneLine('password')),
  secure: z
    .union([z.boolean(), z.literal('implicit')], { error: "secure must be false, true (explicit FTPS, AUTH TLS) or 'implicit'" })
    .default(false),
  allowSelfSignedCertificate: z.boolean().default(false),
  path: z
    .string({ error: 'path is required' })
    .min(1, 'path is required')
    .refine((p) => p.startsWith('/'), 'path must be an absolute directory on the server, e.g. /backups')
    .refine(...oneLine('path')),
});
export type FtpStorageConfig = z.infer<typeof ftpStorageConfig>;

export const ftpSecretFields = ['password'] as const;

const MISSING = /no such|not found|not exist|doesn't exist|ENOENT|cannot find|can't find/i;
const DENIED = /permission|denied|EACCES|EPERM|not allowed|read-only|refused/i;

/**
 * FTP answers mostly in codes; 550 covers both "no such file" and "not allowed". Its text decides
 * when it is explicit, otherwise the operation does: a missing file is what a read usually hits.
 */
function kindOf(error: unknown, operation: StorageOperation): ErrorKind {
  if (error instanceof HindsightError) return error.kind;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof FTPError) {
    if (/no space|ENOSPC|quota|disk full|insufficient storage/i.test(message)) return 'no_space';
    switch (error.code) {
      case 530: case 532: case 533: case 534: return 'access_denied';
      case 452: case 552: return 'no_space';
      case 421: case 425: case 426: return 'unreachable';
      case 451: return MISSING.test(message) ? 'not_found' : 'tool_failed';
      case 450: case 550: case 551: case 553:
        if (MISSING.test(message)) return 'not_found';
        if (DENIED.test(message)) return 'access_denied';
        return operation === 'read' || operation === 'stat' || operation === 'list' ? 'not_found' : 'access_denied';
      default: return 'tool_failed';
    }
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return 'bad_input';
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'unreachable';
  if (/timeout|closed|FIN packet|socket hang up|not connected/i.test(message)) return 'unreachable';
  return 'tool_failed';
}

const isFtpCode = (error: unknown, ...codes: number[]): boolean => error instanceof FTPError && codes.includes(error.code);

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The date of a Unix-style LIST line: 'Nov 23 13:35' (recent, year omitted) or 'Nov 23 2024'.
 * Only for servers without MDTM and MLSD; minutes are the best it gives.
 */
function parseListingDate(raw: string, now = new Date()): Date | undefined {
  const match = /^([A-Za-z]{3})\s+(\d{1,2})\s+(?:(\d{4})|(\d{1,2}):(\d{2}))$/.exec(raw.trim());
  if (!match) return undefined;
  const month = MONTHS.indexOf(match[1]!.toLowerCase());
  if (month < 0) return undefined;
  const day = Number(match[2]);
  if (match[3]) return new Date(Date.UTC(Number(match[3]), month, day));
  const date = new Date(Date.UTC(now.getUTCFullYear(), month, day, Number(match[4]), Number(match[5])));
  // A year-less date is within the last six months: one "in the future" is from last year.
  if (date.getTime() > now.getTime() + 86_400_000) date.setUTCFullYear(date.getUTCFullYear() - 1);
  return date;
}

/**
 * The Writable handed to the caller: bytes flow into the FTP data connection with its
 * backpressure, and `finish` comes only once the server confirmed the whole upload (226).
 */
class FtpUpload extends Writable {
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;

  private readonly body: PassThrough;
  private readonly transfer: Promise<unknown>;
  private readonly translate: (error: unknown) => Error;
  constructor(
    body: PassThrough,
    transfer: Promise<unknown>,
    translate: (error: unknown) => Error,
  ) {
    super({ highWaterMark: STREAM_BUFFER });
    this.body = body;
    this.transfer = transfer;
    this.translate = translate;
    transfer.catch((error: unknown) => {
      this.failure ??= translate(error);
      this.wake();
    });
    body.on('drain', () => this.wake());
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    if (this.body.write(chunk)) callback();
    else this.waiting = () => callback(this.failure);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    this.body.end();
    this.transfer.then(() => callback(), (error: unknown) => callback(this.failure ?? this.translate(error)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.body.destroy();
    callback(error);
  }
}

/**
 * A directory on an FTP or FTPS server. basic-ftp runs one command at a time per connection, so
 * short commands (stat, list, rename, remove) share one control connection through a queue,
 * while every upload and download gets a connection of its own: a transfer lasts as long as its
 * caller keeps the stream open, and must not hold up a listing in the meantime.
 */
export function createFtpStorage(options: { name: string; config: FtpStorageConfig }): StorageDriver {
  const config = options.config;
  const label = `ftp "${options.name}"`;
  const port = config.port ?? (config.secure === 'implicit' ? 990 : 21);
  const endpoint = `${config.host}:${port}`;
  const base = posix.normalize(config.path).replace(/(.)\/+$/, '$1');
  if (/[\r\n]/.test(base)) throw new HindsightError('bad_input', `storage ${label}: path must not contain line breaks`);
  const redact = (text: string): string => text.split(config.password).join('***');

  const fail = (operation: StorageOperation, key: string, error: unknown): HindsightError => {
    if (error instanceof HindsightError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return storageError(kindOf(error, operation), label, operation, key, redact(message));
  };

  const remote = (key: string): string => {
    assertSafeKey(key);
    if (/[\r\n]/.test(key)) throw new HindsightError('bad_input', `storage key '${JSON.stringify(key).slice(1, -1)}' contains a line break, which FTP cannot carry`);
    return posix.join(base, key);
  };

  let closed = false;
  const transfers = new Set<Client>();

  async function connectClient(): Promise<Client> {
    if (closed) throw storageError('tool_failed', label, 'connect', '', 'the driver was closed');
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
      const message = redact(error instanceof Error ? error.message : String(error));
      let kind = kindOf(error, 'connect');
      let detail: string;
      if (timedOut) {
        kind = 'unreachable';
        detail = `cannot reach ${endpoint}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s`;
      } else if (isFtpCode(error, 530)) {
        detail = `authentication failed for user ${config.username} (${message})`;
      } else if (kind === 'bad_input') {
        detail = `the TLS certificate of ${endpoint} is not trusted: ${message} (set allowSelfSignedCertificate to accept a self-signed certificate)`;
      } else if (kind === 'unreachable') {
        detail = `cannot reach ${endpoint}: ${message}`;
      } else {
        detail = `FTP connection to ${endpoint} failed: ${message}`;
      }
      throw storageError(kind, label, 'connect', '', detail);
    } finally {
      clearTimeout(timer);
    }
  }

  let control: Client | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** Runs `work` alone on the shared control connection, opening it again if it dropped. */
  function withControl<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const run = queue.then(async () => {
      const reused = control !== undefined && !control.closed;
      if (!reused) control = await connectClient();
      const client = control!;
      try {
        return await work(client);
      } catch (error) {
        // A connection that sat idle may have been dropped by the server: try once on a new one.
        if (!reused || error instanceof FTPError || kindOf(error, 'connect') !== 'unreachable') throw error;
        client.close();
        control = await connectClient();
        return work(control);
      }
    });
    queue = run.catch(() => undefined);
    return run;
  }

  /** A connection for one transfer, closed when the transfer ends or the driver closes. */
  async function transferClient(): Promise<Client> {
    const client = await connectClient();
    transfers.add(client);
    return client;
  }
  const release = (client: Client): void => {
    client.close();
    transfers.delete(client);
  };

  async function mkdirp(client: Client, dir: string): Promise<void> {
    try {
      await client.cd(dir);
      return;
    } catch (error) {
      if (!(error instanceof FTPError)) throw error;
    }
    let refusal: FTPError | undefined;
    let at = '';
    for (const part of dir.split('/').filter(Boolean)) {
      at += `/${part}`;
      // Existing directories answer 550 too; only the final CWD tells whether the path exists.
      const response = await client.sendIgnoringError(`MKD ${at}`);
      if (response.code >= 400) refusal = new FTPError(response);
    }
    try {
      await client.cd(dir);
    } catch (error) {
      throw refusal ?? error;
    }
  }

  async function modifiedAtOf(client: Client, file: string, entry?: FileInfo): Promise<Date | undefined> {
    if (entry?.modifiedAt) return entry.modifiedAt;
    try {
      return await client.lastMod(file);
    } catch (error) {
      if (!isFtpCode(error, 500, 501, 502, 504)) throw error;
      return entry ? parseListingDate(entry.rawModifiedAt) : undefined;
    }
  }

  async function statOn(client: Client, key: string, file: string): Promise<ObjectInfo | undefined> {
    let size: number;
    try {
      size = await client.size(file);
    } catch (error) {
      if (isFtpCode(error, 550, 450) && kindOf(error, 'stat') === 'not_found') return undefined;
      throw error;
    }
    let modifiedAt = await modifiedAtOf(client, file);
    if (!modifiedAt) {
      const entry = (await client.list(posix.dirname(file))).find((e) => e.name === posix.basename(file));
      modifiedAt = (entry && (await modifiedAtOf(client, file, entry))) ?? new Date();
    }
    return { key, size, modifiedAt };
  }

  async function removeOn(client: Client, file: string): Promise<void> {
    try {
      await client.remove(file);
    } catch (error) {
      if (!isFtpCode(error, 550, 450)) throw error;
      // Many servers answer a missing file and a forbidden delete alike: ask whether it exists.
      const exists = await client.size(file).then(() => true, () => false);
      if (exists) throw error;
    }
  }

  async function replaceOn(client: Client, from: string, to: string): Promise<void> {
    try {
      await client.rename(from, to);
    } catch (error) {
      if (!(error instanceof FTPError) || error.code < 500) throw error;
      // Some servers refuse to rename over an existing file: the key is briefly absent, never
      // half-written.
      const exists = await client.size(to).then(() => true, () => false);
      if (!exists) throw error;
      await client.remove(to);
      await client.rename(from, to);
    }
  }

  async function listDir(client: Client, dir: string): Promise<FileInfo[]> {
    try {
      return (await client.list(dir)).filter((e) => e.name !== '.' && e.name !== '..');
    } catch (error) {
      if (isFtpCode(error, 550, 450) || (isFtpCode(error, 451) && kindOf(error, 'list') === 'not_found')) return [];
      throw error;
    }
  }

  async function walk(client: Client, dir: string, prefix: string[], out: ObjectInfo[]): Promise<void> {
    for (const entry of await listDir(client, dir)) {
      const parts = [...prefix, entry.name];
      const full = posix.join(dir, entry.name);
      if (entry.isDirectory) await walk(client, full, parts, out);
      else if (entry.isFile && !entry.name.includes(PARTIAL_MARK)) {
        out.push({ key: parts.join('/'), size: entry.size, modifiedAt: (await modifiedAtOf(client, full, entry)) ?? new Date() });
      }
    }
  }

  return {
    label,

    async openWrite(key) {
      const target = remote(key);
      const dir = posix.dirname(target);
      const partial = posix.join(dir, `.${posix.basename(target)}${PARTIAL_MARK}${randomBytes(6).toString('hex')}`);
      const client = await transferClient();
      try {
        await mkdirp(client, dir);
      } catch (error) {
        release(client);
        throw fail('write', key, error);
      }
      const body = new PassThrough({ highWaterMark: STREAM_BUFFER });
      // basic-ftp reports transfer errors through its promise; the stream's copy is redundant.
      body.on('error', () => undefined);
      // basic-ftp starts reading `body` once the server accepted STOR: the partial exists then.
      const accepted = new Promise<void>((resolve) => body.once('resume', () => resolve()));
      const transfer = client.uploadFrom(body, partial).finally(() => release(client));
      transfer.catch(() => undefined);
      try {
        await Promise.race([accepted, transfer]);
      } catch (error) {
        body.destroy();
        release(client);
        throw fail('write', key, error);
      }
      const stream = new FtpUpload(body, transfer, (error) => fail('write', key, error));
      let settled = false;
      const discard = async (): Promise<void> => {
        stream.destroy();
        release(client);
        await transfer.catch(() => undefined);
        await withControl((c) => removeOn(c, partial)).catch(() => undefined);
      };
      const write: AtomicWrite = {
        stream,
        async commit() {
          if (settled) throw fail('write', key, new Error('write already settled'));
          settled = true;
          try {
            if (!stream.writableFinished) await finished(stream);
            const info = await withControl(async (c) => {
              await replaceOn(c, partial, target);
              return statOn(c, key, target);
            });
            if (!info) throw new Error(`'${target}' is missing right after it was renamed into place`);
            return info;
          } catch (error) {
            await discard();
            throw fail('write', key, error);
          }
        },
        async abort() {
          if (settled) return;
          settled = true;
          await discard();
        },
      };
      return write;
    },

    async openRead(key, range) {
      assertRange(range);
      const file = remote(key);
      const client = await transferClient();
      let size: number;
      try {
        size = await client.size(file);
      } catch (error) {
        release(client);
        throw fail('read', key, error);
      }
      const start = Math.min(range?.start ?? 0, size);
      const limit = Math.max(0, Math.min(range?.end ?? size, size) - start);
      if (limit === 0) {
        release(client);
        return Readable.from([]);
      }
      const out = new PassThrough({ highWaterMark: STREAM_BUFFER });
      let received = 0;
      let done = false;
      // Stops after `limit` bytes: FTP has no end offset, so the connection is simply dropped.
      const sink = new Writable({
        highWaterMark: 256 * 1024,
        write(chunk: Buffer, _encoding, callback) {
          if (done) {
            callback();
            return;
          }
          const piece = received + chunk.length > limit ? chunk.subarray(0, limit - received) : chunk;
          received += piece.length;
          const more = out.write(piece);
          if (received >= limit) {
            done = true;
            out.end();
            release(client);
            callback();
          } else if (more) callback();
          else out.once('drain', () => callback());
        },
      });
      sink.on('error', () => undefined);
      out.once('close', () => {
        // The reader stopped early: end the transfer with it.
        if (!done) {
          done = true;
          release(client);
        }
      });
      void client.downloadTo(sink, file, start).then(
        () => {
          if (done) return;
          done = true;
          if (received < limit) out.destroy(fail('read', key, new Error(`the transfer ended after ${received} of ${limit} bytes`)));
          else out.end();
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          out.destroy(fail('read', key, error));
        },
      ).finally(() => release(client));
      return out;
    },

    async stat(key) {
      const file = remote(key);
      try {
        return await withControl((c) => statOn(c, key, file));
      } catch (error) {
        throw fail('stat', key, error);
      }
    },

    async list(dir) {
      const parts = dir.split('/').filter(Boolean);
      if (parts.length > 0) assertSafeKey(parts.join('/'));
      const out: ObjectInfo[] = [];
      try {
        await withControl((c) => walk(c, posix.join(base, ...parts), parts, out));
      } catch (error) {
        throw fail('list', dir, error);
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async remove(key) {
      const file = remote(key);
      try {
        await withControl((c) => removeOn(c, file));
      } catch (error) {
        throw fail('remove', key, error);
      }
    },

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      // A partial file of key K is named `.<basename K><mark><random>` in K's directory.
      const target = remote(keyPrefix);
      const dir = posix.dirname(target);
      const start = `.${posix.basename(target)}`;
      try {
        return await withControl(async (c) => {
          let removed = 0;
          for (const entry of await listDir(c, dir)) {
            if (!entry.isFile || !entry.name.startsWith(start) || !entry.name.includes(PARTIAL_MARK)) continue;
            const file = posix.join(dir, entry.name);
            const modifiedAt = await modifiedAtOf(c, file, entry);
            // A partial of unknown age may belong to a write still running: leave it.
            if (!modifiedAt || Date.now() - modifiedAt.getTime() < olderThanMs) continue;
            await removeOn(c, file);
            removed += 1;
          }
          return removed;
        });
      } catch (error) {
        throw fail('remove', keyPrefix, error);
      }
    },

    async close() {
      closed = true;
      await queue;
      control?.close();
      control = undefined;
      for (const client of transfers) release(client);
    },
  };
}
