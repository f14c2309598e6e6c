import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import { loadChain } from '../../lib/pitr/chain-source.ts';
import { planRestore } from '../../lib/pitr/plan.ts';
import { decidePitrTarget, recoverableWindows } from '../../lib/pitr/window.ts';
import { baseBackupKey, partialKey, segmentKey } from '../../lib/wal/archive-keys.ts';
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
async function archive(options: { missing?: bigint[]; latestDurable?: () => unknown } = {}): Promise<{
  catalog: Catalog;
  put: (key: string) => Promise<void>;
  segments: Array<Record<string, unknown>>;
}> {
  const missing = options.missing ?? [4n];
  const root = await mkdtemp(path.join(tmpdir(), 'pitr-window-'));
  dirs.push(root);
  const put = async (key: string) => {
    await mkdir(path.dirname(path.join(root, key)), { recursive: true });
    await writeFile(path.join(root, key), 'x');
  };
  const segments: Array<Record<string, unknown>> = [1, 2, 3, 4, 5, 6].map((segno) => ({
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
  for (const s of segments) if (!missing.includes(s.segno as bigint)) await put(s.objectKey as string);
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
      latestDurable: async () => options.latestDurable?.(),
    },
    storageConfig: async () => ({ type: 'local', path: root }),
    databaseTarget: async () => ({ host: '127.0.0.1', port: 1, database: 'shop', user: 'nobody', password: 'x' }),
    getDatabase: async () => ({ name: 'shop', timezone: 'UTC' }),
  } as unknown as Catalog;
  return { catalog, put, segments };
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

/** Segment 7 arrives in storage as a partial holding `bytes`, received at second `second`. */
async function arrives(
  { put, segments }: Awaited<ReturnType<typeof archive>>,
  bytes: bigint,
  second: number,
): Promise<{ lsn: bigint }> {
  const objectKey = partialKey(SYSID, segmentName(7));
  const endLsn = segmentStartLsn(7n, SIZE) + bytes;
  await put(objectKey);
  segments.push({ timeline: 1, segno: 7n, endLsn, complete: false, receivedAt: at(second), objectKey });
  return { lsn: endLsn };
}

const refusedAs = (pattern: RegExp) => (e: Error & { kind?: string }) =>
  e.kind === 'bad_input' && pattern.test(e.message);

describe('where the recoverable window ends (lib/pitr/window-end.ts), with an archive that lags the server', () => {
  const now = at(40);
  const server = { timeline: 1, lsn: segmentStartLsn(7n, SIZE) + 500n };

  it('waits for WAL the server already wrote: once storage holds it, the window ends exactly when the server was asked', async () => {
    let asked = 0;
    let durable: { timeline: number; lsn: bigint } | undefined;
    const store = await archive({ missing: [], latestDurable: () => durable });
    const askServer = async () => server;
    // The archiver ships the WAL on the third look at the catalog.
    const lagging = {
      now,
      askServer,
      catchUpMs: 5000,
      onHeadUnknown: () => assert.fail('the server answered'),
    };
    const realDurable = store.catalog.wal.latestDurable;
    store.catalog.wal.latestDurable = async (...args) => {
      asked += 1;
      if (asked === 3) durable = { timeline: 1, ...(await arrives(store, 500n, 39)) };
      return realDurable(...args);
    };
    const view = await recoverableWindows(store.catalog, 'shop', lagging);
    assert.ok(asked >= 3, 'the catalog was read until the WAL arrived');
    const end = view.windows.at(-1)!;
    assert.deepEqual([end.to.time, end.endExact, end.endNote], [now.toISOString(), true, null]);
    assert.equal(end.to.lsn, '0/70001F4', 'the window reaches the WAL that arrived meanwhile');

    // The check reads the same end: the bar's last instant is accepted, the next one refused.
    const plan = await decidePitrTarget(store.catalog, 'shop', { time: end.to.time }, lagging);
    assert.deepEqual([plan.baseBackupId, plan.endsAtHead], ['b1', true]);
    await assert.rejects(
      decidePitrTarget(store.catalog, 'shop', { time: new Date(now.getTime() + 1).toISOString() }, lagging),
      refusedAs(/is outside every recoverable window/),
    );
  });

  it('says "up to about" when the WAL does not arrive in time, accepts up to that end and refuses after it', async () => {
    const store = await archive({ missing: [], latestDurable: () => ({ timeline: 1, lsn: segmentEndLsn(6n, SIZE) }) });
    const options = { now, askServer: async () => server, catchUpMs: 250 };
    const started = Date.now();
    const end = (await recoverableWindows(store.catalog, 'shop', options)).windows.at(-1)!;
    assert.ok(Date.now() - started >= 250, 'the catch-up wait was taken');
    assert.deepEqual([end.to.time, end.endExact], [at(6).toISOString(), false]);
    assert.match(
      end.endNote!,
      /^up to about 2026-11-23 10:00:06Z, exact after the next check: WAL the database wrote up to 0\/70001F4 on timeline 1 is not all in storage yet$/,
    );
    assert.ok(end.text.includes(end.endNote!), 'db show and the API print the note with the window');

    const plan = await decidePitrTarget(store.catalog, 'shop', { time: at(6).toISOString() }, options);
    assert.match(plan.window, /up to about 2026-11-23 10:00:06Z/);
    await assert.rejects(
      decidePitrTarget(store.catalog, 'shop', { time: at(7).toISOString() }, options),
      refusedAs(
        /outside every recoverable window.*The newest window's end is approximate \(up to about .*exact after the next check/,
      ),
    );
    await assert.rejects(
      decidePitrTarget(store.catalog, 'shop', { time: at(0).toISOString() }, options),
      (e: Error) => /outside every recoverable window/.test(e.message) && !/approximate/.test(e.message),
      'a time before the window says nothing of its end',
    );
  });

  it('an idle server that wrote nothing more: the window ends now, exactly, without waiting', async () => {
    const store = await archive({ missing: [], latestDurable: () => assert.fail('no wait for an idle server') });
    const idle = { timeline: 1, lsn: segmentEndLsn(6n, SIZE) };
    const end = (await recoverableWindows(store.catalog, 'shop', { now, askServer: async () => idle })).windows.at(-1)!;
    assert.deepEqual([end.to.time, end.endExact], [now.toISOString(), true]);
  });

  it("a server whose clock is behind this host's: the window ends at the server's time, before the last WAL's arrival", async () => {
    const store = await archive({ missing: [], latestDurable: () => assert.fail('no wait for an idle server') });
    // The last segment arrived at 10:00:06 on this host's clock; the server, asked after that, says 10:00:05.
    const behind = { timeline: 1, lsn: segmentEndLsn(6n, SIZE), at: at(5) };
    const options = { askServer: async () => behind };
    const end = (await recoverableWindows(store.catalog, 'shop', options)).windows.at(-1)!;
    assert.deepEqual([end.to.time, end.endExact], [at(5).toISOString(), true]);
    await assert.rejects(
      decidePitrTarget(store.catalog, 'shop', { time: at(6).toISOString() }, options),
      refusedAs(/is outside every recoverable window/),
      "a time after the server's own now is not yet known to be archived",
    );
  });

  it('a server that cannot be asked: the end is approximate, naming why', async () => {
    const store = await archive({ missing: [] });
    const end = (await recoverableWindows(store.catalog, 'shop', { now })).windows.at(-1)!;
    assert.equal(end.endExact, false);
    assert.match(
      end.endNote!,
      /^up to about 2026-11-23 10:00:06Z, exact after the next check: the database could not say how far it has written \(/,
    );
  });

  it('a window that ends at a gap keeps its end: no later check can move it', async () => {
    const { catalog } = await archive();
    const first = (await recoverableWindows(catalog, 'shop', { now })).windows[0]!;
    assert.deepEqual([first.to.time, first.endExact, first.endNote], [at(3).toISOString(), true, null]);
  });
});
