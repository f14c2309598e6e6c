/**
 * Temporal's dev server as a process of its own, as a compose deployment runs it (not under
 * `npm start`): on a SQLite file, so that it can be killed with SIGKILL and started again on the
 * same file and ports, its workflows, activities and timers where it left them.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { startTemporalDevServer, waitForPort } from '../../temporal/dev-server.ts';
import { freePort } from './ports.ts';

export class TemporalProcess {
  readonly dbFile: string;
  readonly port: number;
  readonly uiPort: number;
  private child: ChildProcess | undefined;
  /** What the server wrote, kept to explain a start that failed. */
  private output = '';

  private constructor(dbFile: string, port: number, uiPort: number) {
    this.dbFile = dbFile;
    this.port = port;
    this.uiPort = uiPort;
  }

  /** A dev server on free ports with its SQLite file in `dir`, answering once this resolves. */
  static async start(dir: string): Promise<TemporalProcess> {
    const server = new TemporalProcess(path.join(dir, 'temporal.sqlite'), await freePort(), await freePort());
    await server.launch();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGKILL to the server's process group: no shutdown of any kind, as a crash or an OOM kill. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    this.child = undefined;
  }

  /** Started again on the same file and ports. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill().catch(() => undefined);
  }

  private async launch(): Promise<void> {
    this.output = '';
    const child = await startTemporalDevServer({
      dbFile: this.dbFile,
      port: this.port,
      uiPort: this.uiPort,
      namespace: 'default',
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const died = once(child, 'exit').then(([code, signal]) => {
      throw new Error(`the Temporal dev server on ${this.address} exited (${code ?? signal}):\n${this.output}`);
    });
    died.catch(() => undefined);
    await Promise.race([waitForPort('127.0.0.1', this.port, 60_000), died]);
  }
}
