/**
 * One catalog rebuild from one storage, start to end: read everything (./read-storage.ts), plan the
 * rows against what the catalog holds (./plan.ts), write them (./apply.ts). `onPhase` is told how
 * long each of the three took, for the benchmark (bench/catalog-rebuild.ts) and for logs.
 */
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import { planRebuild } from './plan.ts';
import { readStorage } from './read-storage.ts';
import type { RebuildReport } from './report.ts';
import type { createRebuildStore } from './store.ts';

export type RebuildPhase = 'read' | 'plan' | 'write';

export async function rebuildFromStorage(
  store: ReturnType<typeof createRebuildStore>,
  storage: { name: string; driver: StorageDriver },
  key: DecryptionKey,
  onPhase: (phase: RebuildPhase, ms: number) => void = () => undefined,
): Promise<Omit<RebuildReport, 'storageAdded'>> {
  let started = performance.now();
  const lap = (phase: RebuildPhase) => {
    const now = performance.now();
    onPhase(phase, now - started);
    started = now;
  };
  const findings = await readStorage(storage, key);
  lap('read');
  const state = await store.recordedState();
  const plan = planRebuild(findings, state.databases, state.baseBackups);
  lap('plan');
  const report = await store.apply(plan, storage.name);
  lap('write');
  return report;
}
