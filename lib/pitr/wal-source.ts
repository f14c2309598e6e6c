/**
 * What `restore_command` asks for, looked up in the catalog: a timeline history file, a complete
 * segment, or the newest partial segment served under its segment name (padded to the segment
 * size, as recovery expects a whole file). Anything the archive does not list is "not found";
 * anything it lists but cannot deliver is an error (docs/design.md, failure mode 9).
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { createStorageDriver } from '../storage/index.ts';
import { isSegmentName, parseHistoryFileName, parseSegmentName } from '../wal/lsn.ts';

export interface WalObject {
  storageName: string;
  objectKey: string;
  /** A partial segment is padded with zeros to this size. */
  padToSize?: number;
  /** SHA-256 of the decoded bytes, for complete segments (a partial may be replaced while read). */
  sha256?: string;
  kind: 'history' | 'segment' | 'partial';
}

export interface WalSourceScope {
  database: string;
  systemIdentifier: string;
  segmentSize: number;
}

export function createWalSource(catalog: Catalog, scope: WalSourceScope) {
  const drivers = new Map<string, Promise<StorageDriver>>();
  return {
    segmentSize: scope.segmentSize,
    async find(file: string): Promise<WalObject | null> {
      const tli = parseHistoryFileName(file);
      if (tli !== null) {
        const history = (
          await catalog.wal.historiesOf(scope.database, { systemIdentifier: scope.systemIdentifier })
        ).find((h) => h.timeline === tli);
        return history ? { storageName: history.storageName, objectKey: history.objectKey, kind: 'history' } : null;
      }
      // `.partial` and `.backup` names are never asked for by recovery from an archive like ours.
      if (!isSegmentName(file)) return null;
      const { timeline, segno } = parseSegmentName(file, scope.segmentSize);
      const row = await catalog.wal.getSegment(scope.database, scope.systemIdentifier, timeline, segno);
      if (!row) return null;
      return row.complete
        ? { storageName: row.storageName, objectKey: row.objectKey, sha256: row.sha256, kind: 'segment' }
        : { storageName: row.storageName, objectKey: row.objectKey, padToSize: scope.segmentSize, kind: 'partial' };
    },
    driver(storageName: string): Promise<StorageDriver> {
      let d = drivers.get(storageName);
      if (!d) {
        d = catalog.storageConfig(storageName).then((config) => createStorageDriver(storageName, config));
        d.catch(() => drivers.delete(storageName));
        drivers.set(storageName, d);
      }
      return d;
    },
    async close(): Promise<void> {
      for (const d of drivers.values()) await (await d.catch(() => undefined))?.close?.().catch(() => undefined);
      drivers.clear();
    },
  };
}

export type WalSource = ReturnType<typeof createWalSource>;
