import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import { createDockerSandboxDriver, SANDBOX_LABEL, sandboxContainerSpec } from '../../lib/sandbox/docker.ts';
import { chooseSandboxDriver, createSandboxDriver } from '../../lib/sandbox/index.ts';
import { canSwitchUser, sandboxUserIds } from '../../lib/sandbox/os-user.ts';
import { createProcessSandboxDriver, currentOwner, processAlive } from '../../lib/sandbox/process.ts';
import { ProcessSandboxes } from '../support/sandbox-process-fixture.ts';
import { waitFor } from '../support/wait.ts';
import { processesOf } from '../support/processes.ts';
import { exists, postmasterPid, query, sandboxDirs, startSandboxHolder } from '../support/sandbox-probes.ts';

describe('process sandboxes', () => {
  const sandboxes = new ProcessSandboxes();
  before(() => sandboxes.start());
  after(() => sandboxes.cleanUp());

  it('runs a PostgreSQL 15 server that takes data, and leaves nothing once destroyed', async () => {
    const sandbox = await sandboxes.create({ major: 15, label: 'first sandbox' });
    assert.equal(sandbox.driver, 'process');
    assert.equal(sandbox.major, 15);
    const dir = path.dirname(sandbox.dataDir!);
    assert.equal(dir, path.join(sandboxes.root, `sbx-${sandbox.id}`));
    assert.deepEqual(
      { host: sandbox.admin.host, database: sandbox.admin.database, user: sandbox.admin.user },
      { host: path.join(dir, 'socket'), database: 'postgres', user: 'postgres' },
    );
    assert.ok((sandbox.admin.password ?? '').length >= 24, 'the superuser has a random password');

    const owner = JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.major, 15);
    assert.equal(owner.confinement, sandbox.confinement);
    assert.ok(!Number.isNaN(Date.parse(String(owner.createdAt))));

    const [facts] = await query<{ num: string; su: boolean; listen: string; port: number | null; trust: string }>(
      sandbox.admin,
      `select current_setting('server_version_num') as num,
      (select rolsuper from pg_roles where rolname = current_user) as su, current_setting('listen_addresses') as listen, inet_server_port() as port,
      (select count(*) from pg_hba_file_rules where auth_method <> 'scram-sha-256')::text as trust`,
    );
    assert.equal(Math.floor(Number(facts!.num) / 10000), 15);
    assert.equal(facts!.su, true, 'the admin connection is a superuser');
    assert.deepEqual(
      { listen: facts!.listen, port: facts!.port },
      { listen: '', port: null },
      'no TCP listener: a unix socket only',
    );
    assert.equal(facts!.trust, '0', 'every pg_hba.conf line asks for a scram-sha-256 password');
    await assert.rejects(query({ ...sandbox.admin, password: 'wrong' }, 'select 1'), /password authentication failed/);

    if (canSwitchUser()) {
      // The socket directory is private to the sandbox's OS user, as is the data; the server runs as that user.
      const { uid } = await sandboxUserIds();
      for (const sub of ['socket', 'data']) {
        const info = await stat(path.join(dir, sub));
        assert.deepEqual({ uid: info.uid, mode: info.mode & 0o777 }, { uid, mode: 0o700 }, sub);
      }
      const serverPid = owner.serverPid as number;
      const uids = (await readFile(`/proc/${serverPid}/status`, 'utf8')).split('\n').find((l) => l.startsWith('Uid:'))!;
      assert.deepEqual(
        uids.split(/\s+/).slice(1, 5).map(Number),
        [uid, uid, uid, uid],
        'the server runs as the sandbox user',
      );
    }
    await query(sandbox.admin, `create table items (id int primary key, name text)`);
    await query(sandbox.admin, `insert into items select g, 'item ' || g from generate_series(1, 5000) g`);
    const [count] = await query<{ n: string }>(sandbox.admin, 'select count(*) as n from items');
    assert.equal(count!.n, '5000');

    const pids = await processesOf(dir);
    assert.ok(pids.length > 0);
    await sandbox.destroy();
    assert.equal(await exists(dir), false, 'the sandbox directory is gone');
    assert.deepEqual(pids.filter(processAlive), [], 'the server and its children are gone');
  });

  it('runs under bubblewrap where it can, as the sandbox user alone where it cannot', async () => {
    const sandbox = await sandboxes.create({ major: 15, label: 'confinement' });
    if (canSwitchUser()) assert.equal(sandbox.confinement, 'bwrap', 'bubblewrap works as root on this machine');
    else console.log(`# not root: confinement is ${sandbox.confinement} (${sandbox.confinementDetail})`);
    assert.deepEqual(
      await sandboxes.driver.probeConfinement!(),
      { confinement: sandbox.confinement, detail: sandbox.confinementDetail },
      'the worker can say at start what sandboxes will get',
    );
    await sandbox.destroy();

    process.env.HINDSIGHT_SANDBOX_BWRAP = 'off';
    try {
      const plain = await sandboxes.create(
        { major: 15, label: 'no bwrap' },
        createProcessSandboxDriver({ root: sandboxes.root }),
      );
      assert.equal(plain.confinement, canSwitchUser() ? 'os-user' : 'none');
      assert.match(plain.confinementDetail, /without bubblewrap|not root/);
      await query(plain.admin, 'select 1');
      const pid = await postmasterPid(plain.dataDir!);
      await plain.destroy();
      assert.equal(processAlive(pid), false);
    } finally {
      delete process.env.HINDSIGHT_SANDBOX_BWRAP;
    }
  });

  it('refuses a major newer than every server it has, creating nothing', async () => {
    const before = await sandboxDirs(sandboxes.root);
    // An older major would load into the lowest newer server; nothing here is 19 or newer.
    await assert.rejects(sandboxes.driver.create({ major: 19, label: 'missing major' }), (error: unknown) => {
      assert.ok(error instanceof HindsightError);
      assert.equal(error.kind, 'not_found');
      assert.equal(
        error.message,
        'no PostgreSQL server of major 19 or newer on this worker to load a PostgreSQL 19 dump into: install postgresql-19 (scripts/setup.sh installs 13 to 18)',
      );
      return true;
    });
    assert.deepEqual(await sandboxDirs(sandboxes.root), before);
  });

  it('an aborted creation stops and leaves nothing', async () => {
    const before = await sandboxDirs(sandboxes.root);
    const controller = new AbortController();
    const creating = sandboxes.driver.create({ major: 15, label: 'aborted', signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(creating, /cancelled/);
    assert.deepEqual(await sandboxDirs(sandboxes.root), before);
    await assert.rejects(
      sandboxes.driver.create({ major: 15, label: 'aborted early', signal: AbortSignal.abort() }),
      /cancelled/,
    );
  });

  it('destroy is idempotent and works after the server has died', async () => {
    const sandbox = await sandboxes.create({ major: 15, label: 'crashing server' });
    const dir = path.dirname(sandbox.dataDir!);
    const owner = JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')) as { serverPid: number };
    // The server dies on its own: postmaster.pid stays behind, naming a dead process.
    process.kill(owner.serverPid, 'SIGKILL');
    await Promise.all([sandbox.destroy(), sandbox.destroy()]);
    await sandbox.destroy();
    assert.equal(await exists(dir), false);
    assert.deepEqual(await processesOf(dir), []);
  });

  it('a killed process takes its server down with it; the sweep removes its directory, and only that one', async () => {
    const mine = await sandboxes.create({ major: 15, label: 'still in use' });

    let child!: ChildProcess;
    const held = await startSandboxHolder(sandboxes.root, (started) => {
      child = started;
      sandboxes.children.push(started);
    });
    const dir = path.dirname(held.dataDir);
    const serverPids = await processesOf(dir);
    assert.ok(serverPids.length > 0, 'the held server runs');

    const exit = once(child, 'exit');
    child.kill('SIGKILL');
    await exit;

    // Nothing ran the holder's clean-up: its directory stays, but its server died with it.
    assert.equal(await exists(dir), true);
    await waitFor(
      'the held server to die with its holder',
      async () => (serverPids.some(processAlive) ? undefined : true),
      15_000,
    );
    await query(mine.admin, 'select 1');

    const { removed } = await sandboxes.driver.sweepLeftovers();
    assert.deepEqual(removed, [held.id]);
    assert.equal(await exists(dir), false, 'the leftover directory is gone');

    // The sweeping process's own sandbox is untouched and still answers.
    assert.equal(await exists(mine.dataDir!), true);
    await query(mine.admin, 'select 1');
    await mine.destroy();
  });

  it('judges owners by incarnation, and leaves a directory being created alone', async () => {
    const fakeRoot = path.join(sandboxes.base, 'judged');
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
      if (owner)
        await writeFile(
          path.join(dir, 'owner.json'),
          JSON.stringify({ id, ...owner, port: null, major: 15, label: 'fake', createdAt: new Date().toISOString() }),
        );
    }
    const longAgo = new Date(Date.now() - 10 * 60_000);
    await utimes(path.join(fakeRoot, 'sbx-stale'), longAgo, longAgo);
    await utimes(
      path.join(fakeRoot, 'sbx-abandoned', 'owner.json'),
      new Date(Date.now() - 60 * 60_000),
      new Date(Date.now() - 60 * 60_000),
    );
    await mkdir(path.join(fakeRoot, 'unrelated'));

    const { removed } = await judge.sweepLeftovers();
    assert.deepEqual(removed.sort(), ['abandoned', 'earlier', 'stale']);
    assert.deepEqual(await readdir(fakeRoot).then((n) => n.sort()), [
      'sbx-current',
      'sbx-elsewhere',
      'sbx-fresh',
      'unrelated',
    ]);
  });
});

// The docker driver's container path runs against a real engine in test/docker/sandbox-docker.test.ts
// (npm run test:docker); here its spec and the choice of driver, which need no engine.
describe('docker sandboxes: container spec and choice of driver', () => {
  const owner = { host: 'worker-1', pid: 4242, start: 'boot/123' };
  const socket = { kind: 'socket' as const, hostDir: '/var/tmp/hindsight-sandboxes/dsbx-abc123/socket' };

  it('builds a locked-down container spec per major, with no network or only an internal one', () => {
    const spec = sandboxContainerSpec({
      major: 15,
      cpus: 1.5,
      memoryMb: 768,
      label: 'verify shop 20240101',
      id: 'abc123',
      owner,
      reach: socket,
    });
    assert.equal(spec.image, 'hindsight-sandbox-pg:15');
    assert.equal(
      sandboxContainerSpec({ major: 16, cpus: 1, memoryMb: 512, label: 'x', reach: socket }).image,
      'hindsight-sandbox-pg:16',
    );

    assert.equal(spec.hostConfig.NanoCpus, 1_500_000_000);
    assert.equal(spec.hostConfig.Memory, 768 * 1024 * 1024);
    assert.equal(spec.hostConfig.MemorySwap, spec.hostConfig.Memory, 'no swap beyond the memory limit');
    assert.deepEqual(spec.hostConfig.CapDrop, ['ALL']);
    assert.deepEqual(
      spec.hostConfig.CapAdd,
      [],
      'the image needs no capability: it runs as its own user from the start',
    );
    assert.ok(spec.hostConfig.SecurityOpt.includes('no-new-privileges:true'));
    assert.equal(spec.hostConfig.ReadonlyRootfs, true);
    assert.ok(spec.hostConfig.PidsLimit > 0);

    assert.equal(spec.hostConfig.NetworkMode, 'none', "on the engine's host: no network at all");
    assert.deepEqual(spec.hostConfig.Binds, [`${socket.hostDir}:/run/hindsight-sandbox:rw`]);
    assert.ok(spec.command.includes('listen_addresses='), 'no TCP listener');
    const networked = sandboxContainerSpec({
      major: 15,
      cpus: 1,
      memoryMb: 512,
      label: 'x',
      reach: { kind: 'network', network: 'hindsight-sandboxes' },
    });
    assert.equal(networked.hostConfig.NetworkMode, 'hindsight-sandboxes');
    assert.deepEqual(networked.hostConfig.Binds, []);
    assert.ok(networked.command.includes('listen_addresses=*'));
    assert.throws(
      () =>
        sandboxContainerSpec({
          major: 15,
          cpus: 1,
          memoryMb: 512,
          label: 'x',
          reach: { kind: 'network', network: 'bad name;' },
        }),
      /not a Docker network name/,
    );

    assert.equal(spec.name, 'hindsight-sbx-abc123');
    assert.equal(spec.labels[SANDBOX_LABEL], 'abc123');
    assert.equal(spec.labels['hindsight.sandbox.label'], 'verify shop 20240101');
    assert.equal(spec.labels['hindsight.owner.pid'], '4242');
    assert.equal(spec.labels['hindsight.owner.host'], 'worker-1');

    assert.ok(spec.password.length >= 24);
    assert.match(spec.env.HINDSIGHT_SANDBOX_VERIFIER!, /^SCRAM-SHA-256\$4096:/, 'only a verifier enters the container');
    for (const flag of ['fsync=off', 'full_page_writes=off', 'synchronous_commit=off'])
      assert.ok(spec.command.includes(flag), flag);
    assert.ok(
      !JSON.stringify(spec.env).includes(spec.password) &&
        !JSON.stringify({ labels: spec.labels, command: spec.command, name: spec.name }).includes(spec.password),
      'the password never enters the container',
    );

    const other = sandboxContainerSpec({
      major: 15,
      cpus: 1.5,
      memoryMb: 768,
      label: 'verify shop 20240101',
      reach: socket,
    });
    assert.notEqual(other.password, spec.password);
    assert.notEqual(other.id, spec.id);
  });

  it('rejects limits that cannot run a server', () => {
    const isBadInput = (error: unknown) => error instanceof HindsightError && error.kind === 'bad_input';
    const reach = { kind: 'socket' as const, hostDir: '/tmp/x' };
    assert.throws(() => sandboxContainerSpec({ major: 15, cpus: 0, memoryMb: 512, label: 'x', reach }), isBadInput);
    assert.throws(() => sandboxContainerSpec({ major: 15, cpus: 1, memoryMb: 100, label: 'x', reach }), isBadInput);
    assert.throws(() => sandboxContainerSpec({ major: 7.5, cpus: 1, memoryMb: 512, label: 'x', reach }), isBadInput);
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

      // Asked for by name, docker is taken without a look at the engine; auto falls back (test/unit/sandbox-driver-choice.test.ts).
      assert.equal((await createSandboxDriver({ preferred: 'docker', dockerSocket: socket })).name, 'docker');
      assert.equal(
        (await createSandboxDriver({ preferred: 'auto', dockerSocket: plainFile, root: path.join(dir, 'sbx') })).name,
        'process',
      );
    } finally {
      if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = savedDockerHost;
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says how to get testcontainers when the package is absent', async () => {
    const missing = Object.assign(
      new Error("Cannot find package 'testcontainers' imported from lib/sandbox/docker.ts"),
      { code: 'ERR_MODULE_NOT_FOUND' },
    );
    const driver = createDockerSandboxDriver({ load: () => Promise.reject(missing) });
    const saysInstall = (error: unknown) =>
      error instanceof HindsightError &&
      error.kind === 'bad_input' &&
      /install testcontainers to use the docker sandbox driver/.test(error.message);
    await assert.rejects(driver.create({ major: 15, label: 'x' }), saysInstall);
    await assert.rejects(driver.sweepLeftovers(), saysInstall);
  });
});
