import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { instanceRcloneBinary } from '../config.ts';
import { HindsightError, type ErrorKind } from '../errors.ts';
import { assertRange, assertSafeKey, storageError, type AtomicWrite, type ObjectInfo, type StorageDriver, type StorageOperation } from './contract.ts';

/**
 * Any rclone remote (Google Drive, Dropbox, OneDrive, SFTP, S3, …) through the `rclone` binary.
 *
 * Writes stream into `rclone rcat <dir>/.<base>.partial-<random>` and commit renames the partial
 * onto the key with `rclone moveto`. Whether that rename is one server-side step depends on the
 * backend: local, sftp, ftp, webdav, Google Drive, Dropbox, OneDrive, pCloud, Box and mega move in
 * place; S3 and its look-alikes, GCS, Azure Blob, B2 and Swift do a server-side copy followed by a
 * delete (commit then costs time proportional to the size, but the key still appears at once, whole);
 * a backend that can do neither makes rclone download and upload the object again. When the key
 * already exists, rclone deletes it just before the move, so replacing an object leaves a short
 * window in which the key is absent, never one in which it is half-written.
 */

/** Marks temporary objects: `<dir>/.<name>.partial-<random>`. Listing never shows them. */
const PARTIAL_MARK = '.partial-';
/** Bytes of rclone's stderr kept per process: enough for the final error and its causes. */
const STDERR_TAIL_BYTES = 16 * 1024;
/** Nothing rclone can say about an error needs more than this in a message. */
const MESSAGE_MAX_CHARS = 1000;

export const rcloneStorageConfig = z.object({
  type: z.literal('rclone'),
  remote: z
    .string({ error: 'remote is required, e.g. "gdrive:backups"' })
    .trim()
    .min(1, 'remote is required, e.g. "gdrive:backups"')
    .refine((remote) => !remote.startsWith('-'), 'remote must not start with "-"')
    .refine((remote) => {
      const colon = remote.indexOf(':');
      return colon >= 0 && !remote.slice(0, colon).includes('/');
    }, 'remote must name an rclone remote and a path, e.g. "gdrive:backups" or ":s3,provider=Minio,endpoint=...:bucket/path"'),
  configText: z.string().optional(),
  rcloneBinary: z.string().trim().min(1, 'rcloneBinary must be a path to the rclone binary when given').optional(),
  extraFlags: z
    .array(
      z
        .string()
        .refine((flag) => /^--[A-Za-z0-9]/.test(flag), 'each extra flag must start with "--" (give values as --flag=value)')
        .refine((flag) => !/^--config(=|$)/.test(flag), 'extra flags must not set --config: put the configuration in configText'),
    )
    .optional(),
});
export type RcloneStorageConfig = z.infer<typeof rcloneStorageConfig>;

export const rcloneSecretFields = ['configText'] as const;

/** How a finished rclone process ended. */
interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: NodeJS.ErrnoException;
  stderr: string;
}

interface LsJsonEntry {
  Path: string;
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
}

/** Temporary config directories still on disk; removed at process exit if close() never ran. */
const liveConfigDirs = new Set<string>();
let exitHookInstalled = false;
function trackConfigDir(dir: string): void {
  liveConfigDirs.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const leftover of liveConfigDirs) rmSync(leftover, { recursive: true, force: true });
  });
}

/** Which kind each of rclone's error texts means; the first match wins, so the order matters. */
const ERROR_PATTERNS: ReadonlyArray<readonly [ErrorKind, RegExp]> = [
  ['bad_input', /didn't find section in config file|didn't find backend called|couldn't find type|unknown backend|unknown (shorthand )?flag|is a file not a directory|not a directory|config file is encrypted|unable to decrypt configuration/i],
  // Before access_denied: Google answers a rate limit with 403.
  ['busy', /too many requests|rate ?limit|slow ?down/i],
  ['not_found', /directory not found|object not found|file not found|doesn't exist|does not exist|no such file|NoSuchKey|NoSuchBucket|404 not found/i],
  // Before access_denied: Google answers a full Drive with 403 storageQuotaExceeded.
  ['no_space', /quota|no space|insufficient storage|disk full|storage full/i],
  ['access_denied', /AccessDenied|access denied|\b40[13]\b|forbidden|permission denied|operation not permitted|read-only file system|invalid_grant|unauthori[sz]ed|InvalidAccessKeyId|SignatureDoesNotMatch|token (has )?expired|authentication failed/i],
  ['unreachable', /no such host|connection refused|connection reset|timeout|timed out|deadline exceeded|network is unreachable|no route to host|broken pipe|TLS handshake|unexpected EOF/i],
];

function classify(message: string, code: number | null): ErrorKind {
  for (const [kind, pattern] of ERROR_PATTERNS) if (pattern.test(message)) return kind;
  // rclone's own exit codes: 3 directory not found, 4 file not found.
  if (code === 3 || code === 4) return 'not_found';
  return 'tool_failed';
}

/**
 * The useful part of rclone's stderr: its last error line and the "caused by" lines under it,
 * without timestamps and without the repeated "Attempt n/m failed" lines.
 */
function summarize(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').trim())
    .filter((line) => line.length > 0 && !/^ERROR : Attempt \d+\/\d+ failed/.test(line));
  let from = -1;
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    if (/^(Failed to|ERROR|CRITICAL|Fatal error)/.test(lines[i]!)) { from = i; break; }
  }
  const picked = from >= 0 ? lines.slice(from) : lines.slice(-3);
  const text = picked.join(' ');
  return text.length > MESSAGE_MAX_CHARS ? `…${text.slice(-MESSAGE_MAX_CHARS)}` : text;
}

/** Config keys whose values are credentials in some backend (pass, secret_access_key, token, key_pem, …). */
const SECRET_KEY_NAME = /secret|pass|token|key|credential|sas|auth|cookie|private/i;
/** Parameters of a connection-string remote, e.g. `:webdav,url=…,pass=…:path`. */
const SECRET_PARAMETER = /([A-Za-z_]*(?:secret|pass|token|key|credential|sas|auth|cookie|private)[A-Za-z_]*\s*=\s*)('[^']*'|"[^"]*"|[^,:\s]+)/gi;

/** The credential values set in an rclone.conf, and the strings inside JSON tokens. */
function secretValues(configText: string | undefined): string[] {
  const values = new Set<string>();
  for (const line of (configText ?? '').split(/\r?\n/)) {
    const match = /^\s*([^#;[\s=][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || !SECRET_KEY_NAME.test(match[1]!)) continue;
    const value = match[2]!;
    if (value.length >= 4) values.add(value);
    for (const inner of value.matchAll(/"([^"]{8,})"/g)) values.add(inner[1]!);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/**
 * Removes credentials from text rclone printed: secret-looking parameters of a connection-string
 * remote and the credential values of configText. rclone masks them itself in its usual messages;
 * this guards the unusual ones.
 */
function makeRedactor(configText: string | undefined): (text: string) => string {
  const values = secretValues(configText);
  return (text) => {
    let out = text.replace(SECRET_PARAMETER, '$1***');
    for (const value of values) out = out.split(value).join('***');
    return out;
  };
}

export function createRcloneStorage(options: { name: string; config: RcloneStorageConfig }): StorageDriver {
  const label = `rclone "${options.name}"`;
  const parsed = rcloneStorageConfig.safeParse(options.config);
  if (!parsed.success) {
    throw new HindsightError('bad_input', `storage ${label}: invalid settings: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`).join('; ')}`);
  }
  const config = parsed.data;
  const remote = config.remote;
  // The installation's rclone unless the instance owner named another for this storage
  // (services/storage-privileges.ts): a workspace never chooses what program the worker runs.
  const binary = config.rcloneBinary ?? instanceRcloneBinary();
  const extraFlags = config.extraFlags ?? [];
  const redact = makeRedactor(config.configText);
  const running = new Set<ChildProcess>();
  let configFile: Promise<{ dir: string; file: string }> | undefined;
  let closed = false;

  // rclone's S3 SDK refuses AWS_CA_BUNDLE with its own HTTP transport and then fails every call;
  // a private CA is given to rclone as --ca-cert=<file> in extraFlags instead.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AWS_CA_BUNDLE;

  /** `<remote>/<key>`; '' is the remote's root. */
  const at = (key: string): string => {
    if (key === '') return remote;
    return remote.endsWith(':') || remote.endsWith('/') ? `${remote}${key}` : `${remote}/${key}`;
  };

  const errorFrom = (op: StorageOperation, key: string, exit: Exit): HindsightError => {
    if (exit.spawnError) {
      if (exit.spawnError.code === 'ENOENT') {
        return storageError('bad_input', label, op, key, `the rclone binary '${binary}' was not found (install it with 'apt-get install rclone' or set HINDSIGHT_RCLONE_BINARY)`);
      }
      return storageError('tool_failed', label, op, key, `could not start '${binary}': ${exit.spawnError.message}`);
    }
    const said = summarize(exit.stderr);
    const how = exit.signal ? `rclone was stopped by ${exit.signal}` : `rclone exited with code ${exit.code}`;
    const detail = redact(said ? `${said} (${how})` : how);
    return storageError(exit.signal ? 'tool_failed' : classify(said, exit.code), label, op, key, detail);
  };

  /**
   * The config file every call passes with --config, so that ~/.config/rclone is never read by
   * accident. rclone may write refreshed OAuth tokens back into it; those live as long as the
   * driver, and the refresh token in configText stays the durable credential.
   */
  function configPath(op: StorageOperation, key: string): Promise<string> {
    configFile ??= (async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-rclone-'));
      trackConfigDir(dir);
      const file = path.join(dir, 'rclone.conf');
      await writeFile(file, config.configText ?? '', { mode: 0o600 });
      return { dir, file };
    })();
    return configFile.then(
      ({ file }) => file,
      (error: unknown) => {
        configFile = undefined;
        throw storageError('tool_failed', label, op, key, `could not write the rclone config file: ${(error as Error).message}`);
      },
    );
  }

  /** Starts rclone; resolves once the process runs, with a promise of how it ended. */
  async function start(
    op: StorageOperation,
    key: string,
    args: string[],
    stdio: { stdin: 'pipe' | 'ignore'; stdout: 'pipe' | 'ignore' },
    idleTimeout = '30s',
  ): Promise<{ child: ChildProcess; exited: Promise<Exit> }> {
    if (closed) throw storageError('bad_input', label, op, key, 'the storage driver was closed');
    const file = await configPath(op, key);
    // Short retries and timeouts so that a dead remote fails a call in seconds, not minutes;
    // extraFlags come last so that they can override any of these.
    const flags = ['--config', file, '--ask-password=false', '--low-level-retries', '2', '--retries', '1', '--contimeout', '5s', '--timeout', idleTimeout, ...extraFlags];
    const child = spawn(binary, [...args, ...flags], { stdio: [stdio.stdin, stdio.stdout, 'pipe'], env });
    running.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      stderr = (stderr + text).slice(-STDERR_TAIL_BYTES);
    });
    const exited = new Promise<Exit>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: error, stderr }));
      child.once('close', (code, signal) => resolve({ code, signal, stderr }));
    });
    void exited.then(() => running.delete(child));
    let spawnError: NodeJS.ErrnoException | undefined;
    await new Promise<void>((resolve) => {
      child.once('spawn', () => resolve());
      child.once('error', (error: NodeJS.ErrnoException) => {
        spawnError = error;
        resolve();
      });
    });
    if (spawnError) throw errorFrom(op, key, { code: null, signal: null, spawnError, stderr: '' });
    return { child, exited };
  }

  /** Runs a short rclone command to its end and returns its stdout. */
  async function run(op: StorageOperation, key: string, args: string[]): Promise<{ exit: Exit; stdout: string }> {
    const { child, exited } = await start(op, key, args, { stdin: 'ignore', stdout: 'pipe' });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    const exit = await exited;
    return { exit, stdout: Buffer.concat(chunks).toString('utf8') };
  }

  async function runChecked(op: StorageOperation, key: string, args: string[]): Promise<string> {
    const { exit, stdout } = await run(op, key, args);
    if (exit.code !== 0) throw errorFrom(op, key, exit);
    return stdout;
  }

  function parseJson<T>(op: StorageOperation, key: string, text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch {
      throw storageError('tool_failed', label, op, key, `rclone printed a listing that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  /** One object's metadata, or undefined when nothing (or only a directory) is at the key. */
  async function statObject(op: StorageOperation, key: string): Promise<ObjectInfo | undefined> {
    const { exit, stdout } = await run(op, key, ['lsjson', '--stat', '--no-mimetype', at(key)]);
    if (exit.code !== 0) {
      const error = errorFrom(op, key, exit);
      if (error.kind === 'not_found') return undefined;
      throw error;
    }
    const entry = parseJson<LsJsonEntry>(op, key, stdout);
    // Bucket backends answer any prefix with a directory entry: no object is there.
    if (entry.IsDir) return undefined;
    return { key, size: entry.Size, modifiedAt: new Date(entry.ModTime) };
  }

  /** Deletes one object; a missing one is not an error. */
  async function deleteObject(op: StorageOperation, key: string): Promise<void> {
    const { exit } = await run(op, key, ['deletefile', at(key)]);
    if (exit.code === 0) return;
    const error = errorFrom(op, key, exit);
    if (error.kind !== 'not_found') throw error;
  }

  const partialKeyOf = (key: string): string => {
    const slash = key.lastIndexOf('/');
    return `${key.slice(0, slash + 1)}.${key.slice(slash + 1)}${PARTIAL_MARK}${randomBytes(6).toString('hex')}`;
  };

  return {
    label,

    async openWrite(key) {
      assertSafeKey(key);
      const partialKey = partialKeyOf(key);
      // A longer idle timeout for uploads: the source may pause for minutes (a dump waiting on a
      // lock) while a streaming backend holds its upload connection open. Chunked backends buffer
      // in the rclone process, not here (S3: chunk size × upload concurrency, 20 MiB by default;
      // lower with --s3-upload-concurrency in extraFlags).
      const { child, exited } = await start('write', key, ['rcat', at(partialKey)], { stdin: 'pipe', stdout: 'ignore' }, '10m');
      const stdin = child.stdin!;
      // EPIPE when rclone exits early; its exit status and stderr say why.
      stdin.on('error', () => undefined);

      let exit: Exit | undefined;
      let waiting: { resolve(): void; reject(error: Error): void } | undefined;
      const failure = (ended: Exit): HindsightError =>
        ended.code === 0 && !ended.signal ? storageError('tool_failed', label, 'write', key, 'rclone stopped reading before the upload ended') : errorFrom('write', key, ended);
      // One waiter at a time: backpressure is the pipe to rclone; this stream only holds its own
      // highWaterMark on top of it.
      stdin.on('drain', () => {
        const waiter = waiting;
        waiting = undefined;
        waiter?.resolve();
      });
      void exited.then((ended) => {
        exit = ended;
        const waiter = waiting;
        waiting = undefined;
        waiter?.reject(failure(ended));
      });

      const stream = new Writable({
        highWaterMark: 256 * 1024,
        write(chunk: Buffer, _encoding, callback) {
          if (exit) return callback(failure(exit));
          if (stdin.write(chunk)) return callback();
          waiting = { resolve: () => callback(), reject: (error) => callback(error) };
        },
        final(callback) {
          stdin.end();
          // The stream finishes only once rclone has stored every byte, so a failed upload
          // fails the writer's pipeline, not only commit().
          void exited.then((ended) => callback(ended.code === 0 ? undefined : failure(ended)));
        },
        destroy(error, callback) {
          if (!exit) child.kill('SIGTERM');
          callback(error);
        },
      });

      let settled = false;
      const write: AtomicWrite = {
        stream,
        async commit() {
          if (settled) throw storageError('tool_failed', label, 'write', key, 'write already settled');
          settled = true;
          try {
            if (!stream.writableFinished) await finished(stream);
            // --ignore-times: without it rclone skips a "same size and time" destination and
            // only deletes the source, keeping the old bytes under the key.
            await runChecked('write', key, ['moveto', '--ignore-times', at(partialKey), at(key)]);
            const info = await statObject('write', key);
            if (!info) throw storageError('not_found', label, 'write', key, 'the object was not found right after it was committed');
            return info;
          } catch (error) {
            if (!exit) child.kill('SIGTERM');
            await exited;
            await deleteObject('write', partialKey).catch(() => undefined);
            if (error instanceof HindsightError) throw error;
            throw storageError('tool_failed', label, 'write', key, (error as Error).message);
          }
        },
        async abort() {
          if (settled) return;
          settled = true;
          stream.destroy();
          await exited;
          // Bucket backends never show an unfinished multipart upload, so there may be nothing
          // to delete; the bucket's lifecycle rule drops such uploads.
          await deleteObject('write', partialKey);
        },
      };
      return write;
    },

    async openRead(key, range): Promise<Readable> {
      assertRange(range);
      assertSafeKey(key);
      // Ask first: `rclone cat` of a missing object exits 0 with no output on bucket backends.
      const info = await statObject('read', key);
      if (!info) throw storageError('not_found', label, 'read', key, 'object not found');
      const from = range?.start ?? 0;
      const to = Math.min(range?.end ?? info.size, info.size);
      if (from >= to) return Readable.from([]);
      const args = ['cat', at(key)];
      if (from > 0) args.push('--offset', String(from));
      if (to < info.size) args.push('--count', String(to - from));
      const { child, exited } = await start('read', key, args, { stdin: 'ignore', stdout: 'pipe' });
      const stdout = child.stdout!;
      const expected = to - from;
      let received = 0;
      let ended = false;
      const out = new Readable({
        highWaterMark: 256 * 1024,
        read() {
          stdout.resume();
        },
        destroy(error, callback) {
          if (!ended) child.kill('SIGTERM');
          callback(error);
        },
      });
      stdout.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (!out.push(chunk)) stdout.pause();
      });
      void exited.then((exit) => {
        ended = true;
        if (out.destroyed) return;
        if (exit.code !== 0) out.destroy(errorFrom('read', key, exit));
        // A short read means the object changed or the transfer broke; never pass it as whole.
        else if (received !== expected) out.destroy(storageError('tool_failed', label, 'read', key, `rclone returned ${received} of ${expected} bytes`));
        else out.push(null);
      });
      return out;
    },

    async stat(key) {
      assertSafeKey(key);
      return statObject('stat', key);
    },

    async list(dir) {
      const clean = dir.replace(/\/+$/, '');
      if (clean !== '') assertSafeKey(clean);
      const { exit, stdout } = await run('list', clean, ['lsjson', '-R', '--files-only', '--no-mimetype', '--fast-list', at(clean)]);
      if (exit.code !== 0) {
        const error = errorFrom('list', clean, exit);
        if (error.kind === 'not_found') return [];
        throw error;
      }
      const entries = parseJson<LsJsonEntry[]>('list', clean, stdout);
      const base = clean.slice(clean.lastIndexOf('/') + 1);
      // rclone lists a file when pointed at one; a file has nothing below it.
      if (clean !== '' && entries.some((entry) => entry.Path === base) && (await statObject('list', clean))) return [];
      const out: ObjectInfo[] = [];
      for (const entry of entries) {
        if (entry.IsDir || path.posix.basename(entry.Path).includes(PARTIAL_MARK)) continue;
        out.push({ key: clean === '' ? entry.Path : `${clean}/${entry.Path}`, size: entry.Size, modifiedAt: new Date(entry.ModTime) });
      }
      return out.sort((a, b) => a.key.localeCompare(b.key));
    },

    async remove(key) {
      assertSafeKey(key);
      await deleteObject('remove', key);
    },

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      assertSafeKey(keyPrefix);
      // A partial of key K is named `.<basename K><mark><random>` in K's directory. On bucket
      // backends a killed upload is an unfinished multipart upload instead, never listed here;
      // the bucket's lifecycle rule (AbortIncompleteMultipartUpload) removes those.
      const slash = keyPrefix.lastIndexOf('/');
      const dir = slash >= 0 ? keyPrefix.slice(0, slash) : '';
      const namePrefix = `.${keyPrefix.slice(slash + 1)}`;
      const { exit, stdout } = await run('list', dir, ['lsjson', '--files-only', '--no-mimetype', at(dir)]);
      if (exit.code !== 0) {
        const error = errorFrom('list', dir, exit);
        if (error.kind === 'not_found') return 0;
        throw error;
      }
      let removed = 0;
      for (const entry of parseJson<LsJsonEntry[]>('list', dir, stdout)) {
        if (entry.IsDir || !entry.Name.startsWith(namePrefix) || !entry.Name.includes(PARTIAL_MARK)) continue;
        if (Date.now() - new Date(entry.ModTime).getTime() < olderThanMs) continue;
        await deleteObject('remove', dir === '' ? entry.Name : `${dir}/${entry.Name}`);
        removed += 1;
      }
      return removed;
    },

    async close() {
      if (closed) return;
      closed = true;
      const stopping = [...running].map((child) => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }));
      await Promise.all(stopping);
      const made = configFile ? await configFile.catch(() => undefined) : undefined;
      if (made) {
        await rm(made.dir, { recursive: true, force: true });
        liveConfigDirs.delete(made.dir);
      }
    },
  };
}
