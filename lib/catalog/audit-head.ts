/**
 * The audit chain's end, copied to every storage that holds backups with each catalog backup
 * (`hindsight-audit/head-<entry id>.json`). A chain inside the catalog cannot show its own end cut
 * off; a head in storage can: `hindsight audit verify` requires the chain to still hold the entry
 * each storage's newest head names, with the same MAC. A head carries its own MAC under the chain
 * key, so a head written by someone without the key is refused, not trusted.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { KeyResolver } from '../crypto/chunked-gcm.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { errorMessage } from '../errors.ts';
import { removedUnlessLocked } from '../storage/locked.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { writeJsonObject } from '../storage/shared/json-object.ts';
import type { Queryable } from './db.ts';

export const AUDIT_HEAD_PREFIX = 'hindsight-audit';
const HEADS_KEPT = 30;

export const auditHeadSchema = z.object({
  format: z.literal('hindsight-audit-head'),
  entryId: z.number().int().positive(),
  entryMac: z.string().regex(/^[0-9a-f]{64}$/),
  chainKey: z.string(),
  writtenAt: z.string(),
  /** The key whose derived key made headMac: the current key when the head was written. */
  macKey: z.string(),
  headMac: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AuditHead = z.infer<typeof auditHeadSchema>;

const headKey = (entryId: number) => `${AUDIT_HEAD_PREFIX}/head-${String(entryId).padStart(12, '0')}.json`;

function headMacOf(secret: SecretKey, head: Omit<AuditHead, 'headMac'>): string {
  const key = Buffer.from(hkdfSync('sha256', secret.bytes, Buffer.alloc(0), 'hindsight audit head v1', 32));
  return createHmac('sha256', key)
    .update(JSON.stringify([head.format, head.entryId, head.entryMac, head.chainKey, head.writtenAt, head.macKey]))
    .digest('hex');
}

/** The newest chained entry, or null when the chain has not begun. */
export async function chainEnd(db: Queryable): Promise<{ entryId: number; entryMac: string; chainKey: string } | null> {
  const { rows } = await db.query<{ id: string; mac: string; chain_key: string }>(
    'select id, mac, chain_key from audit_log where mac is not null order by id desc limit 1',
  );
  const row = rows[0];
  return row ? { entryId: Number(row.id), entryMac: row.mac, chainKey: row.chain_key } : null;
}

/** Writes the head and keeps the newest HEADS_KEPT in the storage. */
export async function writeAuditHead(
  driver: StorageDriver,
  end: { entryId: number; entryMac: string; chainKey: string },
  secret: SecretKey,
): Promise<void> {
  const body = {
    format: 'hindsight-audit-head' as const,
    ...end,
    writtenAt: new Date().toISOString(),
    macKey: secret.id,
  };
  await writeJsonObject(driver, headKey(end.entryId), { ...body, headMac: headMacOf(secret, body) });
  const heads = (await driver.list(AUDIT_HEAD_PREFIX)).map((o) => o.key).sort();
  // An old head a storage still locks (S3 Object Lock) stays until a later write after its date.
  for (const old of heads.slice(0, Math.max(0, heads.length - HEADS_KEPT)))
    await removedUnlessLocked(driver.remove(old));
}

/** The storage's newest head whose MAC holds, or why none could be read. */
export async function newestAuditHead(
  driver: StorageDriver,
  keys: KeyResolver,
): Promise<{ head: AuditHead | null; problem?: string }> {
  const listed = (await driver.list(AUDIT_HEAD_PREFIX)).map((o) => o.key).sort();
  const newest = listed.at(-1);
  if (!newest) return { head: null };
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await driver.openRead(newest)) chunks.push(chunk as Buffer);
    const head = auditHeadSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    const { headMac, ...body } = head;
    const expected = Buffer.from(headMacOf(keys(head.macKey), body), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(headMac, 'hex')))
      return { head: null, problem: `${newest} does not carry a valid MAC: it was not written by this installation` };
    return { head };
  } catch (error) {
    return { head: null, problem: `${newest} is unreadable: ${errorMessage(error)}` };
  }
}
