import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chainOf,
  chooseBaseBackupKind,
  SUMMARIES_INCOMPLETE,
  type ChainRecord,
  type ServerFacts,
} from '../../lib/wal/incremental-chain.ts';

const sysid = '7400000000000000001';
let clock = Date.parse('2026-12-01T00:00:00Z');
const record = (id: string, parentId: string | null, overrides: Partial<ChainRecord> = {}): ChainRecord => ({
  id,
  kind: parentId ? 'incremental' : 'full',
  parentId,
  status: 'complete',
  systemIdentifier: sysid,
  timeline: 1,
  startTime: new Date((clock += 3_600_000)),
  source: 'primary',
  objectKey: `pitr/${sysid}/base/${id}.tar.zst.hsb`,
  manifestKey: `pitr/${sysid}/base/${id}.manifest.zst.hsb`,
  ...overrides,
});
const server: ServerFacts = { major: 17, summarizeWal: true, timeline: 1, systemIdentifier: sysid, source: 'primary' };
const keysOf = (records: ChainRecord[]) => new Set(records.flatMap((r) => [r.objectKey, r.manifestKey!]));

describe('choosing a full or an incremental base backup', () => {
  const chain = [record('f', null), record('i1', 'f'), record('i2', 'i1')];

  it('extends a whole chain with an increment over its newest backup', () => {
    const choice = chooseBaseBackupKind({ fullEvery: 7, server, records: chain, stored: keysOf(chain) });
    assert.equal(choice.kind, 'incremental');
    if (choice.kind === 'incremental') {
      assert.equal(choice.parent.id, 'i2');
      assert.deepEqual(
        choice.chain.map((r) => r.id),
        ['f', 'i1', 'i2'],
      );
    }
  });

  it('takes a full, saying why, whenever the chain could not be combined or must end', () => {
    const full = (input: Partial<Parameters<typeof chooseBaseBackupKind>[0]>, records = chain) =>
      chooseBaseBackupKind({ fullEvery: 7, server, records, stored: keysOf(records), ...input });
    const reasons: Array<[string, ReturnType<typeof full>]> = [
      ['a full every base backup', full({ fullEvery: 1 })],
      ['17 or newer', full({ server: { ...server, major: 16 } })],
      ['summarize_wal is off', full({ server: { ...server, summarizeWal: false } })],
      ['pg_combinebackup 17 is not installed here', full({ canCombine: false })],
      ['holds 3 base backups \\(a full every 3\\)', full({ fullEvery: 3 })],
      ['timeline 2', full({ server: { ...server, timeline: 2 } })],
      ['now come from the standby', full({ server: { ...server, source: 'standby' } })],
      ['no earlier complete base backup', full({}, [])],
      [
        'chain of the newest base backup i2 is broken: base backup i1 is deleted',
        full({}, [chain[0]!, { ...chain[1]!, status: 'deleted' }, chain[2]!]),
      ],
      ['parent i1 of incremental base backup i2 is not recorded', full({}, [chain[0]!, chain[2]!])],
      [
        'i1 is missing from storage',
        full({ stored: new Set([...keysOf(chain)].filter((k) => !k.includes('/i1.tar'))) }),
      ],
      [
        'backup_manifest of base backup i2 is missing from storage',
        full({ stored: new Set([...keysOf(chain)].filter((k) => !k.includes('/i2.manifest'))) }),
      ],
      ['i2 has no stored backup_manifest', full({}, [chain[0]!, chain[1]!, { ...chain[2]!, manifestKey: null }])],
    ];
    for (const [why, choice] of reasons) {
      assert.equal(choice.kind, 'full', `expected a full for "${why}"`);
      if (choice.kind === 'full') assert.match(choice.reason, new RegExp(why));
    }
    const off = full({ server: { ...server, summarizeWal: false } });
    assert.match(off.kind === 'full' ? off.reason : '', /ALTER SYSTEM SET summarize_wal = on/);
  });

  it('ignores failed and running backups and other clusters when choosing the parent', () => {
    const records = [
      ...chain,
      record('failed', 'i2', { status: 'failed' }),
      record('other', null, { systemIdentifier: '7400000000000000002' }),
    ];
    const choice = chooseBaseBackupKind({ fullEvery: 7, server, records, stored: keysOf(records) });
    assert.equal(choice.kind === 'incremental' ? choice.parent.id : choice.reason, 'i2');
  });

  it('lists a chain full first and refuses a loop of parents', () => {
    const whole = chainOf('i2', chain);
    assert.deepEqual(whole.whole ? whole.members.map((r) => r.id) : whole.reason, ['f', 'i1', 'i2']);
    const loop = chainOf('a', [record('a', 'b'), record('b', 'a')]);
    assert.equal(loop.whole, false);
  });

  it("recognises pg_basebackup's refusals of an increment, and only those, as a reason to take a full", () => {
    // PostgreSQL 17's own words (src/backend/backup/basebackup_incremental.c).
    const refusals = [
      'pg_basebackup: error: could not initiate base backup: ERROR:  WAL summaries are required on timeline 1 from 0/4000028 to 0/6000028, but the summaries for that timeline and LSN range are incomplete',
      'ERROR:  WAL summaries are required on timeline 1 from 0/4000028 to 0/6000028, but no summaries for that timeline and LSN range exist',
      'ERROR:  incremental backups cannot be taken unless WAL summarization is enabled',
      'ERROR:  manifest requires WAL from final timeline 1 ending at 0/5000120, but this backup starts at 0/4000028',
      "ERROR:  timeline 2 found in manifest, but not in this server's history",
      'ERROR:  system identifier in backup manifest is 7716193705251237875, but database system identifier is 7716193705251237876',
    ];
    for (const message of refusals) assert.match(message, SUMMARIES_INCOMPLETE);
    for (const other of [
      'pg_basebackup: error: connection to server at "127.0.0.1", port 5432 failed: Connection refused',
      'FATAL:  number of requested standby connections exceeds max_wal_senders',
    ]) {
      assert.doesNotMatch(other, SUMMARIES_INCOMPLETE);
    }
  });
});
