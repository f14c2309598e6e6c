/**
 * What a docker sandbox's own superuser (the worst a restored dump could become) finds inside its
 * container, on a real engine: another user than root, no capabilities, no new privileges, a
 * read-only root, the limits asked for, and no way out (no network, or only an internal one). Plus
 * the refusals an operator meets (no image, an open network) and the sweep after a killed worker.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import type { Sandbox } from '../../lib/sandbox/contract.ts';
import { createDockerSandboxDriver, type DockerSandboxOptions } from '../../lib/sandbox/docker.ts';
import { TEST_PREFIX, containersLabelled, docker, ensureSandboxImages, repoRoot, runInSandbox } from './support.ts';

const MEMORY_MB = 640;
const namePrefix = `${TEST_PREFIX}-sbx`;

/** From /proc/self/status of a program the server runs: its user, capability sets and no_new_privs flag. */
async function processFacts(sandbox: Sandbox): Promise<Record<string, string>> {
  const status = await runInSandbox(
    sandbox.admin,
    'grep -E "^(Uid|CapEff|CapPrm|CapBnd|NoNewPrivs):" /proc/self/status',
  );
  return Object.fromEntries(
    status.split('\n').map((line) => line.split(':').map((part) => part.trim()) as [string, string]),
  );
}

/** A TCP connection attempt from inside the sandbox (perl is in every Debian base): `connected` or why not. */
const tryConnect = (sandbox: Sandbox, address: string) =>
  runInSandbox(
    sandbox.admin,
    `perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(PeerAddr => "${address}", Timeout => 3); print $s ? "connected" : "refused: $@"'`,
  );

describe('a docker sandbox, seen from inside by its own superuser', () => {
  let root: string;
  const options = (extra: Partial<DockerSandboxOptions> = {}) => ({
    root,
    namePrefix,
    memoryMb: MEMORY_MB,
    cpus: 0.5,
    ...extra,
  });
  const networks: string[] = [];

  before(async () => {
    await ensureSandboxImages();
    root = await mkdtemp(path.join(tmpdir(), 'hindsight-dsbx-'));
  });
  after(async () => {
    for (const network of networks) await docker('network', 'rm', network).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it("on the engine's host: an unprivileged user, no capabilities, read-only root, its limits, no network at all", async () => {
    const sandbox = await createDockerSandboxDriver(options()).create({ major: 15, label: 'confinement' });
    try {
      assert.equal(sandbox.driver, 'docker');
      assert.equal(sandbox.major, 15);
      const facts = await processFacts(sandbox);
      assert.match(facts.Uid ?? '', /^61432\s/, "the server runs as the image's own user, not root");
      for (const set of ['CapEff', 'CapPrm', 'CapBnd'])
        assert.equal(facts[set], '0000000000000000', `${set}: no capability, not even in the bounding set`);
      assert.equal(facts.NoNewPrivs, '1');
      assert.match(
        await runInSandbox(sandbox.admin, 'touch /etc/hindsight-probe /opt/postgresql/bin/probe'),
        /Read-only file system/,
      );
      assert.deepEqual((await runInSandbox(sandbox.admin, 'ls /sys/class/net')).split('\n'), ['lo'], 'loopback only');
      assert.equal(
        await runInSandbox(sandbox.admin, 'tr "\\0" "\\n" </proc/1/environ | grep -c HINDSIGHT_SANDBOX_VERIFIER'),
        '0',
        'the server never saw the verifier',
      );
      assert.match(
        await runInSandbox(sandbox.admin, `ls ${root} ${process.cwd()}`),
        /No such file or directory/,
        "the worker's files are not there",
      );
      assert.match(
        await tryConnect(sandbox, '172.17.0.1:2375'),
        /^refused: .*(unreachable|Invalid argument)/i,
        "not even the engine's bridge",
      );
      const memory = await runInSandbox(
        sandbox.admin,
        'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
      );
      assert.equal(Number(memory), MEMORY_MB * 1024 * 1024);
      const pids = await runInSandbox(
        sandbox.admin,
        'cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max',
      );
      assert.equal(pids, '512');
      const [container] = await containersLabelled(`hindsight.sandbox=${sandbox.id}`);
      const hostConfig = JSON.parse(await docker('inspect', '--format', '{{json .HostConfig}}', container!)) as Record<
        string,
        unknown
      >;
      assert.equal(hostConfig.NetworkMode, 'none');
      assert.equal(hostConfig.Privileged, false);
      assert.deepEqual(hostConfig.PortBindings ?? {}, {}, 'no published port');
      assert.equal(hostConfig.NanoCpus, 500_000_000);
      assert.equal(
        JSON.stringify(await docker('inspect', '--format', '{{json .Config.Env}}', container!)).includes(
          sandbox.admin.password!,
        ),
        false,
        "the password is not in the container's configuration",
      );
    } finally {
      await sandbox.destroy();
    }
  });

  it('on an internal Docker network: reachable over TCP with its password, still no way out; an open network is refused', async () => {
    const internal = `${TEST_PREFIX}-internal-${randomBytes(3).toString('hex')}`;
    const open = `${TEST_PREFIX}-open-${randomBytes(3).toString('hex')}`;
    networks.push(internal, open);
    await docker('network', 'create', '--internal', internal);
    await docker('network', 'create', open);
    const sandbox = await createDockerSandboxDriver(options({ network: internal })).create({
      major: 17,
      label: 'internal network',
    });
    try {
      assert.match(sandbox.admin.host, /^\d+\.\d+\.\d+\.\d+$/, 'reached at its address on that network');
      assert.match(sandbox.confinementDetail, new RegExp(`only the internal Docker network ${internal}`));
      assert.deepEqual((await runInSandbox(sandbox.admin, 'ls /sys/class/net')).split('\n').sort(), ['eth0', 'lo']);
      assert.match(
        await tryConnect(sandbox, '1.1.1.1:443'),
        /^refused: .*(unreachable|timeout)/i,
        'nothing beyond the internal network answers',
      );
      const [container] = await containersLabelled(`hindsight.sandbox=${sandbox.id}`);
      const networksOf = JSON.parse(
        await docker('inspect', '--format', '{{json .NetworkSettings.Networks}}', container!),
      ) as Record<string, unknown>;
      assert.deepEqual(Object.keys(networksOf), [internal], 'attached to that network and no other');
    } finally {
      await sandbox.destroy();
    }
    const refusal = (pattern: RegExp) => (error: unknown) =>
      error instanceof HindsightError && error.kind === 'bad_input' && pattern.test(error.message);
    await assert.rejects(
      createDockerSandboxDriver(options({ network: open })).create({ major: 17, label: 'open' }),
      refusal(/is not internal.*docker network create --internal/),
    );
    await assert.rejects(
      createDockerSandboxDriver(options({ network: `${TEST_PREFIX}-missing` })).create({ major: 17, label: 'missing' }),
      refusal(/does not exist/),
    );
    assert.deepEqual(await containersLabelled(`hindsight.sandbox.label=open`), [], 'a refusal leaves no container');
  });

  it('a source major without an image names the script that builds them', async () => {
    await assert.rejects(
      createDockerSandboxDriver(options()).create({ major: 19, label: 'future' }),
      (error: unknown) =>
        error instanceof HindsightError &&
        error.kind === 'not_found' &&
        /hindsight-sandbox-pg:19.*scripts\/docker\/sandbox-images\.sh/.test(error.message),
    );
  });

  it('the sandbox of a killed worker is swept with its socket directory; a live one is left alone', async () => {
    const driver = createDockerSandboxDriver(options());
    const live = await driver.create({ major: 16, label: 'live' });
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'test/support/docker-sandbox-holder.ts'), root, namePrefix],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: holder.stdout }).once('line', resolve);
        holder.once('exit', (code) => reject(new Error(`the holder exited (${code})`)));
      });
      const held = JSON.parse(line) as { id: string; socketDir: string };
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
      assert.equal(
        (await containersLabelled(`hindsight.sandbox=${held.id}`)).length,
        1,
        'the killed worker left its container',
      );
      const { removed } = await driver.sweepLeftovers();
      assert.ok(removed.includes(held.id), `swept: ${removed.join(', ')}`);
      assert.ok(!removed.includes(live.id), 'the live sandbox stays');
      assert.deepEqual(await containersLabelled(`hindsight.sandbox=${held.id}`), []);
      assert.deepEqual((await readdir(root)).sort(), [`dsbx-${live.id}`], 'its socket directory went with it');
      assert.equal(await runInSandbox(live.admin, 'echo alive'), 'alive');
    } finally {
      if (holder.exitCode === null) holder.kill('SIGKILL');
      await live.destroy();
    }
  });
});
