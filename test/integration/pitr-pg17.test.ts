import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { slotNameFor } from '../../lib/wal/server.ts';
import type { Platform } from '../support/platform.ts';
import {
  restore,
  restoredRows,
  rfc3339Plus2,
  startPitrWithRows,
  stopPitrPlatform,
  type PitrSource,
  type Row,
} from '../support/pitr-fixture.ts';

const run = promisify(execFile);

/** The binaries of running processes whose command line has every one of `words`. */
async function runningBinaries(words: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (!words.every((w) => args.some((a) => a.includes(w)))) continue;
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => undefined);
    if (exe) found.push(exe);
  }
  return found;
}

/**
 * The acceptance gate of PITR on a PostgreSQL 17 source: WAL streamed by pg_receivewal 17, a base
 * backup by pg_basebackup 17, a restore to a second T between two committed rows by the 17 server.
 */
describe('point-in-time restore of a PostgreSQL 17 source', () => {
  let platform: Platform;
  let source: PitrSource;
  let rows: Row[] = [];
  const started: string[] = [];

  before(async () => {
    const checkMajor = async (s: PitrSource) => assert.equal(s.cluster.major, 17);
    const options = { dirName: 'source17', major: 17, prepareSource: checkMajor };
    ({ platform, source, rows } = await startPitrWithRows('shop17', { forMs: 5000, everyMs: 100 }, options));
  });

  after(() => stopPitrPlatform({ platform, source, database: 'shop17', restoredDirs: started }));

  it('streams WAL with pg_receivewal 17', async () => {
    const binaries = await runningBinaries(['pg_receivewal', slotNameFor('shop17')]);
    assert.equal(binaries.length, 1, `one pg_receivewal streams the slot (found ${binaries.join(', ') || 'none'})`);
    const { stdout } = await run(binaries[0]!, ['--version']);
    assert.match(stdout, /\(PostgreSQL\) 17\./);
  });

  it('restores to a second T between two rows: the row before is present, the row after absent, the count exact', async () => {
    assert.ok(rows.length >= 30, `the writer committed ${rows.length} rows`);
    const k = Math.floor(rows.length * 0.6);
    const before = rows[k - 1]!;
    const afterRow = rows[k]!;
    const t = new Date(before.at.getTime() + Math.floor((afterRow.at.getTime() - before.at.getTime()) / 2));
    const dir = path.join(platform.dir, 'restored17-at-t');
    const outcome = await restore(
      platform,
      { database: 'shop17', target: { time: rfc3339Plus2(t) }, to: { directory: dir } },
      'at-t',
    );
    started.push(dir);
    assert.ok(outcome.port);
    assert.equal((await readFile(path.join(dir, 'PG_VERSION'), 'utf8')).trim(), '17');
    const restored = await restoredRows(source, outcome.port);
    const ids = new Set(restored.map((r) => r.id));
    assert.ok(ids.has(before.id), `row ${before.id} written just before T is present`);
    assert.ok(!ids.has(afterRow.id), `row ${afterRow.id} written just after T is absent`);
    const expected = rows.filter((r) => r.at <= t).length;
    assert.equal(restored.length, expected, 'count equals the rows written up to T');
    assert.deepEqual(
      restored.map((r) => r.id),
      rows.slice(0, expected).map((r) => r.id),
    );
  });
});
