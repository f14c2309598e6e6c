/**
 * Incremental base backups (PostgreSQL 17+) form chains: a full, then increments, each taken
 * against the one before. An increment is only restorable with every ancestor, so whether a chain
 * is whole, and whether the next base backup may extend it, is decided here. Pure: the catalog and
 * a listing of storage supply the facts.
 */

export interface ChainRecord {
  id: string;
  kind: 'full' | 'incremental';
  parentId: string | null;
  status: 'running' | 'complete' | 'failed' | 'deleted';
  systemIdentifier: string | null;
  timeline: number | null;
  startTime: Date;
  source: 'primary' | 'standby';
  objectKey: string;
  manifestKey: string | null;
}

export type ChainOf<R extends ChainRecord> =
  { whole: true; members: R[] } | { whole: false; members: R[]; reason: string };

/** Chains longer than this are refused as corrupt rather than walked forever (a loop of parents). */
const MAX_CHAIN = 1000;

/**
 * The backups a restore of `id` combines, full first. Whole when every ancestor is complete and,
 * given `stored` (the keys storage holds), present in storage.
 */
export function chainOf<R extends ChainRecord>(
  id: string,
  records: readonly R[],
  stored?: ReadonlySet<string>,
): ChainOf<R> {
  const byId = new Map(records.map((r) => [r.id, r]));
  const members: R[] = [];
  let current = byId.get(id);
  if (!current) return { whole: false, members, reason: `base backup ${id} is not recorded` };
  for (;;) {
    if (current.status !== 'complete')
      return { whole: false, members: members.reverse(), reason: `base backup ${current.id} is ${current.status}` };
    if (stored && !stored.has(current.objectKey))
      return {
        whole: false,
        members: members.reverse(),
        reason: `base backup ${current.id} is missing from storage (${current.objectKey})`,
      };
    members.push(current);
    if (current.kind === 'full') return { whole: true, members: members.reverse() };
    if (members.length > MAX_CHAIN || current.parentId === null) {
      return {
        whole: false,
        members: members.reverse(),
        reason: `incremental base backup ${current.id} has no usable parent recorded`,
      };
    }
    const parent = byId.get(current.parentId);
    if (!parent)
      return {
        whole: false,
        members: members.reverse(),
        reason: `the parent ${current.parentId} of incremental base backup ${current.id} is not recorded`,
      };
    if (parent.systemIdentifier !== current.systemIdentifier) {
      return {
        whole: false,
        members: members.reverse(),
        reason: `the parent ${parent.id} of ${current.id} belongs to another cluster`,
      };
    }
    current = parent;
  }
}

export interface ServerFacts {
  major: number;
  /** `show summarize_wal` is on. */
  summarizeWal: boolean;
  timeline: number;
  systemIdentifier: string;
  source: 'primary' | 'standby';
}

export type KindChoice<R extends ChainRecord> =
  { kind: 'full'; reason: string } | { kind: 'incremental'; parent: R; chain: R[] };

export const SUMMARIZE_WAL_HOWTO =
  'run ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf(); on the server (no restart needed), and the next base backup after a full can be incremental';

/**
 * Whether the next base backup is a full or an increment over the newest complete one. A full
 * every `fullEvery` base backups bounds how many objects a restore combines; any doubt about the
 * chain (a missing ancestor or manifest, a timeline change, another source server) is answered
 * with a full, never with an increment that a restore could not combine.
 */
export function chooseBaseBackupKind<R extends ChainRecord>(input: {
  fullEvery: number;
  server: ServerFacts;
  records: readonly R[];
  stored?: ReadonlySet<string>;
  /** A pg_combinebackup of the server's major is installed here: without one no increment could be restored. */
  canCombine?: boolean;
}): KindChoice<R> {
  const { server, fullEvery } = input;
  if (fullEvery <= 1)
    return { kind: 'full', reason: 'incremental base backups are off for this database (a full every base backup)' };
  if (server.major < 17)
    return {
      kind: 'full',
      reason: `PostgreSQL ${server.major} cannot take incremental base backups (17 or newer can)`,
    };
  if (input.canCombine === false)
    return {
      kind: 'full',
      reason: `pg_combinebackup ${server.major} is not installed here, and an increment cannot be restored without it: install postgresql-client-${server.major}`,
    };
  if (!server.summarizeWal)
    return {
      kind: 'full',
      reason: `summarize_wal is off on the server, so it keeps no WAL summaries to take an increment from: ${SUMMARIZE_WAL_HOWTO}`,
    };
  const parent = input.records
    .filter((r) => r.status === 'complete' && r.systemIdentifier === server.systemIdentifier)
    .sort((a, b) => b.startTime.getTime() - a.startTime.getTime())[0];
  if (!parent)
    return { kind: 'full', reason: 'no earlier complete base backup of this cluster to take an increment against' };
  const chain = chainOf(parent.id, input.records, input.stored);
  if (!chain.whole)
    return { kind: 'full', reason: `the chain of the newest base backup ${parent.id} is broken: ${chain.reason}` };
  if (parent.manifestKey === null)
    return {
      kind: 'full',
      reason: `base backup ${parent.id} has no stored backup_manifest to take an increment against`,
    };
  if (input.stored && !input.stored.has(parent.manifestKey))
    return {
      kind: 'full',
      reason: `the backup_manifest of base backup ${parent.id} is missing from storage (${parent.manifestKey})`,
    };
  if (parent.timeline !== server.timeline)
    return {
      kind: 'full',
      reason: `the server is on timeline ${server.timeline}, base backup ${parent.id} on timeline ${parent.timeline}`,
    };
  if (parent.source !== server.source)
    return {
      kind: 'full',
      reason: `base backups now come from the ${server.source}, base backup ${parent.id} came from the ${parent.source} (WAL summaries belong to one server)`,
    };
  if (chain.members.length >= fullEvery)
    return {
      kind: 'full',
      reason: `the chain of ${parent.id} holds ${chain.members.length} base backups (a full every ${fullEvery})`,
    };
  return { kind: 'incremental', parent, chain: chain.members };
}

/**
 * pg_basebackup's refusal when the server's WAL summaries do not cover the range since the parent
 * (summarize_wal was off for a while, e.g. across a restart, or the summaries were removed): the
 * chain cannot be extended, and a full is taken instead.
 */
export const SUMMARIES_INCOMPLETE =
  /WAL summaries are required|summaries for that timeline and LSN range are incomplete|incremental backups cannot be taken unless WAL summarization is enabled|manifest requires WAL from (initial |final )?timeline|found in manifest|in backup manifest|does not support incremental backup/i;
