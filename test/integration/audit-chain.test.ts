import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NewAuditEntry } from '../../lib/catalog/audit.ts';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { backUpCatalog } from '../../lib/catalog-backup/run.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import { verifyAuditLog } from '../../services/audit-verify.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';

const entry = (n: number): NewAuditEntry => ({
  actorUserId: null,
  actor: 'cli:tester',
  workspaceId: null,
  action: 'test.chain',
  targetType: 'entry',
  targetName: `n${n}`,
  source: 'cli',
  outcome: 'ok',
  after: { n, nested: { b: [1, 2], a: 'x' } },
});

/**
 * The audit log's chain of MACs on a real catalog: appends made at once still form one chain; an
 * entry edited, removed or stripped of its MAC in the catalog is named by `hindsight audit verify`;
 * entries purged by retention and a key rotation leave the chain verifiable.
 */
describe('audit chain: every entry linked to the one before it by a MAC of the secret key', () => {
  let platform: Platform;
  const sql = (text: string, values: unknown[] = []) => platform.runtime.catalog.pool.query(text, values);
  const verify = () => platform.runtime.catalog.access.verifyAudit();
  const ids = async () => (await sql('select id from audit_log order by id')).rows.map((r) => Number(r.id));

  before(async () => {
    platform = await startPlatform();
    for (let n = 0; n < 5; n++) await platform.runtime.catalog.access.appendAudit(entry(n));
  });

  after(async () => {
    await platform?.stop();
  });

  it('holds over entries appended one after the other and thirty at once', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, n) => platform.runtime.catalog.access.appendAudit(entry(100 + n))),
    );
    const report = await verify();
    assert.equal(report.broken, null);
    assert.equal(report.checked, (await ids()).length);
    assert.equal(report.anchor?.afterRemoved, false);
  });

  it('names an entry whose content was edited in the catalog, and holds again once it is put back', async () => {
    const target = (await ids())[7]!;
    const { rows } = await sql('select detail from audit_log where id = $1', [target]);
    await sql("update audit_log set detail = 'edited afterwards' where id = $1", [target]);
    const report = await verify();
    assert.equal(report.broken?.id, target);
    assert.match(report.broken?.why ?? '', /does not match its MAC: it was changed/);
    const cli = await hindsightResult(platform.configEnv, ['audit', 'verify']);
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, new RegExp(`✗ the audit chain breaks at entry ${target} \\(.*, test\\.chain\\)`));
    await sql('update audit_log set detail = $2 where id = $1', [target, rows[0]!.detail]);
    assert.equal((await verify()).broken, null);
  });

  it('names the entry after one removed, and an entry stripped of its MAC', async () => {
    const all = await ids();
    const removed = await sql('delete from audit_log where id = $1 returning *', [all[10]]);
    const report = await verify();
    assert.equal(report.broken?.id, all[11]);
    assert.match(
      report.broken?.why ?? '',
      new RegExp(`does not follow entry ${all[9]}: the entries between them were removed`),
    );
    const row = removed.rows[0]!;
    const columns = Object.keys(row);
    await sql(
      `insert into audit_log (${columns.join(', ')}) select * from jsonb_populate_record(null::audit_log, $1)`,
      [JSON.stringify(row)],
    );
    assert.equal((await verify()).broken, null);
    const { rows: macs } = await sql('select mac from audit_log where id = $1', [all[12]]);
    await sql('update audit_log set mac = null where id = $1', [all[12]]);
    const stripped = await verify();
    assert.equal(stripped.broken?.id, all[12]);
    assert.match(stripped.broken?.why ?? '', /carries no MAC, though entries before it do/);
    await sql('update audit_log set mac = $2 where id = $1', [all[12], macs[0]!.mac]);
    assert.equal((await verify()).broken, null);
  });

  it('holds after retention purges the oldest entries and after a key rotation', async () => {
    // A fresh log, whose three oldest entries then go as audit retention deletes them.
    await sql('delete from audit_log');
    for (let n = 0; n < 6; n++) await platform.runtime.catalog.access.appendAudit(entry(n));
    const oldest = (await ids()).slice(0, 3);
    await sql('delete from audit_log where id = any($1)', [oldest]);
    const purged = await verify();
    assert.equal(purged.broken, null);
    assert.deepEqual(purged.anchor, { id: oldest[2]! + 1, afterRemoved: true });
    const rotated = await hindsightResult(platform.configEnv, ['key', 'rotate']);
    assert.equal(rotated.code, 0, rotated.stderr);
    for (let n = 0; n < 3; n++) await platform.runtime.catalog.access.appendAudit(entry(200 + n));
    const keys = await sql('select distinct chain_key from audit_log');
    assert.equal(keys.rowCount, 2, 'entries under the old and the new key');
    const cli = await hindsightResult(platform.configEnv, ['audit', 'verify']);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /✓ the audit chain holds: \d+ entries checked \(from entry \d+: older ones were purged\)/);
  });

  it("finds entries cut from the log's end against the head a catalog backup left in storage", async () => {
    const source = await createDatabase(platform.cluster, 'shop');
    await platform.ops.addDatabase({
      name: 'shop',
      url: targetUrl(source),
      storages: 'local',
      verifyAfterBackup: false,
    });
    const run = await backUpCatalog(platform.runtime.catalog, platform.runtime.keyring.current(), {
      backupId: '20261207T120000Z-a0d17e',
      keep: 14,
    });
    assert.deepEqual(
      run.copies.map((c) => [c.storage, c.status, c.headError]),
      [['local', 'complete', undefined]],
    );
    const held = await verifyAuditLog(platform.runtime);
    assert.equal(held.holds, true, JSON.stringify(held.heads));
    const end = Math.max(...(await ids()));
    assert.deepEqual(
      held.heads.map((h) => [h.storage, h.entryId]),
      [['local', end]],
    );
    await sql('delete from audit_log where id = $1', [end]);
    const cut = await verifyAuditLog(platform.runtime);
    assert.equal(cut.chain.broken, null, 'a chain cut at its end still holds in itself');
    const cli = await hindsightResult(platform.configEnv, ['audit', 'verify']);
    assert.equal(cli.code, 1);
    assert.match(
      cli.stdout,
      new RegExp(`✗ storage local: entry ${end}, the chain's end on .*, is gone: entries were cut`),
    );
    const [headFile] = (await readdir(path.join(platform.backupsDir, 'hindsight-audit'))).sort().reverse();
    const file = path.join(platform.backupsDir, 'hindsight-audit', headFile!);
    const forged = { ...JSON.parse(await readFile(file, 'utf8')), entryId: end - 1 };
    await writeFile(file, JSON.stringify(forged));
    const refused = await verifyAuditLog(platform.runtime);
    assert.match(refused.heads[0]!.detail, /does not carry a valid MAC: it was not written by this installation/);
  });
});
