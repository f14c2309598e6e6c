/** The restore wizard, storages page, "add database" page and notifier form, composed from their modules. */
import type { AccessService } from '../../../../../services/access.ts';
import type { Services } from '../../../../../services/index.ts';
import { notifierFormServices } from './notifier-form.ts';
import { restoreServices } from './restore.ts';
import type { ConsoleSetupServices, WorkspaceNames } from './setup-types.ts';
import { newDatabaseServices, storageServices } from './storages.ts';

export function createConsoleSetupServices(services: Services, access: AccessService): ConsoleSetupServices {
  const workspaceNames: WorkspaceNames = async (actor) =>
    new Map((await access.listWorkspaces(actor)).map((w) => [w.id, w.name]));
  return {
    ...restoreServices(services),
    ...storageServices(services, workspaceNames),
    ...newDatabaseServices(services, workspaceNames),
    ...notifierFormServices(services, workspaceNames),
  };
}
