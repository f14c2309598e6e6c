/** /api/v1: a database's restore drill (its settings, its drills, a drill now). */
import { z } from 'zod';
import { restoreDrillSettingsInput } from '../services/restore-drills/input.ts';
import { endpoint, type Endpoint } from './api-v1-endpoint.ts';
import { params } from './api-v1-schemas.ts';

const drillParams = params.name.extend({ drillId: z.string().min(1) });

export const drillEndpoints: Endpoint[] = [
  endpoint({
    method: 'get',
    path: '/databases/:name/restore-drill',
    operationId: 'getRestoreDrill',
    tag: 'restore drills',
    params: params.name,
    status: 200,
    summary: "A database's restore drill settings",
    response: '`{"settings":{"target","cron"}|null}`: the target without its password, or null when drills are off',
    handler: async ({ domain, actor, params: p }) => ({
      settings: await domain.restoreDrills.settings(actor(), p.name),
    }),
  }),
  endpoint({
    method: 'put',
    path: '/databases/:name/restore-drill',
    operationId: 'setRestoreDrill',
    tag: 'restore drills',
    params: params.name,
    body: restoreDrillSettingsInput,
    status: 200,
    summary: 'Set the restore drill',
    description:
      'Drills restore the newest complete backup into a fresh database on `target` (a postgres:// URL whose role may ' +
      'create databases; its password is sealed and never shown) on `cron` in the database’s time zone; a cron never ' +
      'given is monthly. Either field alone keeps the other as saved. Needs database.update; audited.',
    response: 'The settings as saved, the target without its password',
    handler: async ({ domain, actor, params: p, body }) => ({
      settings: await domain.restoreDrills.set(actor(), p.name, body),
    }),
  }),
  endpoint({
    method: 'delete',
    path: '/databases/:name/restore-drill',
    operationId: 'removeRestoreDrill',
    tag: 'restore drills',
    params: params.name,
    status: 200,
    summary: 'Switch restore drills off',
    response: '`{"settings":null}`; earlier drills stay listed',
    handler: async ({ domain, actor, params: p }) => ({
      settings: await domain.restoreDrills.remove(actor(), p.name),
    }),
  }),
  endpoint({
    method: 'get',
    path: '/databases/:name/restore-drills',
    operationId: 'listRestoreDrills',
    tag: 'restore drills',
    params: params.name,
    status: 200,
    summary: "List a database's restore drills",
    response:
      'Newest first: outcome, error, target (host, port, database; never a password), timeToUsableSeconds, restoredBytes, tablesChecked',
    handler: async ({ domain, actor, params: p }) => domain.restoreDrills.list(actor(), p.name),
  }),
  endpoint({
    method: 'post',
    path: '/databases/:name/restore-drills',
    operationId: 'startRestoreDrill',
    tag: 'restore drills',
    params: params.name,
    status: 202,
    summary: 'Run a restore drill now',
    description: 'Needs a drill target set (PUT …/restore-drill) and the verification.start right.',
    response: '`{"workflowId"}`; the drill appears in the list as it starts',
    async handler({ domain, actor, params: p }) {
      const started = await domain.restoreDrills.run(actor(), p.name);
      return { workflowId: started.workflowId };
    },
  }),
  endpoint({
    method: 'get',
    path: '/databases/:name/restore-drills/:drillId',
    operationId: 'getRestoreDrillRun',
    tag: 'restore drills',
    params: drillParams,
    status: 200,
    summary: 'Get one restore drill',
    response: 'The drill as listed',
    handler: async ({ domain, actor, params: p }) => domain.restoreDrills.get(actor(), p.name, p.drillId),
  }),
];
