/**
 * The WAL chain of one database as the catalog records it, checked against what storage really
 * holds: a segment the catalog lists but storage lacks (deleted by hand, lost by a provider) is a
 * gap, never assumed present (docs/design.md, failure mode 1).
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { BaseBackupRecord, PitrConfig } from '../catalog/wal.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { analyseChain, describeGap, describeWindow, type ChainAnalysis, type ChainBaseBackup } from '../wal/chain.ts';
import { basePrefix, walPrefix } from '../wal/archive-keys.ts';
import { chainOf } from '../wal/incremental-chain.ts';
import { formatLsn } from '../wal/lsn.ts';
import type { ChainView } from './chain-view.ts';
import { windowEnd, type HeadEnd } from './window-end.ts';

export interface LoadedChain {
  database: string;
  systemIdentifier: string | null;
  segmentSize: number | null;
  storageName: string | null;
  agent: string | null;
  analysis: ChainAnalysis;
  baseBackups: BaseBackupRecord[];
  runningBaseBackups: number;
  /** Complete incremental base backups whose chain lacks a member: not restorable. */
  brokenChains?: Array<{ id: string; reason: string }>;
  /** What the server said about the archive's head (lib/pitr/window.ts); absent when it was not asked. */
  head?: HeadEnd;
}

const empty: ChainAnalysis = { windows: [], gaps: [], unusableBaseBackups: [] };

/**
 * The archive a database's restores read, by database name, with its PITR settings: its own, or
 * that of the database of the same cluster whose archive it shares (docs/pitr.md, "Several
 * databases of one server").
 */
export async function archiveOf(catalog: Catalog, database: string): Promise<{ database: string; config: PitrConfig }> {
  const own = await catalog.wal.config(database);
  if (!own.archiveDatabase) return { database, config: own };
  return { database: own.archiveDatabase, config: await catalog.wal.config(own.archiveDatabase) };
}

/**
 * Reads segments, histories and complete base backups of the database's current system
 * identifier. With `driver` (the PITR storage), each object is looked up in one listing of the
 * archive prefix and of the base-backup prefix.
 */
export async function loadChain(catalog: Catalog, requested: string, driver?: StorageDriver): Promise<LoadedChain> {
  const { database, config } = await archiveOf(catalog, requested);
  const all = await catalog.wal.baseBackupsOf(database);
  const runningBaseBackups = all.filter((b) => b.status === 'running').length;
  const base = {
    database,
    systemIdentifier: config.systemIdentifier,
    segmentSize: config.walSegmentSize,
    storageName: config.storageName,
    agent: config.agent,
    runningBaseBackups,
  };
  const sysid = config.systemIdentifier;
  if (sysid === null || config.walSegmentSize === null)
    return { ...base, analysis: empty, baseBackups: [], brokenChains: [] };

  const [segments, histories] = await Promise.all([
    catalog.wal.segmentsOf(database, { systemIdentifier: sysid }),
    catalog.wal.historiesOf(database, { systemIdentifier: sysid }),
  ]);
  const complete = all.filter(
    (b) =>
      b.status === 'complete' &&
      b.systemIdentifier === sysid &&
      b.startLsn !== null &&
      b.stopLsn !== null &&
      b.timeline !== null &&
      b.stopTime !== null,
  );

  let stored: Set<string> | undefined;
  if (driver) {
    const prefixes = [walPrefix(sysid), basePrefix(sysid)];
    const listed = await Promise.all(prefixes.map((p) => driver.list(p)));
    stored = new Set(listed.flat().map((o) => o.key));
  }
  const missingBase = complete.filter((b) => stored && !stored.has(b.objectKey));
  // An increment is restorable only with its whole chain (its full and every increment between).
  const brokenChains = complete
    .filter((b) => b.kind === 'incremental' && !missingBase.includes(b))
    .map((b) => ({ b, chain: chainOf(b.id, all, stored) }))
    .flatMap(({ b, chain }) =>
      chain.whole ? [] : [{ id: b.id, reason: `its incremental chain is broken: ${chain.reason}` }],
    );
  const usableBase = complete.filter((b) => !missingBase.includes(b) && !brokenChains.some((x) => x.id === b.id));
  const chainBase: ChainBaseBackup[] = usableBase.map((b) => ({
    id: b.id,
    timeline: b.timeline!,
    startLsn: b.startLsn!,
    stopLsn: b.stopLsn!,
    stopTime: b.stopTime!,
  }));

  const analysis = analyseChain({
    segmentSize: config.walSegmentSize,
    segments: segments.map((s) => ({
      timeline: s.timeline,
      segno: s.segno,
      endLsn: s.endLsn,
      complete: s.complete,
      receivedAt: s.receivedAt,
      ...(stored ? { inStorage: stored.has(s.objectKey) } : {}),
    })),
    baseBackups: chainBase,
    histories: histories.map((h) => ({ timeline: h.timeline, content: h.content })),
  });
  for (const b of missingBase)
    analysis.unusableBaseBackups.push({
      id: b.id,
      reason: `its object ${b.objectKey} is missing from storage "${b.storageName}"`,
    });
  analysis.unusableBaseBackups.push(...brokenChains);
  return { ...base, analysis, baseBackups: usableBase, brokenChains };
}

export function chainView(chain: LoadedChain, checkedAt: Date): ChainView {
  const { analysis } = chain;
  return {
    database: chain.database,
    checkedAt: checkedAt.toISOString(),
    systemIdentifier: chain.systemIdentifier,
    windows: analysis.windows.map((w) => {
      const end = windowEnd(analysis, chain.head, w);
      return {
        baseBackupId: w.baseBackupId,
        timeline: w.timeline,
        from: { lsn: formatLsn(w.from.lsn), time: w.from.time.toISOString() },
        to: { lsn: formatLsn(w.to.lsn), time: end.time.toISOString() },
        legs: w.legs.map((l) => ({ timeline: l.timeline, fromLsn: formatLsn(l.fromLsn), toLsn: formatLsn(l.toLsn) })),
        ...(chain.head ? { endExact: end.exact, endNote: end.note } : {}),
        text: end.note ? `${describeWindow(w)} (${end.note})` : describeWindow(w),
      };
    }),
    gaps: analysis.gaps.map((g) => ({
      timeline: g.timeline,
      fromLsn: formatLsn(g.fromLsn),
      toLsn: formatLsn(g.toLsn),
      missing: g.missing,
      missingCount: g.missingCount,
      notInStorage: g.notInStorage,
      text: describeGap(g),
    })),
    unusableBaseBackups: analysis.unusableBaseBackups,
    brokenChains: chain.brokenChains ?? [],
    completeBaseBackups: chain.baseBackups.length,
    runningBaseBackups: chain.runningBaseBackups,
  };
}
