/**
 * Where the PITR archive lives in a storage. Keys are per system identifier (docs/design.md,
 * failure modes 7 and 10): a rebuilt or promoted-elsewhere cluster gets its own prefix, and
 * nothing is keyed by a name that two clusters could share.
 */
import { HindsightError } from '../errors.ts';
import { historyFileName, isSegmentName } from './lsn.ts';

const SYSID = /^\d{1,20}$/;

function root(systemIdentifier: string): string {
  if (!SYSID.test(systemIdentifier))
    throw new HindsightError('bad_input', `system identifier "${systemIdentifier}" is not a decimal number`);
  return `pitr/${systemIdentifier}`;
}

export function walPrefix(systemIdentifier: string): string {
  return `${root(systemIdentifier)}/wal`;
}

export function segmentKey(systemIdentifier: string, segmentName: string): string {
  if (!isSegmentName(segmentName)) throw new HindsightError('bad_input', `"${segmentName}" is not a WAL segment name`);
  return `${walPrefix(systemIdentifier)}/${segmentName}.zst.hsb`;
}

export function partialKey(systemIdentifier: string, segmentName: string): string {
  if (!isSegmentName(segmentName)) throw new HindsightError('bad_input', `"${segmentName}" is not a WAL segment name`);
  return `${walPrefix(systemIdentifier)}/${segmentName}.partial.zst.hsb`;
}

export function historyKey(systemIdentifier: string, timeline: number): string {
  return `${walPrefix(systemIdentifier)}/${historyFileName(timeline)}.zst.hsb`;
}

export function basePrefix(systemIdentifier: string): string {
  return `${root(systemIdentifier)}/base`;
}

function checkedId(baseBackupId: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(baseBackupId))
    throw new HindsightError('bad_input', `base backup id "${baseBackupId}" has characters a storage key cannot hold`);
  return baseBackupId;
}

export function baseBackupKey(systemIdentifier: string, baseBackupId: string): string {
  return `${basePrefix(systemIdentifier)}/${checkedId(baseBackupId)}.tar.zst.hsb`;
}

/** The base backup's own backup_manifest, beside it: what an increment over it is taken against. */
export function baseManifestKey(systemIdentifier: string, baseBackupId: string): string {
  return `${basePrefix(systemIdentifier)}/${checkedId(baseBackupId)}.manifest.zst.hsb`;
}
