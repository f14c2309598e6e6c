/**
 * The PITR panel of the database page: the archive's state (services/pitr walStatus), the
 * recoverable windows as lib/pitr/window.ts decides them for the restore wizard (so the panel's
 * window is the one a restore plans against), the newest base backups and the base-backup
 * schedule's next runs; and the panel's actions, each authorized and audited by services/pitr.
 */
import { previewCron, type CronPreview } from '../../../../../lib/schedule/cron.ts';
import type { Services } from '../../../../../services/index.ts';
import type { PitrSettingsInput, PitrSettingsView, WalStatus } from '../../../../../services/pitr/input.ts';
import { settingsOf } from '../../../../../services/pitr/settings.ts';
import { slotNameFor } from '../../../../../lib/wal/server.ts';
import type { ActorRef } from './types.ts';
import type { ConsoleRecoveryWindow } from './setup-types.ts';
import { windowsView } from './windows.ts';

const SHOWN_BASE_BACKUPS = 5;

export type ConsolePitrWindow = ConsoleRecoveryWindow;

export interface ConsolePitrPanel {
  database: string;
  enabled: boolean;
  timezone: string;
  settings: PitrSettingsView;
  /** The WAL receiver's application_name, which synchronous_standby_names must name in synchronous mode. */
  standbyName: string;
  /** What the "switch on" form offers: the saved settings, or the defaults. */
  defaults: { baseSchedule: string; slotMaxMb: number; partialIntervalSeconds: number };
  status: WalStatus;
  windows: ConsolePitrWindow[];
  gaps: string[];
  unusableBaseBackups: Array<{ id: string; reason: string }>;
  windowError: string | null;
  checkedAt: string;
  /** The newest restorable moment and how old it is. */
  newestPoint: { at: string; ageSeconds: number } | null;
  baseBackups: Array<{
    id: string;
    status: string;
    kind: 'full' | 'incremental';
    startTime: string;
    stopTime: string | null;
    storedBytes: number | null;
    error: string | null;
  }>;
  nextBaseRuns: CronPreview | null;
  allowed: { update: boolean; baseBackup: boolean };
}

export interface PitrFormSettings {
  baseSchedule: string | null;
  slotMaxMb: number | null;
  partialIntervalMs: number;
  slotOverLimit?: 'alert' | 'drop';
  synchronous?: boolean;
}

export interface ConsolePitrServices {
  panel(actor: ActorRef, database: string): Promise<ConsolePitrPanel>;
  /** The zone the base-backup schedule runs in (the database's). */
  timezone(actor: ActorRef, database: string): Promise<string>;
  /** Switches PITR on with these settings and takes a first base backup. */
  enable(actor: ActorRef, database: string, settings: PitrFormSettings): Promise<{ baseBackupId: string | null }>;
  update(actor: ActorRef, database: string, settings: PitrSettingsInput): Promise<PitrSettingsView>;
  disable(actor: ActorRef, database: string): Promise<{ slotDropped: boolean }>;
  baseBackup(actor: ActorRef, database: string): Promise<{ baseBackupId: string }>;
}

/** The "switch on" form's values when nothing is saved yet: a nightly base backup, a 2 GiB slot alert, 1 s partials. */
export const PITR_DEFAULTS = { baseSchedule: '0 2 * * *', slotMaxMb: 2048 } as const;

function newestPointOf(windows: ConsolePitrWindow[], checkedAt: string): ConsolePitrPanel['newestPoint'] {
  const to = windows.map((w) => w.to).sort()[windows.length - 1];
  return to ? { at: to, ageSeconds: Math.max(0, (Date.parse(checkedAt) - Date.parse(to)) / 1000) } : null;
}

async function panel(services: Services, actor: ActorRef, database: string): Promise<ConsolePitrPanel> {
  const { catalog } = services.ctx.runtime;
  const { guard } = services.ctx;
  // The read is authorized by the service (history.read); what the server or Temporal cannot say, it leaves null.
  const status = await services.pitr.walStatus(actor, database);
  const [config, db, bases, workspaceId] = await Promise.all([
    catalog.wal.config(database),
    catalog.getDatabase(database),
    // A database sharing another's archive shows that archive's base backups.
    catalog.wal.baseBackupsOf(status.sharesArchiveOf ?? database),
    catalog.access.databaseWorkspace(database),
  ]);
  const chain = config.enabled ? await windowsView(catalog, database) : null;
  const may = (action: 'database.update' | 'backup.start') =>
    workspaceId !== undefined && guard.can(actor, workspaceId, action);
  const settings = settingsOf(config);
  return {
    database,
    enabled: config.enabled,
    timezone: db.timezone,
    settings,
    standbyName: slotNameFor(database),
    defaults: {
      baseSchedule: settings.baseSchedule ?? PITR_DEFAULTS.baseSchedule,
      slotMaxMb: settings.slotMaxMb ?? PITR_DEFAULTS.slotMaxMb,
      partialIntervalSeconds: settings.partialIntervalMs / 1000,
    },
    status,
    windows: chain?.windows ?? [],
    gaps: chain?.gaps.map((g) => g.text) ?? [],
    unusableBaseBackups: chain?.unusableBaseBackups ?? [],
    windowError: chain?.error ?? null,
    checkedAt: chain?.checkedAt ?? new Date().toISOString(),
    newestPoint: chain ? newestPointOf(chain.windows, chain.checkedAt) : null,
    baseBackups: bases.slice(0, SHOWN_BASE_BACKUPS).map((b) => ({
      id: b.id,
      status: b.status,
      kind: b.kind,
      startTime: b.startTime.toISOString(),
      stopTime: b.stopTime?.toISOString() ?? null,
      storedBytes: b.storedBytes,
      error: b.error,
    })),
    nextBaseRuns: config.enabled && settings.baseSchedule ? previewCron(settings.baseSchedule, db.timezone) : null,
    allowed: { update: may('database.update'), baseBackup: may('backup.start') },
  };
}

export function createConsolePitrServices(services: Services): ConsolePitrServices {
  return {
    panel: (actor, database) => panel(services, actor, database),
    timezone: async (actor, database) => (await services.databases.get(actor, database)).timezone,
    async enable(actor, database, settings) {
      const result = await services.pitr.enable(actor, database, {
        baseSchedule: settings.baseSchedule,
        partialIntervalMs: settings.partialIntervalMs,
        ...(settings.slotMaxMb !== null ? { slotMaxMb: settings.slotMaxMb } : {}),
        ...(settings.slotOverLimit !== undefined ? { slotOverLimit: settings.slotOverLimit } : {}),
        ...(settings.synchronous !== undefined ? { synchronous: settings.synchronous } : {}),
      });
      // Turning on keeps a limit saved earlier; an empty field asks for none.
      if (
        settings.slotMaxMb === null &&
        (await services.ctx.runtime.catalog.wal.config(database)).slotMaxBytes !== null
      )
        await services.pitr.updateSettings(actor, database, { slotMaxMb: null });
      return { baseBackupId: result.baseBackup?.baseBackupId ?? null };
    },
    update: (actor, database, settings) => services.pitr.updateSettings(actor, database, settings),
    async disable(actor, database) {
      const result = await services.pitr.disable(actor, database);
      return { slotDropped: result.slotDropped };
    },
    async baseBackup(actor, database) {
      const started = await services.pitr.startBaseBackup(actor, database);
      return { baseBackupId: started.baseBackupId };
    },
  };
}
