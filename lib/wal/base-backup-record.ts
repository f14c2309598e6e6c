/**
 * The record beside each base backup (archive-records.ts, docs/backup-format.md): what its catalog
 * row holds, sealed into storage, so that a catalog rebuilt from storage and the key alone knows
 * the backup's positions, its parent and its checksums. A base backup counts as complete only once
 * its record is written; the catalog is marked afterwards.
 */
import type { EncryptionKey } from '../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { baseBackupRecordKey, writeRecord, type BaseBackupRecord } from './archive-records.ts';
import type { BaseBackupResult } from './base-backup.ts';
import { formatLsn } from './lsn.ts';

export interface BaseBackupRecordInput {
  database: string;
  baseBackupId: string;
  server: { systemIdentifier: string; versionNum: number; walSegmentSize: number };
  source: 'primary' | 'standby';
  kind: 'full' | 'incremental';
  parentId: string | null;
  objectKey: string;
  result: BaseBackupResult;
}

/** The record of a finished base backup: pure, from what the backup itself reported. */
export function baseBackupRecordOf(input: BaseBackupRecordInput): BaseBackupRecord {
  const { result, server } = input;
  return {
    format: 'hindsight-base-backup',
    formatVersion: 1,
    id: input.baseBackupId,
    database: input.database,
    systemIdentifier: server.systemIdentifier,
    timeline: result.timeline,
    startLsn: formatLsn(result.startLsn),
    stopLsn: formatLsn(result.stopLsn),
    startedAt: result.startTime.toISOString(),
    finishedAt: result.stopTime.toISOString(),
    serverVersionNum: server.versionNum,
    walSegmentSizeBytes: server.walSegmentSize,
    takenFrom: input.source,
    kind: input.kind,
    parentId: input.parentId,
    tar: { sizeBytes: result.sizeBytes, sha256: result.sha256 },
    object: { key: input.objectKey, sizeBytes: result.storedBytes, sha256: result.storedSha256 },
    backupManifest: {
      key: result.manifest.objectKey,
      sizeBytes: result.manifest.storedBytes,
      sha256: result.manifest.storedSha256,
    },
  };
}

/** Seals the record beside the backup (`pitr/<sysid>/base/<id>.json.hsb`); returns its key. */
export async function writeBaseBackupRecord(
  driver: StorageDriver,
  key: EncryptionKey,
  input: BaseBackupRecordInput,
): Promise<string> {
  const objectKey = baseBackupRecordKey(input.server.systemIdentifier, input.baseBackupId);
  await writeRecord(driver, objectKey, baseBackupRecordOf(input), key);
  return objectKey;
}
