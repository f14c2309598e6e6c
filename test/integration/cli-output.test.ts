/**
 * What the `hindsight` command prints on the second day: a backup waited for (its copies and the
 * verification that proved it), the VERIFICATION column of `backups`, what `decrypt -o` wrote, and
 * a catalog-only command that runs while Temporal is down. Real catalog, Temporal, worker, sandbox.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { targetUrl } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { formatBytes } from '../../cli/output.ts';
import { hindsightResult, type CliResult } from '../support/hindsight-cli.ts';
import type { Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { expectedArchive } from '../support/expected-archive.ts';

const run = promisify(execFile);

const schema = `
  create table orders (id int primary key, total numeric(10,2), note text);
  insert into orders select g, g * 2.5, 'order ' || g from generate_series(1, 3000) g;
  create table customers (id int primary key, email text);
  insert into customers select g, 'c' || g || '@example.org' from generate_series(1, 400) g;
`;

/** The VERIFICATION cell of each backup in `hindsight backups` (read by its column, not its position). */
function verificationColumn(table: string): Map<string, string> {
  const [header, ...rows] = table.trimEnd().split('\n');
  const at = header!.indexOf('VERIFICATION');
  const end = header!.indexOf('WARNINGS');
  assert.ok(at > 0 && end > at, `a VERIFICATION column before WARNINGS: ${header}`);
  return new Map(rows.map((r) => [r.split(' ')[0]!, r.slice(at, end).trim()]));
}

describe('the hindsight command on the second day', () => {
  let platform: Platform;
  let cli: (args: string[], env?: Record<string, string>) => Promise<CliResult>;
  const objectFile = (id: string) => path.join(platform.backupsDir, 'shop', `${id}.dump.hsb`);
  let verified: string;
  let unverified: string;

  before(async () => {
    let source;
    ({ platform, source } = await startSeededPlatform('shop', schema));
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), storages: 'local' });
    cli = (args, env = {}) => hindsightResult({ ...platform.configEnv, ...env }, args);
  });

  after(async () => {
    await platform?.stop();
  });

  it('backup --wait prints status, size, rows, each copy and the verification that proved it', async () => {
    const result = await cli(['backup', 'shop', '--wait']);
    assert.equal(result.code, 0, result.stderr);
    verified = /^backup (\S+) of "shop": complete$/m.exec(result.stdout)?.[1] ?? '';
    assert.ok(verified, `the first line names the backup and its status: ${result.stdout}`);
    const record = await platform.runtime.catalog.getBackup(verified);
    assert.match(result.stdout, new RegExp(`^  size +${formatBytes(record.sizeBytes)} stored, `, 'm'));
    assert.match(result.stdout, /^ {2}rows +3400 in 2 tables$/m);
    assert.match(result.stdout, new RegExp(`^  copies +local complete \\(${formatBytes(record.sizeBytes)}\\)$`, 'm'));
    const verification = (await platform.runtime.catalog.verifications.newestFor([verified])).get(verified);
    assert.equal(verification?.status, 'successful', 'the verification it waited for has ended, and proved it');
    assert.match(
      result.stdout,
      new RegExp(`^  verification +verified: 2 tables, 3400 rows restored and matched \\(${verification.id}\\)$`, 'm'),
    );
  });

  it('backup --wait says so when no verification follows the backup', async () => {
    await platform.runtime.catalog.updateDatabaseSettings('shop', { verifyAfterBackup: false });
    const result = await cli(['backup', 'shop', '--wait', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const outcome = JSON.parse(result.stdout) as { backupId: string; status: string; verification: unknown };
    unverified = outcome.backupId;
    assert.equal(outcome.status, 'complete');
    assert.equal(outcome.verification, null);
    const text = await cli(['backup', 'shop', '--wait']);
    assert.match(text.stdout, /^ {2}verification +none requested \(verification after each backup is off/m);
  });

  it('the VERIFICATION column of backups shows verified, failed, or - for none', async () => {
    // One byte flipped: the verification of that backup fails at its checksum, for real.
    const original = await readFile(objectFile(unverified));
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 2)]! ^= 0x20;
    await writeFile(objectFile(unverified), damaged);
    try {
      const failed = await cli(['verify', 'shop', '--backup', unverified, '--wait']);
      assert.equal(failed.code, 1, 'verify --wait exits 1 unless successful');
      assert.match(failed.stdout, /: failed — checksum:/);
    } finally {
      await writeFile(objectFile(unverified), original);
    }
    const listed = await cli(['backups', 'shop']);
    assert.equal(listed.code, 0, listed.stderr);
    const column = verificationColumn(listed.stdout);
    assert.equal(column.size, 3, listed.stdout);
    assert.equal(column.get(verified), 'verified');
    assert.equal(column.get(unverified), 'failed');
    assert.deepEqual(
      [...column.values()].filter((v) => v === '-'),
      ['-'],
      'the third backup, never verified, shows -',
    );
    const json = JSON.parse((await cli(['backups', 'shop', '--json'])).stdout) as Array<{
      id: string;
      verification: { status: string } | null;
    }>;
    assert.equal(json.find((b) => b.id === verified)?.verification?.status, 'successful');
    assert.equal(json.find((b) => b.id === unverified)?.verification?.status, 'failed');
  });

  it('decrypt -o says what it wrote: the path, its bytes, and that pg_restore reads it', async () => {
    const out = path.join(platform.dir, 'shop.dump');
    const result = await cli(['decrypt', objectFile(verified), '--key', platform.config.secretKeyFile, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    const bytes = (await stat(out)).size;
    const manifest = JSON.parse(await readFile(path.join(platform.backupsDir, 'shop', `${verified}.json`), 'utf8'));
    const expected = await expectedArchive(objectFile(verified), platform.runtime.keyring.resolve, manifest);
    assert.equal(bytes, expected.bytes, 'the archive the manifest records, ready for pg_restore');
    assert.equal(
      result.stdout,
      `wrote ${out}: ${bytes} bytes (${formatBytes(bytes)}), a pg_dump custom-format archive (pg_restore reads it), backup ${verified} of database shop\n`,
    );
    const { stdout: toc } = await run((await toolFor('pg_restore')).path, ['--list', out]);
    assert.match(toc, /TABLE DATA public orders/, 'it is what the line says it is');
  });

  it('db list reads the catalog without Temporal; a command that starts a job still needs it', async () => {
    const down = { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` };
    const listed = await cli(['db', 'list'], down);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^shop +hindsight@/m);
    const backup = await cli(['backup', 'shop'], down);
    assert.equal(backup.code, 1);
    assert.match(backup.stderr, /Temporal at 127\.0\.0\.1:\d+ is unreachable/);
  });
});
