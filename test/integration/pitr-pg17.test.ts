import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { slotNameFor } from '../../lib/wal/server.ts';
import type { PitrSource } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';

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
  const checkMajor = async (s: PitrSource) => assert.equal(s.cluster.major, 17);
  const pitr = usePitrScenario('shop17', {
    dirName: 'source17',
    major: 17,
    prepareSource: checkMajor,
    writes: { forMs: 5000, everyMs: 100 },
  });

  it('streams WAL with pg_receivewal 17', async () => {
    const binaries = await runningBinaries(['pg_receivewal', slotNameFor('shop17')]);
    assert.equal(binaries.length, 1, `one pg_receivewal streams the slot (found ${binaries.join(', ') || 'none'})`);
    const { stdout } = await run(binaries[0]!, ['--version']);
    assert.match(stdout, /\(PostgreSQL\) 17\./);
  });

  it('restores to a second T between two rows: the row before is present, the row after absent, the count exact', async () => {
    assert.ok(pitr.rows.length >= 30, `the writer committed ${pitr.rows.length} rows`);
    const { dir } = await pitr.restoreBetweenRows('restored17-at-t', 'at-t', Math.floor(pitr.rows.length * 0.6));
    assert.equal((await readFile(path.join(dir, 'PG_VERSION'), 'utf8')).trim(), '17');
  });
});
