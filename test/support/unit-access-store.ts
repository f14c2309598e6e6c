/**
 * An in-memory stand-in for the catalog's access lookups and audit table, so that a unit test checks
 * the decision logic alone; test/integration/access.test.ts runs the same code against the real catalog.
 * Two workspaces: 1 (named `firstWorkspace`) holds database shop, storage local and backup b1;
 * 2 (named ws2) holds database hr.
 */
import type { AccessStore, NewAuditEntry } from '../../lib/catalog/access.ts';

export function memoryAccessStore(firstWorkspace = 'ws1'): { store: AccessStore; audit: NewAuditEntry[] } {
  const audit: NewAuditEntry[] = [];
  const workspace = (id: number) => ({ id, name: id === 1 ? firstWorkspace : `ws${id}`, createdAt: new Date(0) });
  const databases: Record<string, number> = { shop: 1, hr: 2 };
  const store = {
    appendAudit: async (e: NewAuditEntry) => {
      audit.push(e);
      return audit.length;
    },
    workspaceById: async (id: number) => workspace(id),
    listWorkspaces: async () => [workspace(1), workspace(2)],
    databaseWorkspace: async (name: string) => databases[name],
    storageWorkspace: async (name: string) => (name === 'local' ? 1 : undefined),
    backupWorkspace: async (id: string) => (id === 'b1' ? { workspaceId: 1, database: 'shop' } : undefined),
  } as unknown as AccessStore;
  return { store, audit };
}
