/**
 * The parallel dump's spool and tar: which files count as finished (a real child process holding
 * one open, seen through /proc), the order they go into the tar, and the tar read back by the
 * restore's extractor, which refuses what pg_dump's directory format never holds.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp as makeTemp, open, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { waitForExit } from '../../lib/backup/child-process.ts';
import { filesReady, openPaths, processTree, readSpool, TOC_FILE } from '../../lib/backup/spool-files.ts';
import { spoolTar } from '../../lib/backup/spool-tar.ts';
import { TarExtractor } from '../../lib/backup/tar-extract.ts';
import { parseTarHeader, tarHeader, tarPadding, tarTrailer } from '../../lib/backup/tar-format.ts';

const linux = process.platform === 'linux';

/** Every directory a case makes, removed once the file is done. */
const made: string[] = [];
async function mkdtemp(prefix: string): Promise<string> {
  const dir = await makeTemp(prefix);
  made.push(dir);
  return dir;
}
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** A hand-made tar of `entries`, for what the writer never produces. */
function tarOf(entries: Array<[string, Buffer]>): Buffer {
  const parts = entries.flatMap(([name, data]) => [tarHeader(name, data.length, 0), data, tarPadding(data.length)]);
  return Buffer.concat([...parts, tarTrailer()]);
}

async function extract(tar: Buffer): Promise<{ dir: string; names: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hindsight-tar-test-'));
  const extractor = new TarExtractor(dir);
  await pipeline(Readable.from([tar.subarray(0, 700), tar.subarray(700)]), extractor);
  return { dir, names: extractor.names };
}

describe('parallel dump spool', () => {
  it('orders finished data files by name and holds toc.dat back until pg_dump has exited', () => {
    const dir = '/spool';
    const listed = ['toc.dat', '3012.dat.zst', '3010.dat.zst', '3011.dat.zst'];
    const open = new Set(['/spool/3011.dat.zst', '/spool/toc.dat']);
    assert.deepEqual(filesReady(dir, { listed, open, finished: false }), ['3010.dat.zst', '3012.dat.zst']);
    assert.deepEqual(filesReady(dir, { listed, open: undefined, finished: false }), [], 'unknown: nothing is finished');
    assert.deepEqual(filesReady(dir, { listed, open, finished: true }), [
      '3010.dat.zst',
      '3011.dat.zst',
      '3012.dat.zst',
      TOC_FILE,
    ]);
  });

  it(
    'sees a file held open by a child process as unfinished, and finished once the child exits',
    { skip: !linux && 'needs /proc' },
    async () => {
      const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hindsight-spool-test-')));
      const held = path.join(dir, '4001.dat');
      await writeFile(path.join(dir, '4000.dat'), 'done');
      const handle = await open(held, 'w');
      // A shell whose child holds the file as its standard output: a process tree, as pg_dump's jobs are.
      const child = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: ['ignore', handle.fd, 'ignore'] });
      await handle.close();
      try {
        const tree = await processTree(child.pid!);
        assert.ok(tree.length >= 1 && tree[0] === child.pid);
        const openNow = await openPaths(tree);
        assert.ok(openNow?.has(held), 'the child holds the file');
        const state = await readSpool(dir, child.pid, false);
        assert.deepEqual(filesReady(dir, state), ['4000.dat']);
      } finally {
        for (const pid of (await processTree(child.pid!)).reverse()) process.kill(pid, 'SIGKILL');
        await waitForExit(child);
      }
      const after = await readSpool(dir, undefined, true);
      assert.deepEqual(filesReady(dir, after), ['4000.dat', '4001.dat']);
    },
  );

  it('streams the spool as a tar, toc.dat last, deleting each file once sent; the extractor gives the files back', async () => {
    const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hindsight-spool-test-')));
    const files: Record<string, Buffer> = {
      'toc.dat': Buffer.from('PGDMP table of contents'),
      '3010.dat.gz': Buffer.alloc(1500, 7),
      '3009.dat.gz': Buffer.alloc(512, 1),
      'blobs.toc': Buffer.alloc(0),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(dir, name), data);
    const tar = await collect(spoolTar({ dir, pid: undefined, exited: Promise.resolve() }));
    assert.deepEqual(await readdir(dir), [], 'every file is deleted once sent');
    const { dir: out, names } = await extract(tar);
    assert.deepEqual(names, ['3009.dat.gz', '3010.dat.gz', 'blobs.toc', 'toc.dat']);
    for (const [name, data] of Object.entries(files)) assert.deepEqual(await readFile(path.join(out, name)), data);
  });

  it('fails the tar with pg_dump failure instead of ending it', async () => {
    const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hindsight-spool-test-')));
    await writeFile(path.join(dir, 'toc.dat'), 'x');
    await assert.rejects(
      collect(spoolTar({ dir, pid: undefined, exited: Promise.reject(new Error('pg_dump exited with code 1')) })),
      /pg_dump exited with code 1/,
    );
  });

  it('writes sizes past ustar octal in base-256 and reads them back', () => {
    const size = 9 * 1024 ** 3;
    assert.deepEqual(parseTarHeader(tarHeader('3000.dat.zst', size, 0)), { name: '3000.dat.zst', size });
  });

  it('refuses names that are not plain, links, duplicates, a missing toc.dat and a cut-off archive', async () => {
    assert.throws(() => tarHeader('../etc/passwd', 1, 0), /not a plain file name/);
    const link = tarHeader('toc.dat', 0, 0);
    link[156] = 0x32; // '2': a symbolic link
    link.write('        ', 148, 8, 'latin1');
    let sum = 0;
    for (const byte of link) sum += byte;
    link.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    await assert.rejects(extract(Buffer.concat([link, tarTrailer()])), /not a regular file/);
    const twice: Array<[string, Buffer]> = [
      ['1.dat', Buffer.from('a')],
      ['1.dat', Buffer.from('b')],
    ];
    await assert.rejects(extract(tarOf(twice)), /appears twice/);
    await assert.rejects(extract(tarOf([['1.dat', Buffer.from('a')]])), /holds no toc.dat/);
    const whole = tarOf([[TOC_FILE, Buffer.alloc(600, 1)]]);
    await assert.rejects(extract(whole.subarray(0, 1024)), /ends in the middle/);
    const forged = Buffer.from(whole);
    forged[0] = 0x2f; // '/toc.dat' with the checksum left as it was
    await assert.rejects(extract(forged), /header checksum does not match/);
  });
});
