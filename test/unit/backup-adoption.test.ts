/**
 * Which manifests found in storage a database being added takes back: the matching rules, and the
 * scan of real local storages (object present at its size, copies that disagree, garbage).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupIdOfManifestKey, matchManifest, parseManifest } from '../../lib/backup/adopt-match.ts';
import { scanForBackups } from '../../lib/backup/adopt-scan.ts';
import type { BackupManifest } from '../../lib/backup/manifest.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';

const ID = '20261123T103000Z-3f9a1c';
const SYSID = '7312345678901234567';
const sha = (c: string) => c.repeat(64);

function manifestOf(id: string, overrides: { systemIdentifier?: string; sourceDb?: string; size?: number } = {}) {
  return {
    format: 'hindsight-logical-backup',
    formatVersion: 1,
    backupId: id,
    database: 'shop',
    startedAt: '2026-11-23T10:30:00.000Z',
    finishedAt: '2026-11-23T10:30:05.000Z',
    source: {
      host: 'db.internal',
      port: 5432,
      database: overrides.sourceDb ?? 'shop',
      serverVersion: '17.2',
      sizeBytes: 1000,
      ...(overrides.systemIdentifier === undefined ? {} : { systemIdentifier: overrides.systemIdentifier }),
    },
    tool: { name: 'pg_dump', version: '17.2', format: 'custom', compression: { algorithm: 'zstd', level: 5 } },
    snapshot: '00000003-00000002-1',
    dump: { sizeBytes: 60, sha256: sha('b') },
    object: { key: `shop/${id}.dump.hsb`, sizeBytes: overrides.size ?? 5, sha256: sha('a') },
    encryption: {
      format: 'HSBK',
      version: 2,
      algorithm: 'AES-256-GCM',
      kdf: 'HKDF-SHA256',
      keyId: 'k1',
      chunkSize: 1048576,
      header: 'AAAA',
    },
    tables: [{ schema: 'public', table: 'orders', rows: 3 }],
  };
}

const parsed = (value: unknown): BackupManifest => {
  const result = parseManifest(JSON.stringify(value));
  if ('reason' in result) assert.fail(result.reason);
  return result.manifest;
};

describe('matching a manifest found in storage with the database being added', () => {
  const expected = { name: 'shop', backupId: ID, source: { database: 'shop', systemIdentifier: SYSID } };

  it('adopts a backup of the same server by its system identifier, whatever the database name in the URL', () => {
    const m = parsed(manifestOf(ID, { systemIdentifier: SYSID, sourceDb: 'renamed_on_server' }));
    assert.deepEqual(matchManifest(m, expected), { adopt: true, matchedBy: 'system-identifier' });
  });

  it('refuses a backup of another server with the same names, naming both identifiers', () => {
    const verdict = matchManifest(parsed(manifestOf(ID, { systemIdentifier: '42' })), expected);
    assert.equal(verdict.adopt, false);
    assert.match(!verdict.adopt ? verdict.reason : '', /another server \(system identifier 42; this one is 7312/);
  });

  it('matches an older manifest without a system identifier by the source database name only', () => {
    assert.deepEqual(matchManifest(parsed(manifestOf(ID)), expected), { adopt: true, matchedBy: 'source-database' });
    const other = matchManifest(parsed(manifestOf(ID, { sourceDb: 'billing' })), expected);
    assert.equal(other.adopt, false);
  });

  it('without a server to ask (--no-check), matches by names even where the manifest has an identifier', () => {
    const noServer = { ...expected, source: { database: 'shop' } };
    const m = parsed(manifestOf(ID, { systemIdentifier: '42' }));
    assert.deepEqual(matchManifest(m, noServer), { adopt: true, matchedBy: 'source-database' });
  });

  it('refuses a manifest that names another database, another backup, or another object', () => {
    const m = parsed(manifestOf(ID, { systemIdentifier: SYSID }));
    assert.equal(matchManifest({ ...m, database: 'billing' }, expected).adopt, false);
    assert.equal(matchManifest(m, { ...expected, backupId: '20261123T103000Z-000000' }).adopt, false);
    const moved = { ...m, object: { ...m.object, key: 'billing/x.dump.hsb' } };
    assert.equal(matchManifest(moved, expected).adopt, false);
  });

  it('reads a backup id only from `<name>/<id>.json`', () => {
    assert.equal(backupIdOfManifestKey('shop', `shop/${ID}.json`), ID);
    for (const key of [`shop/${ID}.dump.hsb`, `shopx/${ID}.json`, `shop/sub/${ID}.json`, 'shop/notes.json'])
      assert.equal(backupIdOfManifestKey('shop', key), undefined, key);
  });

  it('says why text is no manifest', () => {
    assert.match((parseManifest('{') as { reason: string }).reason, /not JSON/);
    assert.match((parseManifest('{"format":"x"}') as { reason: string }).reason, /not a backup manifest \(format/);
    const badSysid = manifestOf(ID, { systemIdentifier: 'abc' });
    assert.match((parseManifest(JSON.stringify(badSysid)) as { reason: string }).reason, /systemIdentifier/);
  });
});

describe('scanning storages for backups to adopt', () => {
  let dir: string;
  const id2 = '20261124T103000Z-0a0b0c';
  const id3 = '20261125T103000Z-0d0e0f';
  const storage = (name: string) => ({ name, driver: createLocalStorage({ name, root: path.join(dir, name) }) });

  async function put(storageName: string, key: string, content: string): Promise<void> {
    const file = path.join(dir, storageName, ...key.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'adopt-scan-'));
    for (const s of ['a', 'b']) {
      await put(s, `shop/${ID}.json`, JSON.stringify(manifestOf(ID, { systemIdentifier: SYSID })));
      await put(s, `shop/${ID}.dump.hsb`, '12345');
    }
    // In b only, and its object is short of what the manifest says.
    await put('b', `shop/${id2}.json`, JSON.stringify(manifestOf(id2, { systemIdentifier: SYSID, size: 9 })));
    await put('b', `shop/${id2}.dump.hsb`, '12345');
    // A manifest without its object, and one that is not JSON.
    await put('a', `shop/${id3}.json`, JSON.stringify(manifestOf(id3, { systemIdentifier: SYSID })));
    await put('a', 'shop/20261126T103000Z-111111.json', 'not json');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('records one copy per storage holding object and manifest, and reports every other manifest', async () => {
    const scan = await scanForBackups([storage('a'), storage('b')], 'shop', {
      database: 'shop',
      systemIdentifier: SYSID,
    });
    assert.deepEqual(
      scan.candidates.map((c) => [c.manifest.backupId, c.storageNames]),
      [[ID, ['a', 'b']]],
    );
    const reasons = Object.fromEntries(scan.skipped.map((s) => [`${s.storage}:${s.key}`, s.reason]));
    assert.match(reasons[`b:shop/${id2}.json`]!, /holds 5 bytes, the manifest says 9/);
    assert.match(reasons[`a:shop/${id3}.json`]!, /is missing/);
    assert.match(reasons['a:shop/20261126T103000Z-111111.json']!, /not JSON/);
  });

  it('finds nothing of a database another server wrote', async () => {
    const scan = await scanForBackups([storage('a')], 'shop', { database: 'shop', systemIdentifier: '1' });
    assert.equal(scan.candidates.length, 0);
    assert.ok(scan.skipped.some((s) => /another server/.test(s.reason)));
  });

  it('refuses a copy whose checksums differ from the copy of the same backup in another storage', async () => {
    const forged = { ...manifestOf(ID, { systemIdentifier: SYSID }), dump: { sizeBytes: 60, sha256: sha('f') } };
    await put('c', `shop/${ID}.json`, JSON.stringify(forged));
    await put('c', `shop/${ID}.dump.hsb`, '12345');
    const scan = await scanForBackups([storage('a'), storage('c')], 'shop', {
      database: 'shop',
      systemIdentifier: SYSID,
    });
    assert.deepEqual(scan.candidates[0]?.storageNames, ['a']);
    assert.ok(
      scan.skipped.some((s) => s.storage === 'c' && /checksums differ from the copy in storage a/.test(s.reason)),
    );
  });
});
