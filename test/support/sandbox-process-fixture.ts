/**
 * What the process sandbox tests share: a process driver on a fresh sandbox root that the server
 * user can reach, and a record of every sandbox and holder process they make, all removed at the end.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { shareDirWithServerUser } from '../../lib/pg/cluster.ts';
import type { Sandbox, SandboxCreateOptions, SandboxDriver } from '../../lib/sandbox/contract.ts';
import { createProcessSandboxDriver } from '../../lib/sandbox/process.ts';

export class ProcessSandboxes {
  /** The temporary directory that holds the sandbox root and anything else a test makes. */
  base = '';
  root = '';
  driver!: SandboxDriver;
  readonly made: Sandbox[] = [];
  /** Processes started by the tests (sandbox holders), killed at the end if still running. */
  readonly children: ChildProcess[] = [];

  async start(): Promise<void> {
    this.base = await mkdtemp(path.join(tmpdir(), 'hindsight-sandbox-test-'));
    // As root the servers run as the postgres user, who must reach the sandbox root.
    await shareDirWithServerUser(this.base);
    this.root = path.join(this.base, 'sandboxes');
    this.driver = createProcessSandboxDriver({ root: this.root });
  }

  /** A sandbox made by `driver` (the shared one unless given), destroyed at the end if a test did not. */
  async create(options: SandboxCreateOptions, driver = this.driver): Promise<Sandbox> {
    const sandbox = await driver.create(options);
    this.made.push(sandbox);
    return sandbox;
  }

  async cleanUp(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const sandbox of this.made) await sandbox.destroy().catch(() => undefined);
    await this.driver?.sweepLeftovers().catch(() => undefined);
    if (this.base) await rm(this.base, { recursive: true, force: true });
  }
}
