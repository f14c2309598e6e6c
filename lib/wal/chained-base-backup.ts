/**
 * A base backup that extends the database's incremental chain when it can (PostgreSQL 17+ with
 * summarize_wal on, a whole chain whose newest backup's manifest storage still holds) and is a
 * full otherwise, with the reason recorded. The parent's backup_manifest comes from storage, never
 * from the catalog alone. Hindsight never turns summarize_wal on by itself: the source's
 * configuration is its owner's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { KeyResolver } from '../crypto/chunked-gcm.ts';
import type { EncryptionKey } from '../crypto/chunked-gcm.ts';
import type { BaseBackupRecord, WalStore } from '../catalog/wal.ts';
import { errorMessage } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import { serverToolOfMajor } from '../pg/tools.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { baseBackupKey, baseManifestKey, basePrefix } from './archive-keys.ts';
import { streamBaseBackupToStorage, type BaseBackupResult } from './base-backup.ts';
import { writeBaseBackupRecord } from './base-backup-record.ts';
import { chooseBaseBackupKind, SUMMARIES_INCOMPLETE, type KindChoice } from './incremental-chain.ts';
import { decodeWalObject } from './segment-codec.ts';
import { withServer } from './server.ts';

export interface ChainedBaseBackupResult extends BaseBackupResult {
  objectKey: string;
  kind: 'full' | 'incremental';
  parentId: string | null;
  kindReason: string | null;
  /** The base backup's record in storage (base-backup-record.ts). */
  recordKey: string;
}

/** What the server says about taking an increment: summarize_wal (17+) and its current timeline. */
export async function incrementalFacts(client: pg.Client): Promise<{ summarizeWal: boolean; timeline: number }> {
  const { rows } = await client.query<{ summarize: string | null; timeline: number }>(
    `select current_setting('summarize_wal', true) as summarize, (select timeline_id from pg_control_checkpoint()) as timeline`,
  );
  return { summarizeWal: rows[0]!.summarize === 'on', timeline: Number(rows[0]!.timeline) };
}

/** The label pg_basebackup writes into backup_label: the tar itself names its parent, for a catalog rebuilt from storage. */
export function baseBackupLabel(baseBackupId: string, choice: KindChoice<BaseBackupRecord>): string {
  return choice.kind === 'incremental'
    ? `hindsight ${baseBackupId} incremental over ${choice.parent.id}`
    : `hindsight ${baseBackupId}`;
}

export interface ChainedBaseBackupOptions {
  database: string;
  baseBackupId: string;
  workflowId: string;
  wal: WalStore;
  driver: StorageDriver;
  storageName: string;
  target: PgTarget;
  source: 'primary' | 'standby';
  server: { systemIdentifier: string; major: number; versionNum: number; walSegmentSize: number };
  fullEvery: number;
  key: EncryptionKey;
  resolve: KeyResolver;
  signal?: AbortSignal;
  onProgress?: (progress: { rawBytes: number }) => void;
}

/** Where one base backup goes: its object and manifest keys, and the local directory for the parent's manifest. */
interface BaseBackupPlace {
  objectKey: string;
  manifestKey: string;
  workDir: string;
  parentManifest: string;
}

export async function takeChainedBaseBackup(options: ChainedBaseBackupOptions): Promise<ChainedBaseBackupResult> {
  const { baseBackupId, server } = options;
  const objectKey = baseBackupKey(server.systemIdentifier, baseBackupId);
  const manifestKey = baseManifestKey(server.systemIdentifier, baseBackupId);
  let choice = await chooseKind(options);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'hindsight-basebackup-'));
  const place: BaseBackupPlace = {
    objectKey,
    manifestKey,
    workDir,
    parentManifest: path.join(workDir, 'parent_manifest'),
  };
  try {
    choice = await fetchParentManifest(options, choice, place.parentManifest);
    let result: BaseBackupResult;
    try {
      result = await attemptBaseBackup(options, choice, place);
    } catch (error) {
      // Summaries missing for part of the range (summarize_wal was off for a while): the chain ends here.
      if (choice.kind !== 'incremental' || options.signal?.aborted || !SUMMARIES_INCOMPLETE.test(errorMessage(error)))
        throw error;
      choice = {
        kind: 'full',
        reason: `pg_basebackup could not take an increment over ${choice.parent.id}: ${errorMessage(error)}`,
      };
      result = await attemptBaseBackup(options, choice, place);
    }
    const parentId = choice.kind === 'incremental' ? choice.parent.id : null;
    // Written before the caller marks the backup complete: a complete base backup always has its record.
    const recordKey = await writeBaseBackupRecord(options.driver, options.key, {
      database: options.database,
      baseBackupId,
      server,
      source: options.source,
      kind: choice.kind,
      parentId,
      objectKey,
      result,
    });
    return {
      ...result,
      objectKey,
      kind: choice.kind,
      parentId,
      kindReason: choice.kind === 'full' ? choice.reason : null,
      recordKey,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Full or incremental, from the server's facts, the catalog's chain and what storage still holds. */
async function chooseKind(options: ChainedBaseBackupOptions): Promise<KindChoice<BaseBackupRecord>> {
  const { database, baseBackupId, wal, driver, server } = options;
  const facts = await withServer(database, options.target, incrementalFacts);
  const stored = new Set((await driver.list(basePrefix(server.systemIdentifier))).map((o) => o.key));
  return chooseBaseBackupKind({
    fullEvery: options.fullEvery,
    server: { ...server, ...facts, source: options.source },
    records: (await wal.baseBackupsOf(database)).filter((r) => r.id !== baseBackupId),
    stored,
    canCombine: await serverToolOfMajor('pg_combinebackup', server.major).then(
      () => true,
      () => false,
    ),
  });
}

/** Brings an increment's parent manifest from storage; a full, with the reason, when it cannot be read. */
async function fetchParentManifest(
  options: ChainedBaseBackupOptions,
  choice: KindChoice<BaseBackupRecord>,
  destination: string,
): Promise<KindChoice<BaseBackupRecord>> {
  if (choice.kind !== 'incremental') return choice;
  try {
    await decodeWalObject({
      driver: options.driver,
      objectKey: choice.parent.manifestKey!,
      key: options.resolve,
      destination,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return choice;
  } catch (error) {
    return {
      kind: 'full',
      reason: `the backup_manifest of base backup ${choice.parent.id} could not be read from storage: ${errorMessage(error)}`,
    };
  }
}

/** Records the base backup as begun with its kind, clears writes a crashed attempt left, and streams it. */
async function attemptBaseBackup(
  options: ChainedBaseBackupOptions,
  c: KindChoice<BaseBackupRecord>,
  place: BaseBackupPlace,
): Promise<BaseBackupResult> {
  const { database, baseBackupId, wal, driver, server } = options;
  const { objectKey, manifestKey } = place;
  await wal.beginBaseBackup({
    id: baseBackupId,
    database,
    storageName: options.storageName,
    objectKey,
    source: options.source,
    workflowId: options.workflowId,
    kind: c.kind,
    parentId: c.kind === 'incremental' ? c.parent.id : null,
    manifestKey,
    kindReason: c.kind === 'full' ? c.reason : null,
  });
  await driver.sweepAbandonedWrites(objectKey, 0);
  await driver.sweepAbandonedWrites(manifestKey, 0);
  return streamBaseBackupToStorage({
    database,
    label: baseBackupLabel(baseBackupId, c),
    target: options.target,
    serverMajor: server.major,
    driver,
    objectKey,
    manifestKey,
    workDir: place.workDir,
    key: options.key,
    ...(c.kind === 'incremental' ? { incrementalFrom: place.parentManifest } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}
