/**
 * What /api/v1 needs beyond the console's view: personal API tokens (also the bearer check),
 * notifiers, PITR status and restore progress as one actor may use them. Every call goes through
 * services/authz.ts like the console's and the CLI's.
 */
import { HindsightError } from '../lib/errors.ts';
import type { AccessService } from './access.ts';
import { createActorNotifiers } from './actor-notifiers.ts';
import { createActorPitr } from './actor-pitr.ts';
import { createApiTokenService } from './api-tokens.ts';
import type { Actor, Authz } from './authz.ts';
import { createNotifierOperations } from './notifiers.ts';
import type { Operations } from './operations.ts';
import type { Runtime } from './runtime.ts';

export function createApiServices(runtime: Runtime, operations: Operations, authz: Authz, access: AccessService) {
  const notifierOps = createNotifierOperations(runtime);
  return {
    tokens: createApiTokenService(runtime, authz, access),
    notifiersFor: (actor: Actor) => createActorNotifiers({ runtime, notifiers: notifierOps, authz }, actor),
    pitrFor: (actor: Actor) => createActorPitr({ runtime, pitr: operations.pitr, authz }, actor),

    /** A restore's progress, for members of its database's workspace (its id names the database). */
    async restoreProgress(actor: Actor, workflowId: string) {
      const [kind, database] = workflowId.split('/');
      if (kind !== 'restore' || !database) throw new HindsightError('not_found', `restore "${workflowId}" does not exist (the id is the workflowId its start returned, restore/<db>/<time>)`);
      await authz.authorizeDatabase(actor, database, 'history.read');
      return operations.restoreProgress(workflowId);
    },
  };
}

export type ApiServices = ReturnType<typeof createApiServices>;
