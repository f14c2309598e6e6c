/**
 * Every kind of object Hindsight stores × every way storage can damage it, each through the real
 * reader of that kind: refused, with an error that names the object and what is wrong with it, and
 * nothing restored from it. The objects are real (Hindsight's own writers, real encryption, zstd,
 * pg_dump and pg_basebackup of a throwaway PostgreSQL, a local storage); the table below is the
 * matrix of docs/testing.md, so a missing case shows as a missing row or an n/a with its reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backupObjectKey, manifestKey } from '../../lib/backup/ids.ts';
import type { RebuildFindings } from '../../lib/catalog/rebuild/findings.ts';
import type { SecretKey } from '../../lib/crypto/secret-key.ts';
import { destroyLocalCluster } from '../../lib/pg/cluster.ts';
import { CORRUPTIONS, withCorrupted, type CorruptionName } from '../support/corrupt-cases.ts';
import {
  decryptObject,
  extractBase,
  fetchWal,
  rebuildRead,
  restoreCatalogBackup,
  restoreLogical,
  type Outcome,
} from '../support/corrupt-consumers.ts';
import { buildCorruptWorld, catalogKeys, DATABASE, type CorruptWorld } from '../support/corrupt-world.ts';
import { useTempDir } from '../support/temp-dir.ts';

interface Row {
  kind: string;
  reader: string;
  /** The object damaged, and another of its kind that a swap puts under its key. */
  object(w: CorruptWorld): { key: string; sibling: string };
  read(w: CorruptWorld, key: SecretKey): Promise<Outcome>;
  /** Corruptions that do not apply to this kind, with the reason printed as the skip's. */
  notApplicable?: Partial<Record<CorruptionName, string>>;
}

const PLAIN_JSON = 'a manifest is plain JSON, read without the key';
const pair = (keys: string[]) => ({ key: keys[0]!, sibling: keys[1]! });
const dumpKeys = (ids: string[]) => pair(ids.map((id) => backupObjectKey(DATABASE, id)));
const names = (found: boolean, what: string) => (found ? [what] : []);
const archivesOf = (f: RebuildFindings) => f.archives;

const MATRIX: Row[] = [
  {
    kind: 'logical dump (custom format)',
    reader: 'logical restore into a new database (pg_restore)',
    object: (w) => dumpKeys(w.logical.custom),
    read: (w, key) => restoreLogical(w, w.logical.custom[0], key),
  },
  {
    kind: 'logical dump (custom format)',
    reader: 'hindsight decrypt --expect',
    object: (w) => dumpKeys(w.logical.custom),
    read: (w, key) => decryptObject(w, backupObjectKey(DATABASE, w.logical.custom[0]), key),
  },
  {
    kind: 'logical dump (parallel -Fd tar)',
    reader: 'logical restore into a new database (pg_restore -j)',
    object: (w) => dumpKeys(w.logical.directory),
    read: (w, key) => restoreLogical(w, w.logical.directory[0], key),
  },
  {
    kind: 'logical dump (parallel -Fd tar)',
    reader: 'hindsight decrypt --expect',
    object: (w) => dumpKeys(w.logical.directory),
    read: (w, key) => decryptObject(w, backupObjectKey(DATABASE, w.logical.directory[0]), key),
  },
  {
    kind: 'logical backup manifest',
    reader: 'logical restore into a new database',
    object: (w) => pair(w.logical.custom.map((id) => manifestKey(DATABASE, id))),
    read: (w, key) => restoreLogical(w, w.logical.custom[0], key),
    notApplicable: { 'wrong-key': PLAIN_JSON },
  },
  {
    kind: 'logical backup manifest',
    reader: 'catalog rebuild reading the storage',
    object: (w) => pair(w.logical.custom.map((id) => manifestKey(DATABASE, id))),
    read: (w, key) =>
      rebuildRead(w, manifestKey(DATABASE, w.logical.custom[0]), key, (f) =>
        names(
          f.backups.some((b) => b.backupId === w.logical.custom[0]),
          `backup ${w.logical.custom[0]}`,
        ),
      ),
    notApplicable: { 'wrong-key': PLAIN_JSON },
  },
  {
    kind: 'base backup (tar, zstd, encrypted)',
    reader: "PITR restore's extraction into a data directory",
    object: (w) => pair(w.base.map((b) => b.objectKey)),
    read: (w, key) => extractBase(w, 0, key),
  },
  {
    kind: 'base backup (tar, zstd, encrypted)',
    reader: 'hindsight decrypt --expect',
    object: (w) => pair(w.base.map((b) => b.objectKey)),
    read: (w, key) => decryptObject(w, w.base[0]!.objectKey, key),
  },
  {
    kind: 'backup_manifest object of a base backup',
    reader: 'hindsight decrypt --expect',
    object: (w) => pair(w.base.map((b) => b.manifestKey)),
    read: (w, key) => decryptObject(w, w.base[0]!.manifestKey, key),
  },
  {
    kind: 'sealed base backup record',
    reader: 'catalog rebuild reading the storage',
    object: (w) => pair(w.base.map((b) => b.recordKey)),
    read: (w, key) =>
      rebuildRead(w, w.base[0]!.recordKey, key, (f) =>
        names(
          archivesOf(f).some((a) => a.baseBackups.some((r) => r.id === w.base[0]!.id)),
          `base backup ${w.base[0]!.id}`,
        ),
      ),
  },
  {
    kind: 'sealed base backup record',
    reader: 'hindsight decrypt --expect',
    object: (w) => pair(w.base.map((b) => b.recordKey)),
    read: (w, key) => decryptObject(w, w.base[0]!.recordKey, key),
  },
  {
    kind: 'WAL segment',
    reader: "restore_command through the restore's WAL fetch server",
    object: (w) => pair(w.segments.map((s) => s.objectKey)),
    read: (w, key) => fetchWal(w, w.segments[0]!, key),
  },
  {
    kind: 'WAL segment',
    reader: 'hindsight decrypt --expect',
    object: (w) => pair(w.segments.map((s) => s.objectKey)),
    read: (w, key) => decryptObject(w, w.segments[0]!.objectKey, key),
  },
  {
    kind: 'partial WAL segment',
    reader: "restore_command through the restore's WAL fetch server",
    object: (w) => pair(w.partials.map((s) => s.objectKey)),
    read: (w, key) => fetchWal(w, w.partials[0]!, key),
  },
  {
    kind: 'partial WAL segment',
    reader: 'catalog rebuild reading the storage',
    object: (w) => pair(w.partials.map((s) => s.objectKey)),
    read: (w, key) =>
      rebuildRead(w, w.partials[0]!.objectKey, key, (f) =>
        names(
          archivesOf(f).some((a) => a.segmentGroups.flat().some((s) => s.objectKey === w.partials[0]!.objectKey)),
          `partial ${w.partials[0]!.file}`,
        ),
      ),
  },
  {
    kind: 'timeline history file',
    reader: "restore_command through the restore's WAL fetch server",
    object: (w) => pair(w.histories.map((s) => s.objectKey)),
    read: (w, key) => fetchWal(w, w.histories[0]!, key),
  },
  {
    kind: 'timeline history file',
    reader: 'catalog rebuild reading the storage',
    object: (w) => pair(w.histories.map((s) => s.objectKey)),
    read: (w, key) =>
      rebuildRead(w, w.histories[0]!.objectKey, key, (f) =>
        names(
          archivesOf(f).some((a) => a.histories.some((h) => h.objectKey === w.histories[0]!.objectKey)),
          `history ${w.histories[0]!.file}`,
        ),
      ),
  },
  {
    kind: 'WAL index batch',
    reader: 'catalog rebuild reading the storage',
    object: (w) => pair(w.indexBatches),
    // Its segment is then found by reading the segment itself; the batch's own entries are not taken.
    read: (w, key) =>
      rebuildRead(w, w.indexBatches[0]!, key, (f) =>
        names(archivesOf(f).reduce((n, a) => n + a.fromIndex, 0) === 2, `the entries of ${w.indexBatches[0]}`),
      ),
  },
  {
    kind: 'WAL index batch',
    reader: 'hindsight decrypt --expect',
    object: (w) => pair(w.indexBatches),
    read: (w, key) => decryptObject(w, w.indexBatches[0]!, key),
  },
  {
    kind: 'catalog backup (hindsight-catalog/<id>.dump.hsb)',
    reader: 'hindsight catalog restore into an empty catalog',
    object: (w) => pair(w.catalog.ids.map((id) => catalogKeys(id).object)),
    read: (w, key) => restoreCatalogBackup(w, w.catalog.ids[0], key),
  },
  {
    kind: 'catalog backup (hindsight-catalog/<id>.dump.hsb)',
    reader: 'hindsight decrypt --expect',
    object: (w) => pair(w.catalog.ids.map((id) => catalogKeys(id).object)),
    read: (w, key) => decryptObject(w, catalogKeys(w.catalog.ids[0]).object, key),
  },
  {
    kind: 'catalog backup manifest (hindsight-catalog/<id>.json)',
    reader: 'hindsight catalog restore into an empty catalog',
    object: (w) => pair(w.catalog.ids.map((id) => catalogKeys(id).manifest)),
    read: (w, key) => restoreCatalogBackup(w, w.catalog.ids[0], key),
    notApplicable: { 'wrong-key': PLAIN_JSON },
  },
];

/** The words a refusal of each corruption uses (besides the object's key). */
const EXPLAINS: Record<CorruptionName, RegExp> = {
  truncated:
    /is truncated: .*(without the final chunk|shorter than its header)|holds \d+ bytes, the manifest says|not JSON/,
  // A flipped byte in a JSON manifest may leave valid JSON that its schema refuses (a key renamed).
  'flip-middle':
    /chunk \d+ failed authentication|not JSON|is invalid: |is no catalog backup manifest of|instead of its own|failed authentication: the header was damaged/,
  'flip-header': /chunk 0 failed authentication|not JSON|is invalid: |is no catalog backup manifest of/,
  swapped:
    /authenticates as .+, expected .+: the object was replaced or copied in storage|describes backup|holds \d+ bytes, the manifest says|is no catalog backup manifest of/,
  'zero-length': /is truncated: 0 bytes|holds 0 bytes|not JSON.*Unexpected end of JSON input/,
  'wrong-key': /encrypted with key [0-9a-f]{16}, but the key in use is [0-9a-f]{16}/,
};

describe('corrupted objects of every kind are refused, named, and nothing is restored from them', () => {
  const tempDir = useTempDir('hindsight-corrupt-');
  let world: CorruptWorld;

  before(async () => {
    world = await buildCorruptWorld(tempDir());
  });

  after(async () => {
    if (!world) return;
    await world.catalog.source.pool.end().catch(() => undefined);
    await world.catalog.target.pool.end().catch(() => undefined);
    await destroyLocalCluster(world.cluster);
  });

  for (const row of MATRIX) {
    describe(`${row.kind} × ${row.reader}`, () => {
      for (const corruption of CORRUPTIONS) {
        const skip = row.notApplicable?.[corruption.name];
        it(corruption.name, skip ? { skip } : {}, async () => {
          const target = row.object(world);
          const outcome = await withCorrupted(world.driver, target, corruption, () =>
            row.read(world, corruption.wrongKey ? world.otherKey : world.key),
          );
          assert.ok(outcome.error, `${target.key} ${corruption.name}: refused`);
          const message = outcome.error.message;
          assert.ok(message.includes(target.key), `the refusal names ${target.key}: ${message}`);
          assert.match(message, EXPLAINS[corruption.name]);
          assert.deepEqual(outcome.restored, [], `nothing restored from ${target.key}`);
        });
      }
    });
  }

  // Last: an intact object is read, so that every row above can fail (a catalog restored here is no longer empty).
  describe('each reader takes the intact object', () => {
    for (const row of MATRIX) {
      it(`${row.kind} × ${row.reader}`, async () => {
        const outcome = await row.read(world, world.key);
        assert.equal(outcome.error, undefined, outcome.error?.message);
        assert.notEqual(outcome.restored.length, 0, 'the reader restored something from the intact object');
      });
    }
  });
});
