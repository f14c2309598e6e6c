/** Everything the console's pages ask of the server, bound to the signed-in actor by the page. */
import type { BackupReads } from '../../../../../services/backups/read.ts';
import type { BackupJobs } from '../../../../../services/backups/start.ts';
import type { RestoreStarter } from '../../../../../services/restores/start.ts';
import type { VerificationService } from '../../../../../services/verifications/service.ts';
import type { ConsoleDatabaseServices } from './database.ts';
import type { ConsoleDatabaseSettingsServices } from './database-settings.ts';
import type { ConsoleHookServices } from './hooks.ts';
import type { ConsoleSettingsServices } from './settings.ts';
import type { ConsoleSetupServices } from './setup-types.ts';
import type { ConsoleSso } from './sso.ts';
import type { ConsolePitrServices } from './pitr.ts';
import type { ConsoleSecondFactors } from './second-factors.ts';
import type { ConsolePitrProof, ConsoleServer } from './servers.ts';
import type {
  ActorRef,
  ConsoleAuth,
  ConsoleNotifiers,
  ConsoleOverview,
  ConsolePeople,
  ConsoleUser,
  DatabaseStatusReport,
} from './types.ts';

export interface ConsoleServices {
  /** What the actor may see: databases, storages and backups of their workspaces. */
  overview(actor: ActorRef): Promise<ConsoleOverview>;
  /** Backups started now, cancelled, copied (services/backups/start.ts): pages call it directly. */
  backups: BackupJobs;
  /** Backups read and downloaded (services/backups/read.ts): the download route streams through it. */
  backupReads: BackupReads;
  /** Verifications asked for now (services/verifications/service.ts). */
  verifications: VerificationService;
  /** The one restore starter (services/restores/start.ts), for a backup or a point in time. */
  restores: RestoreStarter;
  whoami(actor: ActorRef): Promise<ConsoleUser>;
  auth: ConsoleAuth;
  /** Single sign-on (OpenID Connect) and invitations by link. */
  sso: ConsoleSso;
  people: ConsolePeople;
  /** TOTP, recovery codes and passkeys: the second step of signing in and the security page. */
  secondFactors: ConsoleSecondFactors;
  /** Hook scripts and the read-only backup role of a database. */
  hooks: ConsoleHookServices;
  /** The database page: backups, live jobs, charts, schedule, retention; and verification reports. */
  database: ConsoleDatabaseServices;
  /** A database's settings page: connection, storages, verification, health; removing it. */
  databaseSettings: ConsoleDatabaseSettingsServices;
  /** Notifiers with their health and the recent deliveries. */
  notifiers(actor: ActorRef): Promise<ConsoleNotifiers>;
  /** Sends a test message now; the receiver's error comes back as it said it. */
  testNotifier(actor: ActorRef, name: string): Promise<{ ok: boolean; detail: string; elapsedMs: number }>;
  /** Installation facts (no secrets) and the user's personal API tokens. */
  settings: ConsoleSettingsServices;
  /** Every database the actor may read, with health, backup age, PITR window and problems; problems first. */
  databaseStatus(actor: ActorRef): Promise<DatabaseStatusReport>;
  /** The database page's PITR panel: window, RPO, slot, base backups; switching on and off, settings. */
  pitr: ConsolePitrServices;
  /** The restore wizard, storages, adding a database and the notifier form (./setup.ts). */
  setup: ConsoleSetupServices;
  /** Servers and the databases each registered (./servers.ts). */
  servers(actor: ActorRef): Promise<ConsoleServer[]>;
  /** The overview's PITR proof line: per drilled server, its window proven up to (one catalog query). */
  pitrProofs(actor: ActorRef): Promise<ConsolePitrProof[]>;
}
