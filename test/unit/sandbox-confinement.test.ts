import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan } from '../../lib/sandbox/confinement.ts';
import { canSwitchUser, sandboxUserIds } from '../../lib/sandbox/os-user.ts';

const run = {
  file: '/usr/lib/postgresql/15/bin/postgres',
  args: ['-D', '/sbx/data'],
  writable: ['/sbx/data', '/sbx/socket'],
  installDir: '/usr/lib/postgresql/15',
  onWorkerDeath: 'QUIT' as const,
};

describe('sandbox confinement command lines', () => {
  it('bwrap: the sandbox user first, then namespaces of its own, a read-only system and only its own directories writable', async () => {
    const [cmd, args] = (await buildPlan('bwrap')).command(run);
    const words = [cmd, ...args];
    const bwrapAt = words.indexOf('bwrap');
    assert.ok(bwrapAt >= 0);
    if (canSwitchUser()) {
      const { uid, gid } = await sandboxUserIds();
      assert.deepEqual(
        words.slice(0, 4),
        ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'],
        'bwrap never runs as root',
      );
    }
    assert.ok(words.slice(0, bwrapAt).includes('--no-new-privs'));
    for (const flag of [
      '--unshare-user',
      '--disable-userns',
      '--unshare-pid',
      '--unshare-net',
      '--unshare-ipc',
      '--die-with-parent',
      '--new-session',
    ])
      assert.ok(args.includes(flag), flag);
    const binds = words.flatMap((w, i) => (w === '--bind' ? [words[i + 1]] : []));
    assert.deepEqual(binds, ['/sbx/data', '/sbx/socket'], 'nothing else is writable');
    const roBinds = words.flatMap((w, i) => (w === '--ro-bind' || w === '--ro-bind-try' ? [words[i + 1]!] : []));
    assert.ok(!roBinds.includes('/'), "the host's root is not shown");
    const system = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
    for (const bound of roBinds)
      assert.ok(
        system.includes(bound) || bound.startsWith('/etc/'),
        `${bound} is not part of the read-only system view`,
      );
    assert.deepEqual(words.slice(-4), ['--', run.file, ...run.args]);
  });

  it('os-user: the sandbox user, no new privileges, and the server dies with the worker', async () => {
    const [cmd, args] = (await buildPlan(canSwitchUser() ? 'os-user' : 'none')).command(run);
    assert.equal(cmd, 'setpriv');
    assert.ok(args.includes('--no-new-privs'));
    assert.ok(args.includes('--pdeathsig=QUIT'));
    assert.deepEqual(args.slice(-4), ['--', run.file, ...run.args]);
    if (canSwitchUser()) assert.ok(args.some((a) => a.startsWith('--reuid=')));
  });
});
