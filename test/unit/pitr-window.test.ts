import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import { loadChain } from '../../lib/pitr/chain-source.ts';
import { planRestore } from '../../lib/pitr/plan.ts';
import { decidePitrTarget, recoverableWindows } from '../../lib/pitr/window.ts';
import { baseBackupKey, segmentKey } from '../../lib/wal/archive-keys.ts';
import { segmentEndLsn, segmentStartLsn } from '../../lib/wal/lsn.ts';

const MiB = 1024 * 1024;
const SIZE = 16 * MiB;
const SYSID = '7300000000000000001';
const at = (second: number) => new Date(Date.UTC(2026, 10, 23, 10, 0, second));
const segmentName = (segno: number) =>
  `00000001${Math.floor(segno / 256)
    .toString(16)
    .padStart(8, '0')
    .toUpperCase()}${(segno % 256).toString(16).padStart(8, '0').toUpperCase()}`;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * The catalog records a base backup and WAL segments 1–6; the local storage (a real directory,
 * read through the local driver) holds all of them but segment 4. The database's server cannot be
 * reached, so the head is not extended.
 */
async function archive(): Promise<{ catalog: Catalog }> {
  const root = await mkdtemp(path.join(tmpdir(), 'pitr-window-'));
  dirs.push(root);
  const put = async (key: string) => {
    await mkdir(path.dirname(path.join(root, key)), { recursive: true });
    await writeFile(path.join(root, key), 'x');
  };
  const segments = [1, 2, 3, 4, 5, 6].map((segno) => ({
    timeline: 1,
    segno: BigInt(segno),
    endLsn: segmentEndLsn(BigInt(segno), SIZE),
    complete: true,
    receivedAt: at(segno),
    objectKey: segmentKey(SYSID, segmentName(segno)),
  }));
  const base = {
    id: 'b1',
    database: 'shop',
    status: 'complete',
    kind: 'full',
    parentId: null,
    systemIdentifier: SYSID,
    timeline: 1,
    storageName: 'local',
    startLsn: segmentStartLsn(1n, SIZE) + 40n,
    stopLsn: segmentStartLsn(1n, SIZE) + 400n,
    stopTime: at(1),
    objectKey: baseBackupKey(SYSID, 'b1'),
  };
  await put(base.objectKey);
  for (const s of segments) if (s.segno !== 4n) await put(s.objectKey);
  const catalog = {
    wal: {
      config: async () => ({
        enabled: true,
        systemIdentifier: SYSID,
        walSegmentSize: SIZE,
        storageName: 'local',
        agent: null,
      }),
      baseBackupsOf: async () => [base],
      segmentsOf: async () => segments,
      historiesOf: async () => [],
    },
    storageConfig: async () => ({ type: 'local', path: root }),
    databaseTarget: async () => ({ host: '127.0.0.1', port: 1, database: 'shop', user: 'nobody', password: 'x' }),
    getDatabase: async () => ({ name: 'shop', timezone: 'UTC' }),
  } as unknown as Catalog;
  return { catalog };
}

describe('the recoverable window (lib/pitr/window.ts)', () => {
  it('is what storage holds: a segment the catalog lists but storage lacks ends the window', async () => {
    const { catalog } = await archive();
    const view = await recoverableWindows(catalog, 'shop');
    assert.equal(view.windows.length, 1);
    assert.equal(
      view.windows[0]!.to.time,
      at(3).toISOString(),
      'the window ends with segment 3, before the missing one',
    );
    assert.ok(
      view.gaps.some((g) => g.notInStorage.includes(segmentName(4))),
      'the missing segment is named as a gap',
    );
  });

  it('refuses a target after the gap that the catalog alone would have accepted, naming the windows', async () => {
    const { catalog } = await archive();
    const target = { time: at(5).toISOString() };
    // The catalog alone believes segment 4 is there: its window reaches segment 6.
    assert.equal(planRestore(await loadChain(catalog, 'shop'), target).baseBackupId, 'b1');
    const headUnknown: string[] = [];
    await assert.rejects(
      decidePitrTarget(catalog, 'shop', target, { onHeadUnknown: (why) => headUnknown.push(why) }),
      (e: Error & { kind?: string }) =>
        e.kind === 'bad_input' && /is outside every recoverable window of database "shop"/.test(e.message),
    );
    assert.equal(headUnknown.length, 1, 'the unreachable server was reported, not taken for an answer');
  });

  it('plans a target inside the window from its base backup, not at the head of the archive', async () => {
    const { catalog } = await archive();
    const plan = await decidePitrTarget(catalog, 'shop', { time: '2026-11-23T11:00:02.500+01:00' });
    assert.deepEqual([plan.baseBackupId, plan.timeline, plan.endsAtHead, plan.agent], ['b1', 1, false, null]);
    assert.match(plan.window, /^timeline 1: 2026-11-23T10:00:01\.000Z/);
  });
});
