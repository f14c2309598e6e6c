import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OUTPUT_TAIL_BYTES, groupAlive, runHookScript } from '../../lib/hooks/run-script.ts';
import { hookEnvironment, type HookContext } from '../../lib/hooks/variables.ts';

const env = { PATH: '/usr/bin:/bin' };

describe('hook script runner', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hook-unit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('streams lines as they come and keeps exactly the last 64 KiB of a long output', async () => {
    const lines: string[] = [];
    // 200,000 numbered lines: about 1.3 MB.
    const result = await runHookScript({
      script: 'seq 1 200000; echo last >&2; exit 7',
      env,
      cwd: dir,
      timeoutSeconds: 30,
      onLine: (_s, l) => lines.push(l),
    });
    assert.equal(result.exitCode, 7);
    assert.equal(result.ok, false);
    assert.equal(lines.length, 200001);
    assert.equal(lines[199999], '200000');
    assert.equal(result.outputTruncated, true);
    assert.ok(Buffer.byteLength(result.outputTail) <= OUTPUT_TAIL_BYTES);
    assert.ok(Buffer.byteLength(result.outputTail) > OUTPUT_TAIL_BYTES - 16);
    assert.ok(result.outputTail.endsWith('199999\n200000\nlast\n'));
  });

  it('passes exactly the environment given, nothing of its own process', async () => {
    process.env.HOOK_UNIT_SECRET = 'must-not-leak';
    try {
      const result = await runHookScript({ script: 'env', env: { ...env, ONLY: 'this' }, cwd: dir, timeoutSeconds: 5 });
      const names = result.outputTail
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0])
        .sort();
      assert.ok(!result.outputTail.includes('must-not-leak'));
      assert.deepEqual(
        names.filter((n) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(n!)),
        ['ONLY', 'PATH'],
      );
    } finally {
      delete process.env.HOOK_UNIT_SECRET;
    }
  });

  it('ends processes a script leaves behind in its group, even ones that ignore SIGTERM', async () => {
    const pidFile = path.join(dir, 'bg.pid');
    const result = await runHookScript({
      script: `(trap '' TERM; echo $$ > ${pidFile}.ready; exec sleep 300) >/dev/null 2>&1 &\necho $! > ${pidFile}\nwhile [ ! -s ${pidFile}.ready ]; do sleep 0.05; done\nexit 0`,
      env,
      cwd: dir,
      timeoutSeconds: 5,
      killGraceMs: 500,
    });
    assert.equal(result.ok, true);
    assert.ok(
      result.durationMs >= 500,
      `SIGTERM was ignored, so SIGKILL followed after the grace period (${result.durationMs} ms)`,
    );
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0);
    assert.equal(groupAlive(result.pid), false, 'the group is gone when the run returns');
    let state = 'gone';
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
    } catch {
      /* no such process */
    }
    assert.ok(state === 'gone' || state === 'Z', `the left-behind sleep (pid ${pid}) is ${state}`);
  });

  it('a timeout kills the group and says so in the output', async () => {
    const started = Date.now();
    const result = await runHookScript({
      script: 'echo before; sleep 300',
      env,
      cwd: dir,
      timeoutSeconds: 1,
      killGraceMs: 500,
    });
    assert.equal(result.timedOut, true);
    assert.equal(result.ok, false);
    assert.ok(Date.now() - started < 4000);
    assert.match(
      result.outputTail,
      /^before\n\n\[hindsight\] the script ran longer than 1 s: its process group was sent SIGTERM/,
    );
    assert.equal(groupAlive(result.pid), false);
  });

  it('a hook whose worker dies is still killed after its timeout', async () => {
    const pidFile = path.join(dir, 'orphan.pid');
    const runner = path.join(dir, 'runner.mts');
    await writeFile(
      runner,
      `import { runHookScript } from ${JSON.stringify(path.resolve('lib/hooks/run-script.ts'))};
await runHookScript({ script: 'sleep 600 & echo $! > ${pidFile}; wait', env: { PATH: '/usr/bin:/bin' }, cwd: ${JSON.stringify(dir)}, timeoutSeconds: 1, killGraceMs: 500 });\n`,
    );
    const worker = spawn(process.execPath, [runner], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
      assert.ok(Date.now() < deadline, 'the hook started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const sleepPid = Number(readFileSync(pidFile, 'utf8'));
    worker.kill('SIGKILL');
    const state = () => {
      try {
        const stat = readFileSync(`/proc/${sleepPid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
      } catch {
        return 'gone';
      }
    };
    // The worker is gone; its hook keeps running until the backstop's timeout (1 + 1 + 2 s).
    await new Promise((r) => setTimeout(r, 500));
    assert.notEqual(state(), 'gone', 'the orphaned hook outlives its worker at first');
    while (state() !== 'gone' && state() !== 'Z') {
      assert.ok(Date.now() < deadline, `the orphaned sleep (pid ${sleepPid}) was killed by the backstop`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('gives each kind only the variables documented for it', () => {
    const context: HookContext = {
      kind: 'pre_backup',
      scope: 'database',
      workflowId: 'backup/shop/x',
      database: { name: 'shop', host: 'db', port: 5432, dbname: 'shop', user: 'backup' },
      backup: { id: 'b1', storages: ['local'], sizeBytes: 10, sha256: 'ab', status: 'running' },
    };
    const pre = hookEnvironment(context, { home: '/h', tmpdir: '/t' });
    assert.equal(pre.HINDSIGHT_BACKUP_ID, 'b1');
    assert.equal(pre.HINDSIGHT_BACKUP_SIZE, undefined, 'a pre hook has no file to describe yet');
    assert.equal(pre.HINDSIGHT_BACKUP_STATUS, undefined);
    const post = hookEnvironment({ ...context, kind: 'post_backup' }, { home: '/h', tmpdir: '/t' });
    assert.equal(post.HINDSIGHT_BACKUP_SIZE, '10');
    assert.equal(post.HINDSIGHT_BACKUP_SHA256, 'ab');
    assert.equal(post.HINDSIGHT_RESTORE_TARGET, undefined);
  });
});
