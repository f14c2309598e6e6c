/**
 * The fakes of the restore workflow tests: the activities of a restoreBackup and of a pitrRestore
 * answering as a healthy catalog, archive and target would, and the inputs and answers they share.
 */
import type { PitrRestoreInput } from '../../temporal/contracts/pitr.ts';
import type { RestoreBackupInput } from '../../temporal/contracts/restore.ts';
import { recording, servingQueue, type FakeActivities } from './fakes.ts';

/** The logical backup every restoreBackup test restores. */
export const BACKUP = '20260101T000000Z-b00001';
/** A restore of database app into a new database beside it. */
export const restoreInput: RestoreBackupInput = { database: 'app', to: { database: 'app_copy' } };
/** What restoreBackupToTarget reports for a restore whose checks all pass. */
export const restored = {
  storageName: 'a',
  tablesChecked: 3,
  rowsChecked: 42,
  mismatches: [],
  readBytes: 900,
  restoredBytes: 800,
};

/** A restore's activities answering as a healthy catalog and target would, overridden per test. */
export function restoreOf(overrides: FakeActivities = {}) {
  return recording({
    resolveBackup: async () => ({ backupId: BACKUP }),
    prepareRestoreTarget: async () => ({ target: 'database "app_copy"', created: true }),
    recordRestoreStarted: async () => undefined,
    restoreBackupToTarget: async () => restored,
    recordRestoreEnded: async () => undefined,
    hookPlan: async () => ({ count: 0, timeoutSeconds: 0 }),
    ...overrides,
  });
}

/** The base backup the point-in-time plan chooses. */
export const BASE = '20260101T000000Z-c00001';
/** A recovery of database app to 10:00 into a directory. */
export const pointInTime: PitrRestoreInput = {
  database: 'app',
  target: { time: '2026-01-01T10:00:00Z' },
  to: { directory: '/restore/app' },
};
/** What planPitrRestore answers: one window, no agent. */
export const plan = {
  baseBackupId: BASE,
  timeline: 1,
  window: '2026-01-01 00:00 – 12:00 UTC',
  endsAtHead: false,
  agent: null,
};
/** What restoreToPointInTime reports once recovery reached the target. */
export const recovered = {
  reachedLsn: '0/3000060',
  lastTransactionTime: '2026-01-01T09:59:58.000Z',
  newTimeline: 2,
  dataDirectory: '/restore/app',
  port: 54321,
  kept: true,
  note: null,
  segmentsFetched: 3,
  baseBackupChain: [BASE],
};

/** A restore's activities answering as an archive with one window would; each records the queue that served it. */
export function pitrOf(overrides: FakeActivities = {}) {
  const queues: string[] = [];
  const fake = recording({
    planPitrRestore: async () => plan,
    restoreToPointInTime: async () => {
      queues.push(servingQueue());
      return recovered;
    },
    ...overrides,
  });
  return { ...fake, queues };
}
