import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import ssh2, { type ConnectConfig, type FileEntryWithStats, type SFTPWrapper, type Stats } from 'ssh2';
import { z } from 'zod';
import { HindsightError, type ErrorKind } from '../errors.ts';
import { assertRange, assertSafeKey, storageError, type AtomicWrite, type ObjectInfo, type StorageDriver, type StorageOperation } from './contract.ts';

const posix = path.posix;
// ssh2 is CommonJS: only its default export is visible to ES modules.
const { Client, utils: sshUtils } = ssh2;
type Client = InstanceType<typeof Client>;

/** Marks temporary files: `<dir>/.<name>.partial-<random>`. Listing never shows them. */
const PARTIAL_MARK = '.partial-';
const CONNECT_TIMEOUT_MS = 10_000;
/** Bytes sent but not yet acknowledged per write; bounds memory and keeps a slow link busy. */
const UPLOAD_WINDOW = 4 * 1024 * 1024;
const READ_CHUNK = 64 * 1024;
/** Reads kept in flight per download: round trips overlap instead of adding up. */
const READ_DEPTH = 16;
const STREAM_BUFFER = 1024 * 1024;
/** Below this much free space a failed write is reported as a full disk. */
const LOW_SPACE_BYTES = 1024 * 1024;

/** SFTP status codes (draft-ietf-secsh-filexfer); OpenSSH sends only 0-8, others send the rest. */
const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
  NO_SPACE_ON_FILESYSTEM: 14,
  QUOTA_EXCEEDED: 15,
} as const;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

const absolutePath = z
  .string({ error: 'path is required' })
  .min(1, 'path is required')
  .refine((p) => p.startsWith('/'), 'path must be an absolute directory on the server, e.g. /srv/backups');

export const sftpStorageConfig = z
  .object({
    type: z.literal('sftp'),
    host: z.string({ error: 'host is required' }).trim().min(1, 'host is required'),
    port: z.number().int('port must be a whole number').min(1, 'port must be between 1 and 65535').max(65535, 'port must be between 1 and 65535').default(22),
    username: z.string({ error: 'username is required' }).min(1, 'username is required'),
    password: z.string().min(1, 'password must not be empty').optional(),
    privateKey: z.string().min(1, 'privateKey must not be empty').optional(),
    passphrase: z.string().optional(),
    hostKeySha256: z
      .string()
      .trim()
      .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, "hostKeySha256 must be a fingerprint as 'ssh-keygen -lf' prints it: 'SHA256:' and 43 base64 characters")
      .optional(),
    path: absolutePath,
  })
  .superRefine((config, ctx) => {
    if (!config.password && !config.privateKey) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'password or privateKey is required' });
    }
    if (config.privateKey) {
      const parsed = sshUtils.parseKey(config.privateKey, config.passphrase);
      if (parsed instanceof Error) {
        ctx.addIssue({ code: 'custom', path: ['privateKey'], message: `privateKey cannot be used: ${parsed.message} (expected PEM or OpenSSH private key text)` });
      }
    }
  });
export type SftpStorageConfig = z.infer<typeof sftpStorageConfig>;

export const sftpSecretFields = ['password', 'privateKey', 'passphrase'] as const;

interface Session {
  client: Client;
  sftp: SFTPWrapper;
}

const statusCode = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

function kindOf(error: unknown): ErrorKind {
  if (error instanceof HindsightError) return error.kind;
  const message = error instanceof Error ? error.message : String(error);
  switch (statusCode(error)) {
    case SFTP_STATUS.NO_SUCH_FILE: return 'not_found';
    case SFTP_STATUS.PERMISSION_DENIED: return 'access_denied';
    case SFTP_STATUS.NO_SPACE_ON_FILESYSTEM: case SFTP_STATUS.QUOTA_EXCEEDED: return 'no_space';
    case SFTP_STATUS.NO_CONNECTION: case SFTP_STATUS.CONNECTION_LOST: return 'unreachable';
    case SFTP_STATUS.FAILURE: return /no space|ENOSPC|quota|disk full/i.test(message) ? 'no_space' : 'tool_failed';
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'unreachable';
  if (/no response from server|not connected|no sftp|channel (is )?closed|connection lost/i.test(message)) return 'unreachable';
  return 'tool_failed';
}

const fingerprint = (key: Buffer): string => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;

/** Turns an ssh2 callback API into a promise. */
function call<T = void>(start: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(error) : resolve(value as T)));
    } catch (error) {
      // ssh2 throws synchronously when the channel is already gone.
      reject(error);
    }
  });
}

/**
 * The Writable handed to the caller. Chunks go out as pipelined SFTP WRITE requests at explicit
 * offsets; the caller is held back once UPLOAD_WINDOW bytes await the server's acknowledgement.
 * `finish` is emitted only after every byte is acknowledged, synced and the handle closed.
 */
class SftpUpload extends Writable {
  private position = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  private blocked: ((error?: Error | null) => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private handleOpen = true;

  private readonly sftp: SFTPWrapper;
  private readonly handle: Buffer;
  private readonly explain: (error: unknown) => Promise<Error>;
  constructor(
    sftp: SFTPWrapper,
    handle: Buffer,
    explain: (error: unknown) => Promise<Error>,
  ) {
    super({ highWaterMark: STREAM_BUFFER });
    this.sftp = sftp;
    this.handle = handle;
    this.explain = explain;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failure) {
      callback(this.failure);
      return;
    }
    const length = chunk.length;
    const at = this.position;
    this.position += length;
    this.inFlight += length;
    const settle = (error: unknown): void => {
      if (!error) {
        this.inFlight -= length;
        this.release();
        return;
      }
      void this.explain(error).then((explained) => {
        this.failure ??= explained;
        this.inFlight -= length;
        this.release();
      });
    };
    try {
      this.sftp.write(this.handle, chunk, 0, length, at, settle);
    } catch (error) {
      settle(error);
    }
    if (this.inFlight < UPLOAD_WINDOW) callback();
    else this.blocked = callback;
  }

  private release(): void {
    if (this.blocked && (this.failure || this.inFlight < UPLOAD_WINDOW)) {
      const callback = this.blocked;
      this.blocked = undefined;
      callback(this.failure);
    }
    if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private async drained(): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  override _final(callback: (error?: Error | null) => void): void {
    void (async () => {
      await this.drained();
      if (this.failure) throw this.failure;
      try {
        // Durability before the rename makes the object visible, where the server offers it.
        await call((done) => this.sftp.ext_openssh_fsync(this.handle, done)).catch((error: unknown) => {
          if (!(error instanceof Error && /does not support/.test(error.message)) && statusCode(error) !== SFTP_STATUS.OP_UNSUPPORTED) throw error;
        });
        this.handleOpen = false;
        await call((done) => this.sftp.close(this.handle, done));
      } catch (error) {
        throw await this.explain(error);
      }
    })().then(() => callback(), (error: Error) => callback(error));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.handleOpen) {
      callback(error);
      return;
    }
    this.handleOpen = false;
    // The server handles requests in order, so the close lands after any write still queued.
    void call((done) => this.sftp.close(this.handle, done)).catch(() => undefined).then(() => callback(error));
  }
}

type ReadResult = { ok: true; at: number; length: number; data: Buffer } | { ok: false; error: unknown };

/** Reads `[start, end)` with READ_DEPTH requests in flight, delivering bytes in order. */
class SftpDownload extends Readable {
  private next: number;
  private readonly queue: Promise<ReadResult>[] = [];
  private pumping = false;
  private handleOpen = true;

  private readonly sftp: SFTPWrapper;
  private readonly handle: Buffer;
  private readonly end: number;
  private readonly translate: (error: unknown) => Error;
  constructor(
    sftp: SFTPWrapper,
    handle: Buffer,
    start: number,
    end: number,
    translate: (error: unknown) => Error,
  ) {
    super({ highWaterMark: STREAM_BUFFER });
    this.sftp = sftp;
    this.handle = handle;
    this.end = end;
    this.translate = translate;
    this.next = start;
  }

  private readAt(at: number, length: number): Promise<ReadResult> {
    return new Promise((resolve) => {
      try {
        this.sftp.read(this.handle, Buffer.allocUnsafe(length), 0, length, at, (error, bytesRead, buffer) => {
          resolve(error ? { ok: false, error } : { ok: true, at, length, data: buffer.subarray(0, bytesRead) });
        });
      } catch (error) {
        resolve({ ok: false, error });
      }
    });
  }

  override _read(): void {
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        while (this.queue.length < READ_DEPTH && this.next < this.end) {
          const length = Math.min(READ_CHUNK, this.end - this.next);
          this.queue.push(this.readAt(this.next, length));
          this.next += length;
        }
        const head = this.queue.shift();
        if (!head) {
          this.push(null);
          return;
        }
        const result = await head;
        if (this.destroyed) return;
        if (!result.ok) {
          this.destroy(this.translate(result.error));
          return;
        }
        if (result.data.length === 0) {
          this.destroy(this.translate(new Error(`the file ended at byte ${result.at}, shorter than when it was opened`)));
          return;
        }
        // Servers may answer with fewer bytes than asked; fetch the rest before moving on.
        if (result.data.length < result.length) {
          this.queue.unshift(this.readAt(result.at + result.data.length, result.length - result.data.length));
        }
        if (!this.push(result.data)) return;
      }
    } finally {
      this.pumping = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.handleOpen) {
      callback(error);
      return;
    }
    this.handleOpen = false;
    void call((done) => this.sftp.close(this.handle, done)).catch(() => undefined).then(() => callback(error));
  }
}

/**
 * A directory on an SSH server, reached over SFTP. Writes go to a hidden partial file next to
 * the target and are renamed over it on commit (posix-rename@openssh.com replaces atomically).
 * One SSH connection per driver carries every operation: SFTP multiplexes requests.
 */
export function createSftpStorage(options: { name: string; config: SftpStorageConfig }): StorageDriver {
  const config = options.config;
  const label = `sftp "${options.name}"`;
  const endpoint = `${config.host}:${config.port}`;
  const base = posix.normalize(config.path).replace(/(.)\/+$/, '$1');
  const secrets = [config.password, config.passphrase].filter((s): s is string => Boolean(s));
  const redact = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join('***'), text);

  const fail = (operation: StorageOperation, key: string, error: unknown): HindsightError => {
    if (error instanceof HindsightError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return storageError(kindOf(error), label, operation, key, redact(message));
  };

  const remote = (key: string): string => {
    assertSafeKey(key);
    return posix.join(base, key);
  };

  let session: Promise<Session> | undefined;
  let closed = false;

  /** `onClosed` runs when the connection ends, so that the next operation opens a new one. */
  function open(onClosed: () => void): Promise<Session> {
    return new Promise<Session>((resolve, reject) => {
      const client = new Client();
      let presentedKey: string | undefined;
      let settled = false;
      const failConnect = (error: Error & { level?: string }): void => {
        if (settled) return;
        settled = true;
        client.end();
        let kind: ErrorKind;
        let detail: string;
        if (presentedKey) {
          kind = 'bad_input';
          detail = `the server at ${endpoint} presented host key ${presentedKey}, not the expected ${config.hostKeySha256}; refusing to connect (if the server's key was changed on purpose, update hostKeySha256)`;
        } else if (error.level === 'client-authentication') {
          kind = 'access_denied';
          detail = `authentication failed for user ${config.username} (${error.message})`;
        } else if (error.level === 'client-timeout' || kindOf(error) === 'unreachable') {
          kind = 'unreachable';
          detail = `cannot reach ${endpoint}: ${error.message}`;
        } else {
          kind = 'tool_failed';
          detail = `SSH connection to ${endpoint} failed: ${error.message}`;
        }
        reject(storageError(kind, label, 'connect', '', redact(detail)));
      };
      client.on('error', failConnect);
      client.on('close', () => {
        failConnect(new Error('the server closed the connection'));
        onClosed();
      });
      client.on('ready', () => {
        client.sftp((error, sftp) => {
          if (error) {
            failConnect(error);
            return;
          }
          settled = true;
          resolve({ client, sftp });
        });
      });
      const expected = config.hostKeySha256?.replace(/=+$/, '');
      const connectConfig: ConnectConfig = {
        host: config.host,
        port: config.port,
        username: config.username,
        readyTimeout: CONNECT_TIMEOUT_MS,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        ...(config.password ? { password: config.password } : {}),
        ...(config.privateKey ? { privateKey: config.privateKey, ...(config.passphrase ? { passphrase: config.passphrase } : {}) } : {}),
        ...(expected
          ? {
              hostVerifier: (key: Buffer): boolean => {
                const presented = fingerprint(key);
                if (presented === expected) return true;
                presentedKey = presented;
                return false;
              },
            }
          : {}),
      };
      client.connect(connectConfig);
    });
  }

  async function connect(): Promise<SFTPWrapper> {
    if (closed) throw storageError('tool_failed', label, 'connect', '', 'the driver was closed');
    if (!session) {
      const attempt: Promise<Session> = open(() => {
        if (session === attempt) session = undefined;
      });
      session = attempt;
    }
    return (await session).sftp;
  }

  const stat = (sftp: SFTPWrapper, file: string) => call<Stats>((done) => sftp.stat(file, done));
  const readdir = (sftp: SFTPWrapper, dir: string) => call<FileEntryWithStats[]>((done) => sftp.readdir(dir, done));

  const isDirectory = async (sftp: SFTPWrapper, dir: string): Promise<boolean> => (await stat(sftp, dir).catch(() => undefined))?.isDirectory() ?? false;

  async function mkdir(sftp: SFTPWrapper, dir: string): Promise<void> {
    try {
      await call((done) => sftp.mkdir(dir, { mode: 0o750 }, done));
    } catch (error) {
      // Another writer may have created it meanwhile; OpenSSH reports EEXIST as plain failure.
      if (!(await isDirectory(sftp, dir))) throw error;
    }
  }

  async function mkdirp(sftp: SFTPWrapper, dir: string): Promise<void> {
    if (await isDirectory(sftp, dir)) return;
    const parent = posix.dirname(dir);
    try {
      await mkdir(sftp, dir);
    } catch (error) {
      if (statusCode(error) !== SFTP_STATUS.NO_SUCH_FILE || parent === dir) throw error;
      await mkdirp(sftp, parent);
      await mkdir(sftp, dir);
    }
  }

  /** OpenSSH reports ENOSPC as a bare "Failure": ask the file system whether it is full. */
  async function explainWriteError(sftp: SFTPWrapper, dir: string, key: string, error: unknown): Promise<HindsightError> {
    if (statusCode(error) === SFTP_STATUS.FAILURE) {
      try {
        const info = await call<{ f_bavail: number; f_frsize: number }>((done) => sftp.ext_openssh_statvfs(dir, done));
        const free = Number(info.f_bavail) * Number(info.f_frsize);
        if (free < LOW_SPACE_BYTES) {
          return storageError('no_space', label, 'write', key, `${(error as Error).message}: the server has ${free} bytes free in ${dir}`);
        }
      } catch {
        // No statvfs extension: keep the server's own words.
      }
    }
    return fail('write', key, error);
  }

  const remove = async (sftp: SFTPWrapper, file: string): Promise<void> => {
    try {
      await call((done) => sftp.unlink(file, done));
    } catch (error) {
      if (statusCode(error) !== SFTP_STATUS.NO_SUCH_FILE) throw error;
    }
  };

  async function replace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    let posixRename = true;
    await call((done) => {
      try {
        sftp.ext_openssh_rename(from, to, done);
      } catch (error) {
        if (!(error instanceof Error && /does not support/.test(error.message))) throw error;
        posixRename = false;
        done(undefined);
      }
    });
    if (posixRename) return;
    // Plain SFTP rename refuses an existing target: the key is briefly absent, never half-written.
    await remove(sftp, to);
    await call((done) => sftp.rename(from, to, done));
  }

  const infoOf = (key: string, attrs: Stats): ObjectInfo => ({ key, size: attrs.size, modifiedAt: new Date(attrs.mtime * 1000) });

  async function walk(sftp: SFTPWrapper, dir: string, prefix: string[], out: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(sftp, dir);
    } catch (error) {
      if (statusCode(error) === SFTP_STATUS.NO_SUCH_FILE) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.filename === '.' || entry.filename === '..') continue;
      const parts = [...prefix, entry.filename];
      if (entry.attrs.isDirectory()) await walk(sftp, posix.join(dir, entry.filename), parts, out);
      else if (entry.attrs.isFile() && !entry.filename.includes(PARTIAL_MARK)) out.push(infoOf(parts.join('/'), entry.attrs));
    }
  }

  return {
    label,

    async openWrite(key) {
      const target = remote(key);
      const dir = posix.dirname(target);
      const partial = posix.join(dir, `.${posix.basename(target)}${PARTIAL_MARK}${randomBytes(6).toString('hex')}`);
      const sftp = await connect();
      let handle: Buffer;
      try {
        await mkdirp(sftp, dir);
        handle = await call<Buffer>((done) => sftp.open(partial, 'wx', { mode: 0o600 }, done));
      } catch (error) {
        throw await explainWriteError(sftp, dir, key, error);
      }
      const stream = new SftpUpload(sftp, handle, (error) => explainWriteError(sftp, dir, key, error));
      let settled = false;
      const discard = async (): Promise<void> => {
        if (!stream.closed) {
          const closedNow = new Promise<void>((resolve) => stream.once('close', () => resolve()));
          stream.destroy();
          await closedNow;
        }
        await remove(sftp, partial).catch(() => undefined);
      };
      const write: AtomicWrite = {
        stream,
        async commit() {
          if (settled) throw fail('write', key, new Error('write already settled'));
          settled = true;
          try {
            if (!stream.writableFinished) await finished(stream);
            await replace(sftp, partial, target);
            return infoOf(key, await stat(sftp, target));
          } catch (error) {
            await discard();
            throw error instanceof HindsightError ? error : await explainWriteError(sftp, dir, key, error);
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
      const sftp = await connect();
      let handle: Buffer;
      let size: number;
      try {
        handle = await call<Buffer>((done) => sftp.open(file, 'r', done));
        try {
          size = (await call<Stats>((done) => sftp.fstat(handle, done))).size;
        } catch (error) {
          await call((done) => sftp.close(handle, done)).catch(() => undefined);
          throw error;
        }
      } catch (error) {
        throw fail('read', key, error);
      }
      const start = Math.min(range?.start ?? 0, size);
      const end = Math.min(range?.end ?? size, size);
      return new SftpDownload(sftp, handle, start, Math.max(start, end), (error) => fail('read', key, error));
    },

    async stat(key) {
      const file = remote(key);
      const sftp = await connect();
      try {
        return infoOf(key, await stat(sftp, file));
      } catch (error) {
        if (statusCode(error) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
        throw fail('stat', key, error);
      }
    },

    async list(dir) {
      const parts = dir.split('/').filter(Boolean);
      if (parts.length > 0) assertSafeKey(parts.join('/'));
      const sftp = await connect();
      const out: ObjectInfo[] = [];
      try {
        await walk(sftp, posix.join(base, ...parts), parts, out);
      } catch (error) {
        throw fail('list', dir, error);
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async remove(key) {
      const file = remote(key);
      const sftp = await connect();
      try {
        await remove(sftp, file);
      } catch (error) {
        throw fail('remove', key, error);
      }
    },

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      // A partial file of key K is named `.<basename K><mark><random>` in K's directory.
      const target = remote(keyPrefix);
      const dir = posix.dirname(target);
      const start = `.${posix.basename(target)}`;
      const sftp = await connect();
      let removed = 0;
      try {
        let entries;
        try {
          entries = await readdir(sftp, dir);
        } catch (error) {
          if (statusCode(error) === SFTP_STATUS.NO_SUCH_FILE) return 0;
          throw error;
        }
        for (const entry of entries) {
          if (!entry.filename.startsWith(start) || !entry.filename.includes(PARTIAL_MARK) || !entry.attrs.isFile()) continue;
          if (Date.now() - entry.attrs.mtime * 1000 < olderThanMs) continue;
          await remove(sftp, posix.join(dir, entry.filename));
          removed += 1;
        }
      } catch (error) {
        throw fail('remove', keyPrefix, error);
      }
      return removed;
    },

    async close() {
      closed = true;
      const pending = session;
      session = undefined;
      if (!pending) return;
      const open = await pending.catch(() => undefined);
      if (!open) return;
      await new Promise<void>((resolve) => {
        open.client.once('close', () => resolve());
        open.client.end();
      });
    },
  };
}
