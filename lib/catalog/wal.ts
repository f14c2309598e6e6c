import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { bind } from './db.ts';
import {
  baseBackupsOf,
  beginBaseBackup,
  completeBaseBackup,
  failBaseBackup,
  getBaseBackup,
  markBaseBackupDeleted,
} from './base-backups.ts';
import {
  baseBackupTarget,
  forgetServerIdentity,
  otherArchiverOfSystem,
  pitrConfig,
  pitrDatabases,
  recordServerIdentity,
  updatePitrSettings,
} from './pitr-settings.ts';
import { archiveSharers, joinArchive, leaveArchive } from './pitr-sharing.ts';
import {
  getSegment,
  historiesOf,
  latestDurable,
  recordHistory,
  recordSegment,
  removeHistories,
  removeSegment,
  removeSegmentsBefore,
  segmentsOf,
} from './wal-objects.ts';

export type { BaseBackupKind, BaseBackupRecord, BaseBackupStatus } from './base-backups.ts';
export type { PitrConfig } from './pitr-settings.ts';
export type {
  DurablePosition,
  HistoryUpload,
  SegmentUpload,
  WalHistoryRecord,
  WalSegmentRecord,
} from './wal-objects.ts';

/** The WAL archive and base backups of PITR-enabled databases. */
export function createWalStore(pool: pg.Pool, keys: Keyring) {
  return {
    ...bind({ pool, keys }, { updateSettings: updatePitrSettings, baseBackupTarget }),
    ...bind(pool, {
      config: pitrConfig,
      recordServerIdentity,
      forgetServerIdentity,
      pitrDatabases,
      otherArchiverOfSystem,
      joinArchive,
      leaveArchive,
      archiveSharers,
      recordSegment,
      segmentsOf,
      getSegment,
      removeSegment,
      removeSegmentsBefore,
      recordHistory,
      removeHistories,
      historiesOf,
      latestDurable,
      beginBaseBackup,
      completeBaseBackup,
      failBaseBackup,
      markBaseBackupDeleted,
      getBaseBackup,
      baseBackupsOf,
    }),
  };
}

export type WalStore = ReturnType<typeof createWalStore>;
