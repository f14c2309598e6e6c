import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { holdChainWhileRestoring } from '../../lib/pitr/restore-hold.ts';
import { baseBackupsRead } from '../../lib/retention/pitr-facts.ts';
import type { BaseBackupHold } from '../../lib/catalog/base-backups-in-use.ts';

/** The catalog's holds as rows, with the same lease rule as its SQL: a hold counts until it expires. */
class Holds {
  rows: Array<{ workflowId: string; database: string; id: string; expiresAt: Date }> = [];

  async holdBaseBackups(hold: BaseBackupHold): Promise<void> {
    this.rows = this.rows.filter((r) => !(r.workflowId === hold.workflowId && hold.baseBackupIds.includes(r.id)));
    for (const id of hold.baseBackupIds) this.rows.push({ ...hold, id });
  }

  async releaseBaseBackups(workflowId: string): Promise<void> {
    this.rows = this.rows.filter((r) => r.workflowId !== workflowId);
  }

  async baseBackupsInUse(database: string, now: Date): Promise<Set<string>> {
    return new Set(this.rows.filter((r) => r.database === database && r.expiresAt > now).map((r) => r.id));
  }
}

type Base = { id: string; status: 'complete' | 'running'; parentId: string | null };
const complete = (id: string): Base => ({ id, status: 'complete', parentId: null });

describe('PITR retention facts: base backups in use', () => {
  it("marks a running restore's whole chain, and nothing once the restore released it", async () => {
    const holds = new Holds();
    const all: Base[] = [complete('full'), { id: 'inc', status: 'complete', parentId: 'full' }, complete('other')];
    const release = await holdChainWhileRestoring(
      holds,
      { workflowId: 'restore/shop/1', database: 'shop', baseBackupIds: ['full', 'inc'] },
      (error) => assert.fail(String(error)),
    );
    assert.deepEqual([...(await baseBackupsRead(holds, 'shop', all))].sort(), ['full', 'inc']);
    assert.deepEqual([...(await baseBackupsRead(holds, 'depot', all))], [], 'a hold is per database');
    await release();
    assert.deepEqual([...(await baseBackupsRead(holds, 'shop', all))], []);
  });

  it('ignores a hold whose lease expired (its worker died before releasing it)', async () => {
    const holds = new Holds();
    await holds.holdBaseBackups({
      workflowId: 'restore/shop/2',
      database: 'shop',
      baseBackupIds: ['full'],
      expiresAt: new Date('2026-12-01T10:00:00Z'),
    });
    assert.deepEqual([...(await baseBackupsRead(holds, 'shop', [], new Date('2026-12-01T09:59:00Z')))], ['full']);
    assert.deepEqual([...(await baseBackupsRead(holds, 'shop', [], new Date('2026-12-01T10:00:01Z')))], []);
  });

  it('keeps the parent of a running incremental base backup in use too', async () => {
    const all: Base[] = [complete('full'), { id: 'inc', status: 'running', parentId: 'full' }];
    assert.deepEqual([...(await baseBackupsRead(new Holds(), 'shop', all))], ['full']);
  });
});
