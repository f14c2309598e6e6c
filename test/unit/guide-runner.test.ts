import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuideShell } from '../support/guide-runner.ts';

const block = (code: string) => ({ line: 1, code, fails: false });

describe('the shell a guide runs in', () => {
  let dir: string;
  let shell: GuideShell;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'guide-shell-'));
    await mkdir(path.join(dir, 'sub'));
    shell = new GuideShell(dir, { PATH: process.env.PATH ?? '/usr/bin:/bin', GIVEN: 'from the test' });
    await shell.start();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps the variables and the directory of one block for the next, as one terminal does', async () => {
    assert.equal((await shell.run(block('ID=$(echo 42)\nexport SHOWN=yes\ncd sub'))).code, 0);
    const next = await shell.run(
      block('echo "$ID $SHOWN $(basename "$PWD") $GIVEN"\nbash -c \'echo "child sees $SHOWN"\''),
    );
    assert.deepEqual(next, { code: 0, output: '42 yes sub from the test\nchild sees yes\n' });
    await shell.run(block(`cd '${dir}'`));
  });

  it('stops a block at its first failing command, with that exit code, and shows what it wrote to stderr', async () => {
    const failed = await shell.run(block('echo before\necho oops >&2\n(exit 3)\necho after'));
    assert.deepEqual(failed, { code: 3, output: 'before\noops\n' });
  });

  it('fails a pipeline whose first command fails', async () => {
    assert.equal((await shell.run(block('false | cat'))).code, 1);
  });

  it('still keeps what the failed block had set before it failed', async () => {
    await shell.run(block('LEFT=here\nfalse\nLEFT=never'));
    assert.equal((await shell.run(block('echo "$LEFT"'))).output, 'here\n');
  });

  it('runs a block that keeps running until ready, leaves the next block its own state, and stops it all on Ctrl-C', async () => {
    await shell.run(block('MARK=kept'));
    const pidFile = path.join(dir, 'sleeper.pid');
    const serve = {
      ...block(
        `MARK=overwritten\nbash -c "echo \\$\\$ > '${pidFile}'; printf 'starting\\n\\033[32mready\\033[39m\\n'; exec sleep 300"`,
      ),
      keepsRunning: true as const,
    };
    const started = await shell.startRunning(serve, (output) => output.includes('ready'));
    assert.deepEqual(started, { code: 0, output: 'starting\nready\n' }, 'ready, its colours stripped');
    const sleeper = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim());
    assert.ok(sleeper > 0 && alive(sleeper), 'the program it started runs on');
    await shell.interrupt();
    assert.equal(alive(sleeper), false, 'Ctrl-C reached the whole group');
    assert.equal((await shell.run(block('echo "$MARK"'))).output, 'kept\n');
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
