/**
 * The lock `npm start` holds on its data directory: a second start is refused while the first runs
 * (naming its pid), waits while it stops, and takes over the lock of one that is gone, or of a later
 * process that was given the dead one's pid. Real processes stand for the holders.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LOCK_FILE, acquireDataLock, type LockRecord } from '../../lib/supervisor/data-lock.ts';
import { processStartTime } from '../../lib/supervisor/process-alive.ts';
import { useTempDir } from '../support/temp-dir.ts';

async function freshDir(root: string, name: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir);
  return dir;
}

const readRecord = async (dir: string): Promise<LockRecord> =>
  JSON.parse(await readFile(path.join(dir, LOCK_FILE), 'utf8')) as LockRecord;

const writeRecord = (dir: string, record: unknown) => writeFile(path.join(dir, LOCK_FILE), JSON.stringify(record));

/** A process that has ended: its pid names no one (until the kernel gives it again). */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

function sleeper(): ChildProcess {
  return spawn('sleep', ['60'], { stdio: 'ignore' });
}

describe('the data directory lock', () => {
  const root = useTempDir('hindsight-lock-');

  it('is taken on a free directory, marked stopping, and released', async () => {
    const dir = await freshDir(root(), 'free');
    const lock = await acquireDataLock(dir);
    const record = await readRecord(dir);
    assert.equal(record.pid, process.pid);
    assert.equal(record.state, 'running');
    assert.equal(record.startTime, await processStartTime(process.pid));
    await lock.markStopping();
    assert.equal((await readRecord(dir)).state, 'stopping');
    await lock.release();
    await assert.rejects(readFile(path.join(dir, LOCK_FILE)), { code: 'ENOENT' });
  });

  it('refuses a second start while the first runs, naming its pid', async () => {
    const dir = await freshDir(root(), 'running');
    const holder = sleeper();
    try {
      await writeRecord(dir, { pid: holder.pid, startTime: await processStartTime(holder.pid!), state: 'running' });
      await assert.rejects(acquireDataLock(dir), {
        message: new RegExp(`already running on ${dir} \\(pid ${holder.pid}\\): stop it first`),
      });
      assert.equal((await readRecord(dir)).pid, holder.pid, 'the holder keeps its lock');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over the lock of a start that is gone, saying whose', async () => {
    const dir = await freshDir(root(), 'stale');
    const gone = await deadPid();
    await writeRecord(dir, { pid: gone, state: 'running' });
    const takenFrom: number[] = [];
    const lock = await acquireDataLock(dir, { takenOver: (holder) => takenFrom.push(holder.pid) });
    assert.deepEqual(takenFrom, [gone]);
    assert.equal((await readRecord(dir)).pid, process.pid);
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to a later process', async () => {
    const dir = await freshDir(root(), 'reused');
    // This very pid, alive, but started at another time: the holder it names is gone.
    await writeRecord(dir, { pid: process.pid, startTime: '1', state: 'running' });
    const takenFrom: number[] = [];
    const lock = await acquireDataLock(dir, { takenOver: (holder) => takenFrom.push(holder.pid) });
    assert.deepEqual(takenFrom, [process.pid]);
    await lock.release();
  });

  it('takes over a lock it cannot read', async () => {
    const dir = await freshDir(root(), 'garbled');
    await writeFile(path.join(dir, LOCK_FILE), 'not json');
    const lock = await acquireDataLock(dir);
    assert.equal((await readRecord(dir)).pid, process.pid);
    await lock.release();
  });

  it('waits for a start that is stopping, says so once, and takes the lock when it has gone', async () => {
    const dir = await freshDir(root(), 'stopping');
    const holder = sleeper();
    await writeRecord(dir, { pid: holder.pid, startTime: await processStartTime(holder.pid!), state: 'stopping' });
    const waitedFor: number[] = [];
    const acquired = acquireDataLock(dir, { pollMs: 20, waiting: (h) => waitedFor.push(h.pid) });
    let done = false;
    void acquired.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(done, false, 'it waits while the holder runs');
    holder.kill('SIGKILL');
    const lock = await acquired;
    assert.deepEqual(waitedFor, [holder.pid]);
    assert.equal((await readRecord(dir)).pid, process.pid);
    await lock.release();
  });

  it('refuses, naming the pid, when a stopping start does not end in time', async () => {
    const dir = await freshDir(root(), 'slow-stop');
    const holder = sleeper();
    try {
      await writeRecord(dir, { pid: holder.pid, startTime: await processStartTime(holder.pid!), state: 'stopping' });
      await assert.rejects(acquireDataLock(dir, { pollMs: 20, waitMs: 200 }), {
        message: new RegExp(`\\(pid ${holder.pid}\\)`),
      });
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('leaves alone a lock that is no longer its own on release', async () => {
    const dir = await freshDir(root(), 'replaced');
    const lock = await acquireDataLock(dir);
    await writeRecord(dir, { pid: 1, state: 'running' });
    await lock.release();
    assert.equal((await readRecord(dir)).pid, 1);
  });
});
