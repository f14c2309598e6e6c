/** /api/v1: storages and notifiers. */
import { z } from 'zod';
import { configChangeSchema } from '../lib/config-change.ts';
import { notificationEventSchema } from '../lib/notify/config.ts';
import type { Actor } from '../services/authz.ts';
import type { Services } from '../services/index.ts';
import { endpoint, workspaceId, type Endpoint } from './api-v1-endpoint.ts';
import { params, responses, schemas } from './api-v1-schemas.ts';

/** PATCH bodies: the fields to change, merged over the stored ones (secrets not named are kept). */
const storageChange = z.object({ config: configChangeSchema }).strict();
const notifierChange = z
  .object({ config: configChangeSchema.optional(), events: z.array(notificationEventSchema).min(1).optional() })
  .strict()
  .refine((b) => b.config !== undefined || b.events !== undefined, 'give config, events or both');

const mergeNote =
  'config holds only the fields to change: they are merged over the stored ones ("field": null drops one), secrets not named are kept, and the type cannot change (add a new one instead).';

type Remove = (domain: Services, actor: Actor, name: string) => Promise<unknown>;

/** DELETE /<kind>s/:name through the kind's service; the answer names what was removed. */
function removal(kind: 'storage' | 'notifier', remove: Remove): Endpoint {
  const title = `${kind[0]!.toUpperCase()}${kind.slice(1)}`;
  return endpoint({
    method: 'delete',
    path: `/${kind}s/:name`,
    operationId: `remove${title}`,
    tag: `${kind}s`,
    params: params.name,
    status: 200,
    summary: `Remove a ${kind}`,
    response: 'The name removed',
    async handler({ domain, actor, params: p }) {
      await remove(domain, actor(), p.name);
      return { removed: p.name };
    },
  });
}

export const storagesEndpoints: Endpoint[] = [
  // Storages
  endpoint({
    method: 'get',
    path: '/storages',
    operationId: 'listStorages',
    responseSchema: responses.storages,
    tag: 'storages',
    status: 200,
    summary: 'List storages',
    response: 'Storages without their secrets',
    handler: async ({ domain, actor }) => domain.storages.list(actor()),
  }),
  endpoint({
    method: 'post',
    path: '/storages',
    operationId: 'saveStorage',
    tag: 'storages',
    body: schemas.addStorage,
    status: 201,
    summary: 'Add or change a storage',
    description:
      'config is the driver\'s settings ({"type":"s3", …}); it is tested with a write, read and delete unless skipCheck. What runs programs or reaches paths on the shared worker (an rclone binary or config text, rclone flags outside the allow-list, a local path outside the workspace\'s storage root) is the instance owner\'s: anyone else gets 403 naming why.',
    response: 'The storage without its secrets',
    handler: async (ctx) =>
      ctx.domain.storages.save(ctx.actor(), ctx.body.name, ctx.body.config, {
        skipCheck: ctx.body.skipCheck,
        workspaceId: await workspaceId(ctx, ctx.body.workspace),
      }),
  }),
  endpoint({
    method: 'patch',
    path: '/storages/:name',
    operationId: 'updateStorage',
    tag: 'storages',
    params: params.name,
    body: storageChange,
    status: 200,
    summary: 'Change some settings of a storage',
    description: `${mergeNote} The merged storage must pass the connection test (write, read, delete) or nothing is saved.`,
    response: 'The storage without its secrets',
    handler: async ({ domain, actor, params: p, body }) => domain.storages.update(actor(), p.name, body.config),
  }),
  removal('storage', (domain, actor, name) => domain.storages.remove(actor, name)),
  endpoint({
    method: 'post',
    path: '/storages/:name/test',
    operationId: 'testStorage',
    tag: 'storages',
    params: params.name,
    status: 200,
    summary: 'Test a storage',
    response: 'Each step of the write/read/delete test and its time',
    handler: async ({ domain, actor, params: p }) => domain.storages.test(actor(), p.name),
  }),

  // Notifiers
  endpoint({
    method: 'get',
    path: '/notifiers',
    operationId: 'listNotifiers',
    tag: 'notifiers',
    status: 200,
    summary: 'List notifiers',
    response: 'Notifiers with their settings (no secrets) and health',
    handler: async ({ domain, actor }) => domain.notifiers.list(actor()),
  }),
  endpoint({
    method: 'put',
    path: '/notifiers/:name',
    operationId: 'saveNotifier',
    tag: 'notifiers',
    params: params.name,
    body: schemas.saveNotifier,
    status: 200,
    summary: 'Create or change a notifier',
    description:
      'config is {"type":"email"|"slack"|"discord"|"teams"|"telegram"|"webhook", …}; its secrets are sealed in the catalog and never returned. workspace applies when creating.',
    response: 'The notifier without its secrets',
    handler: async (ctx) =>
      ctx.domain.notifiers.save(
        ctx.actor(),
        ctx.params.name,
        ctx.body.config,
        ctx.body.events,
        await workspaceId(ctx, ctx.body.workspace),
      ),
  }),
  endpoint({
    method: 'patch',
    path: '/notifiers/:name',
    operationId: 'updateNotifier',
    tag: 'notifiers',
    params: params.name,
    body: notifierChange,
    status: 200,
    summary: 'Change some settings or the events of a notifier',
    description: `${mergeNote} events, when given, replace the ones it hears of.`,
    response: 'The notifier without its secrets',
    handler: async ({ domain, actor, params: p, body }) => domain.notifiers.update(actor(), p.name, body),
  }),
  removal('notifier', (domain, actor, name) => domain.notifiers.remove(actor, name)),
  endpoint({
    method: 'post',
    path: '/notifiers/:name/test',
    operationId: 'testNotifier',
    tag: 'notifiers',
    params: params.name,
    status: 200,
    summary: 'Send a test message',
    response: "ok, and the receiver's answer or error in its own words",
    handler: async ({ domain, actor, params: p }) => domain.notifiers.test(actor(), p.name),
  }),
];
