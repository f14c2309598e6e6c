import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { FileSystem, FtpSrv, type FtpConnection } from 'ftp-srv';
import { freePort } from '../ports.ts';

export type FtpTls = 'none' | 'explicit' | 'implicit';

export interface FtpServer {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The directory clients see as '/'. */
  rootDir: string;
  /** Stops storing uploaded bytes until the returned function is called: a stalled server. */
  holdUploads(): () => void;
  stop(): Promise<void>;
}

/** ftp-srv logs through a bunyan-style logger; tests only need its failures in the report. */
function silentLogger(): Record<string, unknown> {
  const noop = (): void => undefined;
  const logger: Record<string, unknown> = {
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    fatal: noop,
  };
  logger.child = () => logger;
  return logger;
}

/** Passes bytes on to the real file only while `gate` lets it. */
class GatedUpload extends Writable {
  private readonly inner: Writable;
  private readonly gate: () => Promise<void>;
  constructor(inner: Writable, gate: () => Promise<void>) {
    super({ highWaterMark: 64 * 1024 });
    this.inner = inner;
    this.gate = gate;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    void this.gate().then(() => this.inner.write(chunk, callback));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(callback);
  }
}

/** ftp-srv's own file system, with uploads that can be held back. */
class HoldableFileSystem extends FileSystem {
  private readonly gate: () => Promise<void>;
  constructor(connection: FtpConnection, root: string, gate: () => Promise<void>) {
    super(connection, { root, cwd: '/' });
    this.gate = gate;
  }

  override write(
    fileName: string,
    options?: { append?: boolean; start?: number },
  ): { stream: Writable; clientPath: string } {
    const { stream, clientPath } = super.write(fileName, options) as { stream: Writable; clientPath: string };
    return { stream: new GatedUpload(stream, this.gate), clientPath };
  }
}

/** A throwaway self-signed certificate for 127.0.0.1, made by the openssl command. */
async function selfSignedCertificate(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { encoding: 'utf8' },
  );
  if (result.error)
    throw new Error(
      `openssl is needed for the FTPS test server: install it, e.g. 'apt-get install openssl' (${result.error.message})`,
    );
  if (result.status !== 0) throw new Error(`openssl could not make a test certificate: ${result.stderr.trim()}`);
  return { key: await readFile(keyFile), cert: await readFile(certFile) };
}

/**
 * ftp-srv, a complete FTP server written for Node, run in this process on 127.0.0.1 with one
 * user jailed in a temp directory. Passive data ports are on 127.0.0.1 as well. With `tls`,
 * control and data connections are encrypted (AUTH TLS, or TLS from the first byte).
 */
export async function startFtpServer(options: { tls?: FtpTls } = {}): Promise<FtpServer> {
  const tls = options.tls ?? 'none';
  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-ftp-'));
  const rootDir = path.join(dir, 'root');
  await mkdir(rootDir);
  const username = 'hindsight';
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  // ftp-srv probes upward from pasv_min for a free port; start somewhere unlikely to be busy.
  const pasvMin = await freePort();
  try {
    const certificate = tls === 'none' ? undefined : await selfSignedCertificate(dir);
    const signals = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
    const existing = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
    const server = new FtpSrv({
      url: `${tls === 'implicit' ? 'ftps' : 'ftp'}://127.0.0.1:${port}`,
      pasv_url: '127.0.0.1',
      pasv_min: pasvMin,
      pasv_max: Math.min(pasvMin + 500, 65535),
      anonymous: false,
      greeting: 'hindsight test server',
      tls: certificate ?? false,
      log: silentLogger(),
    });
    // ftp-srv installs handlers that exit the whole process on these signals; the test runner
    // owns them, and stop() ends the server.
    for (const signal of signals) {
      for (const listener of process.listeners(signal)) {
        if (!existing.get(signal)?.has(listener)) process.removeListener(signal, listener);
      }
    }
    let hold: Promise<void> = Promise.resolve();
    let releaseHold: (() => void) | undefined;
    server.on('login', ({ connection, username: user, password: pass }, resolve, reject) => {
      if (user === username && pass === password)
        resolve({ fs: new HoldableFileSystem(connection, rootDir, () => hold) });
      else reject(new Error('Invalid username or password'));
    });
    await server.listen();
    return {
      host: '127.0.0.1',
      port,
      username,
      password,
      rootDir,
      holdUploads() {
        releaseHold?.();
        hold = new Promise<void>((resolve) => {
          releaseHold = resolve;
        });
        return () => {
          releaseHold?.();
          hold = Promise.resolve();
        };
      },
      async stop() {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
