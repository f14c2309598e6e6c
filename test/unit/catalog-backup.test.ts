import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { notEmptyBecause, type CatalogContents } from '../../lib/catalog-backup/catalog-queries.ts';
import {
  CATALOG_BACKUP_FORMAT,
  catalogManifestKey,
  catalogObjectKey,
  type CatalogBackupManifest,
} from '../../lib/catalog-backup/layout.ts';
import { catalogBackupsBeyond, listCatalogBackups, pruneCatalogBackups } from '../../lib/catalog-backup/stored.ts';
import { writeJsonObject } from '../../lib/storage/shared/json-object.ts';
import { identityForObjectKey } from '../../lib/crypto/object-identity.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';

const digest = { sizeBytes: 10, sha256: 'a'.repeat(64) };

function manifest(id: string, finishedAt: string): CatalogBackupManifest {
  return {
    format: CATALOG_BACKUP_FORMAT,
    formatVersion: 1,
    backupId: id,
    startedAt: finishedAt,
    finishedAt,
    schemaVersion: '011_incremental_base_backups',
    hindsightVersion: '0.1.0',
    serverVersion: '17.0',
    tool: { name: 'pg_dump', version: '17.0', format: 'custom' },
    dump: digest,
    object: { key: catalogObjectKey(id), ...digest },
    encryption: { format: 'HSBK', version: 2, keyId: '0123456789abcdef' },
  };
}

async function store(driver: StorageDriver, m: CatalogBackupManifest, withObject = true): Promise<void> {
  if (withObject) await writeJsonObject(driver, catalogObjectKey(m.backupId), 'ciphertext');
  await writeJsonObject(driver, catalogManifestKey(m.backupId), m);
}

const empty: CatalogContents = {
  databases: [],
  storages: ['local'],
  backups: {},
  users: 0,
  notifiers: 0,
  workspaces: 1,
};

describe('catalog backups in a storage', () => {
  it('keeps the newest by finishing time, not by listing order', () => {
    const ms = [
      manifest('20261203T000000Z-000003', '2026-12-03T00:00:00Z'),
      manifest('20261201T000000Z-000001', '2026-12-01T00:00:00Z'),
      manifest('20261202T000000Z-000002', '2026-12-02T00:00:00Z'),
    ];
    assert.deepEqual(
      catalogBackupsBeyond(ms, 2).map((m) => m.backupId),
      ['20261201T000000Z-000001'],
    );
    assert.deepEqual(catalogBackupsBeyond(ms, 5), []);
    assert.throws(() => catalogBackupsBeyond(ms, 0), /keep at least 1/);
  });

  it('lists only complete catalog backups and prunes beyond the newest N, object and manifest', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'hindsight-catalog-backups-'));
    const driver = createLocalStorage({ name: 'test', root });
    try {
      for (let day = 1; day <= 4; day++)
        await store(driver, manifest(`2026120${day}T000000Z-00000${day}`, `2026-12-0${day}T00:00:00Z`));
      // A manifest whose object never arrived, and a file that is no manifest: neither counts.
      await store(driver, manifest('20261205T000000Z-000005', '2026-12-05T00:00:00Z'), false);
      await writeJsonObject(driver, 'hindsight-catalog/notes.json', { hello: 'world' });
      assert.deepEqual(
        (await listCatalogBackups(driver)).map((m) => m.backupId),
        ['20261204T000000Z-000004', '20261203T000000Z-000003', '20261202T000000Z-000002', '20261201T000000Z-000001'],
      );
      assert.deepEqual(await pruneCatalogBackups(driver, 2), ['20261202T000000Z-000002', '20261201T000000Z-000001']);
      const left = (await driver.list('hindsight-catalog')).map((o) => o.key);
      assert.ok(!left.some((k) => k.includes('20261201') || k.includes('20261202')), left.join(', '));
      assert.ok(left.includes(catalogObjectKey('20261204T000000Z-000004')));
      assert.ok(left.includes('hindsight-catalog/notes.json'), 'what is not a catalog backup is left alone');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('binds a catalog backup object to its id', () => {
    assert.deepEqual(identityForObjectKey(catalogObjectKey('20261204T000000Z-00000a')), {
      kind: 'catalog-backup',
      backupId: '20261204T000000Z-00000a',
    });
  });
});

describe('an empty catalog', () => {
  it("is what a fresh installation holds, npm start's demo included", () => {
    assert.equal(notEmptyBecause(empty, ['demo']), undefined);
    assert.equal(notEmptyBecause({ ...empty, databases: ['demo'], backups: { demo: 1 } }, ['demo']), undefined);
  });

  it('is not one with a database, a user, a notifier or a workspace of someone', () => {
    assert.match(notEmptyBecause({ ...empty, databases: ['demo', 'shop'] }, ['demo'])!, /databases shop/);
    assert.match(notEmptyBecause({ ...empty, users: 1 }, ['demo'])!, /1 user accounts/);
    assert.match(notEmptyBecause({ ...empty, notifiers: 2 }, ['demo'])!, /2 notifiers/);
    assert.match(notEmptyBecause({ ...empty, workspaces: 2 }, ['demo'])!, /1 workspaces besides "default"/);
  });
});
