/**
 * A database's recoverable windows as the console shows them, decided by lib/pitr/window.ts
 * (storage-checked, the head confirmed by the server): the restore wizard and the database page's
 * PITR panel read the same windows a restore's start and its workflow plan against.
 */
import type { Catalog } from '../../../../../lib/catalog/catalog.ts';
import { errorMessage } from '../../../../../lib/errors.ts';
import { recoverableWindows } from '../../../../../lib/pitr/window.ts';
import type { ConsoleRecoveryWindow } from './setup-types.ts';

export interface ConsoleWindowsView {
  windows: ConsoleRecoveryWindow[];
  gaps: Array<{ text: string; timeline: number }>;
  unusableBaseBackups: Array<{ id: string; reason: string }>;
  checkedAt: string;
  /** Why the windows could not be read (storage or catalog unreachable); the lists are then empty. */
  error: string | null;
}

export async function windowsView(catalog: Catalog, database: string): Promise<ConsoleWindowsView> {
  try {
    const view = await recoverableWindows(catalog, database);
    return {
      windows: view.windows.map((w) => ({
        from: w.from.time,
        to: w.to.time,
        timeline: w.timeline,
        baseBackupId: w.baseBackupId,
        text: w.text,
        endExact: w.endExact !== false,
        endNote: w.endNote ?? null,
      })),
      gaps: view.gaps.map((g) => ({ text: g.text, timeline: g.timeline })),
      unusableBaseBackups: view.unusableBaseBackups,
      checkedAt: view.checkedAt,
      error: null,
    };
  } catch (error) {
    const none = { windows: [], gaps: [], unusableBaseBackups: [] };
    return { ...none, checkedAt: new Date().toISOString(), error: errorMessage(error) };
  }
}
