import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type FetchableWal, WalPrefetcher } from '../../lib/pitr/prefetch.ts';
import { segmentName } from '../../lib/wal/lsn.ts';

const SEG = 16 * 1024 * 1024;
const seg = (tli: number, n: number) => segmentName(tli, BigInt(n), SEG);

/**
 * An archive in memory: every file it holds decodes to its own name, and a decode can be held back
 * until released, to see what runs while a fetch is slow.
 */
class FakeArchive {
  readonly files = new Map<string, FetchableWal['kind']>();
  readonly decoded: string[] = [];
  readonly aborted: string[] = [];
  /** Files whose decode waits for release(). */
  readonly held = new Set<string>();
  private readonly waiting: Array<() => void> = [];

  lookup = async (file: string): Promise<FetchableWal | undefined> => {
    const kind = this.files.get(file);
    if (!kind) return undefined;
    return {
      kind,
      decode: async (destination: string, signal: AbortSignal) => {
        this.decoded.push(file);
        if (this.held.has(file)) await new Promise<void>((resolve) => this.waiting.push(resolve));
        if (signal.aborted) {
          this.aborted.push(file);
          throw new Error(`${file}: aborted`);
        }
        await writeFile(destination, file);
      },
    };
  };

  release(): void {
    this.held.clear();
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

let spoolDir: string;
before(async () => {
  spoolDir = await mkdtemp(path.join(os.tmpdir(), 'hs-prefetch-test-'));
});
after(() => rm(spoolDir, { recursive: true, force: true }));

const prefetcher = (archive: FakeArchive, depth = 4, maxBytes = 8 * SEG) =>
  new WalPrefetcher({ spoolDir, segmentSize: SEG, depth, maxBytes, lookup: archive.lookup });

describe('WAL read-ahead for restore_command: order and bound', () => {
  it('reads the next segments ahead in order and serves them from the spool without fetching again', async () => {
    const archive = new FakeArchive();
    for (let n = 1; n <= 10; n++) archive.files.set(seg(1, n), 'segment');
    const p = prefetcher(archive, 3);
    const first = await p.take(seg(1, 1));
    assert.equal(await readFile(first!.path, 'utf8'), seg(1, 1));
    assert.deepEqual(p.pending(), [seg(1, 2), seg(1, 3), seg(1, 4)]);
    await settle();
    for (let n = 2; n <= 6; n++) {
      const got = await p.take(seg(1, n));
      assert.equal(await readFile(got!.path, 'utf8'), seg(1, n), 'each request gets its own segment');
      await rm(got!.path);
    }
    assert.deepEqual(
      archive.decoded.filter((f) => f === seg(1, 3)),
      [seg(1, 3)],
      'a segment read ahead is decoded once',
    );
    assert.equal(p.stats.servedFromSpool, 5);
    await p.close();
    assert.deepEqual(await readdir(spoolDir), [first!.path.split('/').pop()], 'close removes what was read ahead');
    await rm(first!.path);
  });

  it('keeps no more segments than the byte bound allows', async () => {
    const archive = new FakeArchive();
    for (let n = 1; n <= 20; n++) archive.files.set(seg(1, n), 'segment');
    const p = prefetcher(archive, 8, 2 * SEG + 1);
    assert.equal(p.window, 2);
    await p.take(seg(1, 1)).then((got) => rm(got!.path));
    await settle();
    assert.deepEqual(p.pending(), [seg(1, 2), seg(1, 3)]);
    assert.equal((await readdir(spoolDir)).length, 2);
    await p.close();
    assert.deepEqual(await readdir(spoolDir), []);
  });
});

describe('WAL read-ahead for restore_command: the end of the archive and timeline switches', () => {
  it('answers a segment past the end of the archive at once, while read-ahead is still fetching', async () => {
    const archive = new FakeArchive();
    for (let n = 1; n <= 3; n++) archive.files.set(seg(1, n), 'segment');
    const p = prefetcher(archive, 4);
    for (let n = 2; n <= 5; n++) archive.held.add(seg(1, n));
    await p.take(seg(1, 1)).then((got) => rm(got!.path));
    await settle();
    const missing = await Promise.race([
      p.take(seg(1, 9)),
      new Promise((resolve) => setTimeout(() => resolve('waited'), 1000)),
    ]);
    assert.equal(missing, undefined, 'not found, without waiting on the held read-ahead');
    assert.ok(!p.pending().includes(seg(1, 5)), 'an absence read ahead is not kept');
    archive.release();
    await p.close();
    // Added later (a restore to `latest` while the archiver works): found when asked for.
    archive.files.set(seg(1, 4), 'segment');
    const late = prefetcher(archive, 4);
    const got = await late.take(seg(1, 4));
    assert.ok(got, 'a segment archived after the read-ahead missed it is found when asked for');
    await rm(got.path);
    await late.close();
  });

  it('drops the old timeline read-ahead when recovery follows a timeline switch, and never reads partials ahead', async () => {
    const archive = new FakeArchive();
    for (let n = 1; n <= 8; n++) archive.files.set(seg(1, n), 'segment');
    archive.files.set('00000002.history', 'history');
    for (let n = 5; n <= 8; n++) archive.files.set(seg(2, n), 'segment');
    archive.files.set(seg(2, 9), 'partial');
    const p = prefetcher(archive, 4);
    for (let n = 5; n <= 8; n++) archive.held.add(seg(1, n));
    await rm((await p.take(seg(1, 4)))!.path);
    await settle();
    assert.deepEqual(p.pending(), [seg(1, 5), seg(1, 6), seg(1, 7), seg(1, 8)]);
    const history = await p.take('00000002.history');
    assert.equal(history?.kind, 'history');
    await rm(history!.path);
    assert.equal(p.pending().length, 4, 'a history file does not move the read-ahead');
    assert.equal(await p.take(seg(3, 5)), undefined, 'a timeline the archive lacks is not found, read-ahead kept');
    assert.equal(p.pending().length, 4);
    await rm((await p.take(seg(2, 5)))!.path);
    // The partial (9) was looked at and let go: it is not read ahead.
    assert.deepEqual(p.pending(), [seg(2, 6), seg(2, 7), seg(2, 8)]);
    archive.release();
    await settle();
    assert.ok(archive.aborted.includes(seg(1, 6)), 'the old timeline read-ahead was cancelled');
    assert.ok(!archive.decoded.includes(seg(2, 9)), 'a partial segment is decoded only when asked for');
    assert.ok(!p.pending().includes(seg(2, 9)));
    const partial = await p.take(seg(2, 9));
    assert.equal(partial?.kind, 'partial');
    await rm(partial!.path);
    await p.close();
    assert.deepEqual(await readdir(spoolDir), [], 'cancelled and leftover read-ahead leaves nothing behind');
  });
});
