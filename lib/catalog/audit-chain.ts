/**
 * The audit log as a chain: each entry's MAC covers its content and the MAC of the entry before it,
 * keyed by a key derived from the secret key. Editing, removing or inserting an entry in the
 * catalog breaks the chain at that place, and whoever can write the catalog but has no key file
 * cannot forge a chain that holds. Entries of an earlier key stay verifiable while the keyring
 * still holds that key.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import type pg from 'pg';
import type { KeyResolver } from '../crypto/chunked-gcm.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { errorMessage } from '../errors.ts';

/** An audit_log row as the driver returns it (bigints as strings, jsonb parsed). */
export interface AuditChainRow {
  id: string;
  at: Date;
  actor_user_id: string | null;
  actor: string;
  workspace_id: string | null;
  action: string;
  target_type: string | null;
  target_name: string | null;
  source: string | null;
  outcome: string;
  before: unknown;
  after: unknown;
  detail: string | null;
  chain_key: string | null;
  prev_mac: string | null;
  mac: string | null;
}

/** Serializes appends: the chain has one end, and two appends must not both link to it. */
export const AUDIT_CHAIN_LOCK = 7_341_102_026;

const chainKeys = new WeakMap<Buffer, Buffer>();

function chainKeyOf(secret: SecretKey): Buffer {
  let key = chainKeys.get(secret.bytes);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', secret.bytes, Buffer.alloc(0), 'hindsight audit chain v1', 32));
    chainKeys.set(secret.bytes, key);
  }
  return key;
}

/** Every field of the entry, in a fixed order, as JSON: what the MAC covers. */
function canonical(row: AuditChainRow): string {
  return JSON.stringify([
    String(row.id),
    row.at.toISOString(),
    row.actor_user_id === null ? null : String(row.actor_user_id),
    row.actor,
    row.workspace_id === null ? null : String(row.workspace_id),
    row.action,
    row.target_type,
    row.target_name,
    row.source,
    row.outcome,
    row.before ?? null,
    row.after ?? null,
    row.detail,
  ]);
}

export function entryMac(secret: SecretKey, prevMac: string | null, row: AuditChainRow): string {
  return createHmac('sha256', chainKeyOf(secret))
    .update(`${prevMac ?? ''}\n${canonical(row)}`)
    .digest('hex');
}

/** Links a just-inserted entry to the chain's end; runs inside the appending transaction, under the lock. */
export async function linkEntry(tx: pg.ClientBase, row: AuditChainRow, secret: SecretKey): Promise<void> {
  const { rows } = await tx.query<{ mac: string }>(
    'select mac from audit_log where mac is not null and id < $1 order by id desc limit 1',
    [row.id],
  );
  const prevMac = rows[0]?.mac ?? null;
  await tx.query('update audit_log set chain_key = $2, prev_mac = $3, mac = $4 where id = $1', [
    row.id,
    secret.id,
    prevMac,
    entryMac(secret, prevMac, row),
  ]);
}

export interface ChainReport {
  /** Entries whose MAC and link were checked. */
  checked: number;
  /** Entries from before the chain began (written before it existed). */
  unchained: number;
  /** The first chained entry, and whether entries before it were removed (by audit retention). */
  anchor: { id: number; afterRemoved: boolean } | null;
  broken: { id: number; at: Date; action: string; why: string } | null;
}

interface Walk {
  report: ChainReport;
  prev: AuditChainRow | null;
}

/** Checks one entry against the one before it; returns why the chain breaks here, or null. */
function checkEntry(walk: Walk, row: AuditChainRow, keys: KeyResolver): string | null {
  if (row.mac === null) {
    if (walk.report.anchor === null) {
      walk.report.unchained += 1;
      return null;
    }
    return 'it carries no MAC, though entries before it do: it was added or its MAC removed';
  }
  if (walk.report.anchor === null) walk.report.anchor = { id: Number(row.id), afterRemoved: row.prev_mac !== null };
  else if (row.prev_mac !== walk.prev?.mac)
    return `it does not follow entry ${walk.prev?.id}: the entries between them were removed, or it was moved`;
  let secret: SecretKey;
  try {
    secret = keys(row.chain_key ?? '');
  } catch (error) {
    return `its key ${row.chain_key} is not in the keyring (${errorMessage(error)})`;
  }
  if (entryMac(secret, row.prev_mac, row) !== row.mac) return 'its content does not match its MAC: it was changed';
  walk.report.checked += 1;
  return null;
}

/** Walks the whole log in id order, in pages, and stops at the first break. */
export async function verifyAuditChain(db: pg.Pool, keys: KeyResolver, pageSize = 2000): Promise<ChainReport> {
  const walk: Walk = { report: { checked: 0, unchained: 0, anchor: null, broken: null }, prev: null };
  let after = '0';
  for (;;) {
    const { rows } = await db.query<AuditChainRow>(
      'select * from audit_log where id > $1::bigint order by id limit $2',
      [after, pageSize],
    );
    for (const row of rows) {
      const why = checkEntry(walk, row, keys);
      if (why) {
        walk.report.broken = { id: Number(row.id), at: row.at, action: row.action, why };
        return walk.report;
      }
      walk.prev = row;
    }
    if (rows.length < pageSize) return walk.report;
    after = String(rows.at(-1)!.id);
  }
}
