/**
 * `hindsight audit verify`: the chain inside the catalog (lib/catalog/audit-chain.ts), then its end
 * against the head each storage holds (lib/catalog/audit-head.ts), so that entries cut from the end
 * of the log are found too.
 */
import type { ChainReport } from '../lib/catalog/audit-chain.ts';
import { newestAuditHead } from '../lib/catalog/audit-head.ts';
import { errorMessage } from '../lib/errors.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import type { Runtime } from './runtime.ts';

export interface HeadCheck {
  storage: string;
  /** The entry the storage's newest head names, when it holds one. */
  entryId: number | null;
  writtenAt: string | null;
  ok: boolean;
  detail: string;
}

export interface AuditVerification {
  chain: ChainReport;
  heads: HeadCheck[];
  holds: boolean;
}

async function checkStorage(runtime: Runtime, name: string): Promise<HeadCheck> {
  const driver = createStorageDriver(name, await runtime.catalog.storageConfig(name));
  try {
    const { head, problem } = await newestAuditHead(driver, runtime.keyring.resolve);
    if (!head) return { storage: name, entryId: null, writtenAt: null, ok: !problem, detail: problem ?? 'no head yet' };
    const mac = await runtime.catalog.access.auditEntryMac(head.entryId);
    const ok = mac === head.entryMac;
    const detail = ok
      ? `the chain holds entry ${head.entryId}, its end when the head was written`
      : mac !== undefined
        ? `entry ${head.entryId} differs from the one this storage recorded on ${head.writtenAt}: it was rewritten`
        : `entry ${head.entryId}, the chain's end on ${head.writtenAt}, is gone: entries were cut from the end of the log`;
    return { storage: name, entryId: head.entryId, writtenAt: head.writtenAt, ok, detail };
  } catch (error) {
    return { storage: name, entryId: null, writtenAt: null, ok: false, detail: errorMessage(error) };
  } finally {
    await driver.close?.().catch(() => undefined);
  }
}

export async function verifyAuditLog(runtime: Runtime): Promise<AuditVerification> {
  const chain = await runtime.catalog.access.verifyAudit();
  const heads: HeadCheck[] = [];
  for (const storage of await runtime.catalog.listStorages()) heads.push(await checkStorage(runtime, storage.name));
  return { chain, heads, holds: chain.broken === null && heads.every((h) => h.ok) };
}
