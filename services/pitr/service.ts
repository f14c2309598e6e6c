/**
 * Point-in-time recovery as one actor may drive it: turning streaming on or off changes the
 * database (editor), a base backup is a backup; each is authorized and audited by the guard like
 * the logical ones. A point-in-time restore starts in services/restores/start.ts.
 */
import { HindsightError } from '../../lib/errors.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { disablePitr, enablePitr, startBaseBackup } from './archive.ts';
import type { EnablePitrInput, PitrSettingsInput } from './input.ts';
import { settingsOf, updatePitrSettings } from './settings.ts';
import { walStatus } from './status.ts';

export class PitrService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  enable(actor: Actor, database: string, raw: EnablePitrInput = {}) {
    const settings = { ...raw, ...(raw.baseBackupUrl ? { baseBackupUrl: '(a standby; its URL is sealed)' } : {}) };
    return this.ctx.guard.run(actor, { database }, 'database.update', () => enablePitr(this.ctx, database, raw), {
      before: { pitr: false },
      after: (r) => ({ pitr: true, archiver: r.archiverWorkflowId, settings }),
    });
  }

  /** Changes the settings while PITR is on; the audit log records them before and after. */
  async updateSettings(actor: Actor, database: string, raw: PitrSettingsInput) {
    const { guard, runtime } = this.ctx;
    const granted = await guard.require(actor, { database }, 'database.update');
    const config = await runtime.catalog.wal.config(database);
    if (config.archiveDatabase) {
      throw new HindsightError(
        'conflict',
        `database "${database}" shares the PITR archive of "${config.archiveDatabase}": change the settings there (hindsight db pitr ${config.archiveDatabase} on …, or its PITR panel)`,
      );
    }
    const before = settingsOf(config);
    return guard.audited(actor, granted, 'database.update', () => updatePitrSettings(this.ctx, database, raw), {
      before: { pitr: before },
      after: (r) => ({ pitr: r }),
    });
  }

  disable(actor: Actor, database: string, options: { waitMs?: number } = {}) {
    return this.ctx.guard.run(actor, { database }, 'database.update', () => disablePitr(this.ctx, database, options), {
      before: { pitr: true },
      after: () => ({ pitr: false }),
    });
  }

  startBaseBackup(actor: Actor, database: string) {
    return this.ctx.guard.run(
      actor,
      { database },
      'backup.start',
      () => startBaseBackup(this.ctx, database, 'manual'),
      {
        after: (r) => ({ baseBackupId: r.baseBackupId, workflowId: r.workflowId }),
      },
    );
  }

  walStatus(actor: Actor, database: string) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () => walStatus(this.ctx, database));
  }
}
