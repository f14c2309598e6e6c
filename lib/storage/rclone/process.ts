import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HindsightError } from '../../errors.ts';
import { storageError, type ObjectInfo, type StorageOperation } from '../contract.ts';
import type { RcloneStorageConfig } from './config.ts';
import { rcloneFailure, type Exit } from './errors.ts';

/** Bytes of rclone's stderr kept per process: enough for the final error and its causes. */
const STDERR_TAIL_BYTES = 16 * 1024;

/** One entry of `rclone lsjson`. */
export interface LsJsonEntry {
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

/** Waits until a spawned child runs, or says why it could not start. */
function spawned(child: ChildProcess): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error: NodeJS.ErrnoException) => resolve(error));
  });
}

/** The rclone processes of one driver: each call is a process with the driver's config file and flags. */
export class RcloneRunner {
  readonly label: string;
  readonly fail: (op: StorageOperation, key: string, exit: Exit) => HindsightError;
  private readonly config: RcloneStorageConfig;
  private readonly binary: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly running = new Set<ChildProcess>();
  private configFile: Promise<{ dir: string; file: string }> | undefined;
  private closed = false;

  constructor(options: {
    label: string;
    config: RcloneStorageConfig;
    binary: string;
    redact: (text: string) => string;
  }) {
    this.label = options.label;
    this.config = options.config;
    this.binary = options.binary;
    this.fail = rcloneFailure(options);
    // rclone's S3 SDK refuses AWS_CA_BUNDLE with its own HTTP transport and then fails every call;
    // a private CA is given to rclone as --ca-cert=<file> in extraFlags instead.
    this.env = { ...process.env };
    delete this.env.AWS_CA_BUNDLE;
  }

  /** `<remote>/<key>`; '' is the remote's root. */
  at(key: string): string {
    const remote = this.config.remote;
    if (key === '') return remote;
    return remote.endsWith(':') || remote.endsWith('/') ? `${remote}${key}` : `${remote}/${key}`;
  }

  /**
   * The config file every call passes with --config, so that ~/.config/rclone is never read by
   * accident. rclone may write refreshed OAuth tokens back into it; those live as long as the
   * driver, and the refresh token in configText stays the durable credential.
   */
  private configPath(op: StorageOperation, key: string): Promise<string> {
    this.configFile ??= (async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-rclone-'));
      trackConfigDir(dir);
      const file = path.join(dir, 'rclone.conf');
      await writeFile(file, this.config.configText ?? '', { mode: 0o600 });
      return { dir, file };
    })();
    return this.configFile.then(
      ({ file }) => file,
      (error: unknown) => {
        this.configFile = undefined;
        throw storageError(
          'tool_failed',
          this.label,
          op,
          key,
          `could not write the rclone config file: ${(error as Error).message}`,
        );
      },
    );
  }

  /** Starts rclone; resolves once the process runs, with a promise of how it ended. */
  async start(
    op: StorageOperation,
    key: string,
    args: string[],
    stdio: { stdin: 'pipe' | 'ignore'; stdout: 'pipe' | 'ignore' },
    idleTimeout = '30s',
  ): Promise<{ child: ChildProcess; exited: Promise<Exit> }> {
    if (this.closed) throw storageError('bad_input', this.label, op, key, 'the storage driver was closed');
    const file = await this.configPath(op, key);
    // Short retries and timeouts so that a dead remote fails a call in seconds, not minutes;
    // extraFlags come last so that they can override any of these.
    const flags = [
      '--config',
      file,
      '--ask-password=false',
      '--low-level-retries',
      '2',
      '--retries',
      '1',
      '--contimeout',
      '5s',
      '--timeout',
      idleTimeout,
      ...(this.config.extraFlags ?? []),
    ];
    const child = spawn(this.binary, [...args, ...flags], {
      stdio: [stdio.stdin, stdio.stdout, 'pipe'],
      env: this.env,
    });
    this.running.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      stderr = (stderr + text).slice(-STDERR_TAIL_BYTES);
    });
    const exited = new Promise<Exit>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) =>
        resolve({ code: null, signal: null, spawnError: error, stderr }),
      );
      child.once('close', (code, signal) => resolve({ code, signal, stderr }));
    });
    void exited.then(() => this.running.delete(child));
    const spawnError = await spawned(child);
    if (spawnError) throw this.fail(op, key, { code: null, signal: null, spawnError, stderr: '' });
    return { child, exited };
  }

  /** Runs a short rclone command to its end and returns its stdout. */
  async run(op: StorageOperation, key: string, args: string[]): Promise<{ exit: Exit; stdout: string }> {
    const { child, exited } = await this.start(op, key, args, { stdin: 'ignore', stdout: 'pipe' });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    const exit = await exited;
    return { exit, stdout: Buffer.concat(chunks).toString('utf8') };
  }

  async runChecked(op: StorageOperation, key: string, args: string[]): Promise<string> {
    const { exit, stdout } = await this.run(op, key, args);
    if (exit.code !== 0) throw this.fail(op, key, exit);
    return stdout;
  }

  /** A listing rclone printed; undefined when the path is missing. */
  async listJson<T>(op: StorageOperation, key: string, args: string[]): Promise<T | undefined> {
    const { exit, stdout } = await this.run(op, key, args);
    if (exit.code !== 0) {
      const error = this.fail(op, key, exit);
      if (error.kind === 'not_found') return undefined;
      throw error;
    }
    try {
      return JSON.parse(stdout) as T;
    } catch {
      throw storageError(
        'tool_failed',
        this.label,
        op,
        key,
        `rclone printed a listing that is not JSON: ${stdout.slice(0, 200)}`,
      );
    }
  }

  /** One object's metadata, or undefined when nothing (or only a directory) is at the key. */
  async statObject(op: StorageOperation, key: string): Promise<ObjectInfo | undefined> {
    const entry = await this.listJson<LsJsonEntry>(op, key, ['lsjson', '--stat', '--no-mimetype', this.at(key)]);
    // Bucket backends answer any prefix with a directory entry: no object is there.
    if (!entry || entry.IsDir) return undefined;
    return { key, size: entry.Size, modifiedAt: new Date(entry.ModTime) };
  }

  /** Deletes one object; a missing one is not an error. */
  async deleteObject(op: StorageOperation, key: string): Promise<void> {
    const { exit } = await this.run(op, key, ['deletefile', this.at(key)]);
    if (exit.code === 0) return;
    const error = this.fail(op, key, exit);
    if (error.kind !== 'not_found') throw error;
  }

  /** Stops every running rclone and removes the config file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopping = [...this.running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(stopping);
    const made = this.configFile ? await this.configFile.catch(() => undefined) : undefined;
    if (made) {
      await rm(made.dir, { recursive: true, force: true });
      liveConfigDirs.delete(made.dir);
    }
  }
}
