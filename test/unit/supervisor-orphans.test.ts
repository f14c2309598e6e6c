/**
 * The children a killed start leaves behind: the next start stops those in the list it left (one that
 * ends on SIGTERM, one that ignores it and is killed), leaves alone a process whose pid is listed
 * with another start time, and removes the list. Real processes stand for the children.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../lib/logger.ts';
import { CHILDREN_FILE, ChildRegistry, sweepOrphans } from '../../lib/supervisor/orphans.ts';
import { processAlive } from '../../lib/supervisor/process-alive.ts';
import { useTempDir } from '../support/temp-dir.ts';

const log = createLogger('test-orphans');

function started(args: string[]): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', ...args], { stdio: 'ignore' });
  // Once sh has set its traps: it says so by being there for a moment.
  return new Promise((resolve) => setTimeout(() => resolve(child), 200));
}

const ended = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.signalCode)
    : new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));

describe('the children of a killed start', () => {
  const dir = useTempDir('hindsight-orphans-');

  it('are listed as they start and forgotten as they end', async () => {
    const registry = new ChildRegistry(dir());
    const a = await started(['sleep 60']);
    const b = await started(['sleep 60']);
    await registry.add('temporal', a.pid!);
    await registry.add('worker', b.pid!);
    const listed = JSON.parse(await readFile(path.join(dir(), CHILDREN_FILE), 'utf8')) as Array<{ name: string }>;
    assert.deepEqual(listed.map((e) => e.name).sort(), ['temporal', 'worker']);
    a.kill('SIGKILL');
    await ended(a);
    await registry.remove(a.pid!);
    const after = JSON.parse(await readFile(path.join(dir(), CHILDREN_FILE), 'utf8')) as Array<{ name: string }>;
    assert.deepEqual(
      after.map((e) => e.name),
      ['worker'],
    );
    await registry.clear();
    await assert.rejects(readFile(path.join(dir(), CHILDREN_FILE)), { code: 'ENOENT' });
    b.kill('SIGKILL');
  });

  it('are stopped by the next start: SIGTERM, then SIGKILL for one that ignores it', async () => {
    const registry = new ChildRegistry(dir());
    const polite = await started(['sleep 60']);
    const stubborn = await started(['trap "" TERM; while :; do sleep 0.1; done']);
    await registry.add('worker', polite.pid!);
    await registry.add('temporal', stubborn.pid!);
    const swept = await sweepOrphans(dir(), log, 1_000);
    assert.deepEqual(swept.sort(), ['temporal', 'worker']);
    assert.equal(await ended(polite), 'SIGTERM');
    assert.equal(await ended(stubborn), 'SIGKILL');
    await assert.rejects(readFile(path.join(dir(), CHILDREN_FILE)), { code: 'ENOENT' });
  });

  it('leaves alone a process that was given a listed pid later', async () => {
    const other = await started(['sleep 60']);
    await writeFile(
      path.join(dir(), CHILDREN_FILE),
      JSON.stringify([{ name: 'temporal', pid: other.pid, startTime: '1' }]),
    );
    assert.deepEqual(await sweepOrphans(dir(), log, 1_000), []);
    assert.equal(await processAlive(other.pid!), true, 'the later process runs on');
    other.kill('SIGKILL');
    await ended(other);
  });

  it('finds nothing to stop when no list was left, or an unreadable one', async () => {
    assert.deepEqual(await sweepOrphans(dir(), log), []);
    await writeFile(path.join(dir(), CHILDREN_FILE), 'not json');
    assert.deepEqual(await sweepOrphans(dir(), log), []);
    await assert.rejects(readFile(path.join(dir(), CHILDREN_FILE)), { code: 'ENOENT' });
  });
});
