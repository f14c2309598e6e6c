/** /api/v1: servers, backed up as a whole (docs/servers.md). */
import { z } from 'zod';
import { nameSchema, NAME_RULE } from '../lib/names.ts';
import { addServerInput, serverPitrInput, serverSettings, updateServerInput } from '../services/servers/input.ts';
import { endpoint, workspaceId, type Endpoint } from './api-v1-endpoint.ts';
import { params } from './api-v1-schemas.ts';

const addServerBody = addServerInput
  .omit({ workspaceId: true })
  .extend({ workspace: nameSchema(`workspace must be ${NAME_RULE}`).optional() })
  .strict();

export const serversEndpoints: Endpoint[] = [
  endpoint({
    method: 'get',
    path: '/servers',
    operationId: 'listServers',
    tag: 'servers',
    status: 200,
    summary: 'List servers',
    response: 'Servers with their settings and identity (no password)',
    handler: async ({ domain, actor }) => (await domain.servers.list(actor())).map(serverSettings),
  }),
  endpoint({
    method: 'post',
    path: '/servers',
    operationId: 'addServer',
    tag: 'servers',
    body: addServerBody,
    status: 201,
    summary: 'Add a server',
    description:
      'The server is connected to first: its version and system identifier are recorded, or nothing is saved. With allDatabases, each run registers its new databases as <server>-<datname>, marks the ones it no longer has as dropped and backs up every one.',
    response: 'The server without its password',
    handler: async ({ domain, actor, body, services }) => {
      const { workspace, ...input } = body;
      const ws = await workspaceId({ services, actor }, workspace);
      return serverSettings(await domain.servers.add(actor(), { ...input, ...(ws ? { workspaceId: ws } : {}) }));
    },
  }),
  endpoint({
    method: 'get',
    path: '/servers/:name',
    operationId: 'getServer',
    tag: 'servers',
    params: params.name,
    status: 200,
    summary: 'One server',
    response:
      'Its settings, its databases (dropped ones with droppedAt), its last and next runs, its PITR and window, its PITR drills (schedule, provenUpTo, last outcome, recent drills)',
    handler: async ({ domain, actor, params: p }) => {
      const { server, databases, nextRuns, pitr, drills } = await domain.servers.show(actor(), p.name);
      return {
        ...serverSettings(server),
        lastRunAt: server.lastRunAt,
        lastRun: server.lastRun,
        databases,
        nextRuns,
        pitr,
        drills,
      };
    },
  }),
  endpoint({
    method: 'patch',
    path: '/servers/:name',
    operationId: 'updateServer',
    tag: 'servers',
    params: params.name,
    body: updateServerInput,
    status: 200,
    summary: 'Change what its runs do',
    description:
      'Any of schedule (null: none), timezone, storages, excludes, includePostgres, allDatabases, retention, verifyAfterBackup, pitrDrillSchedule (a cron; null: drills off). Databases it registered keep their own settings.',
    response: 'The server without its password',
    handler: async ({ domain, actor, params: p, body }) =>
      serverSettings(await domain.servers.update(actor(), p.name, body)),
  }),
  endpoint({
    method: 'put',
    path: '/servers/:name/pitr',
    operationId: 'serverPitrOn',
    tag: 'servers',
    params: params.name,
    body: serverPitrInput.omit({ archiverRunForMs: true }).strict(),
    status: 200,
    summary: 'Turn PITR on for the whole server',
    description:
      "One WAL archive for the cluster (slot, stream, chain monitor, base backups) that every database of the server shares, those discovered later too. A database that archived the cluster alone is taken over. The settings are those of a database's PITR; again with other settings changes them.",
    response: 'The database that keeps the archive, whether it was taken over, the databases that joined it',
    handler: async ({ domain, actor, params: p, body }) => {
      const { baseBackup, ...r } = await domain.servers.pitrOn(actor(), p.name, body);
      return { ...r, baseBackupId: baseBackup?.baseBackupId ?? null };
    },
  }),
  endpoint({
    method: 'delete',
    path: '/servers/:name/pitr',
    operationId: 'serverPitrOff',
    tag: 'servers',
    params: params.name,
    status: 200,
    summary: 'Turn PITR off for the whole server',
    description:
      'Stops streaming and drops the slot; the archive stays in storage. Refused while a database registered on its own shares the archive.',
    response: 'Whether the slot was dropped and which databases left the archive',
    handler: async ({ domain, actor, params: p }) => domain.servers.pitrOff(actor(), p.name),
  }),
  endpoint({
    method: 'post',
    path: '/servers/:name/runs',
    operationId: 'runServer',
    tag: 'servers',
    params: params.name,
    status: 202,
    summary: 'Run it now',
    response: 'The workflowId of the run: discovery, then a backup of every database',
    handler: async ({ domain, actor, params: p }) => ({
      workflowId: (await domain.servers.run(actor(), p.name)).workflowId,
    }),
  }),
  endpoint({
    method: 'post',
    path: '/servers/:name/drills',
    operationId: 'drillServer',
    tag: 'servers',
    params: params.name,
    status: 202,
    summary: 'Run a PITR drill now',
    description:
      "The server's archive is restored into a sandbox to a random time inside each recoverable window and to the newest point; each restore is checked (target reached, pg_verifybackup, pg_amcheck) and recorded. A failed drill queues a pitr_drill_failed notification.",
    response: 'The workflowId of the drill; GET /servers/{name}/drills tells its outcome once recorded',
    handler: async ({ domain, actor, params: p }) => ({
      workflowId: (await domain.servers.drill(actor(), p.name)).workflowId,
    }),
  }),
  endpoint({
    method: 'get',
    path: '/servers/:name/drills',
    operationId: 'listServerDrills',
    tag: 'servers',
    params: params.name,
    status: 200,
    summary: 'Its PITR drills',
    response:
      'schedule (null: off), scheduled, provenUpTo (the latest target of a passed drill), lastOutcome, lastAt, lastError, and the ten most recent drills with their checks and measured figures',
    handler: async ({ domain, actor, params: p }) => domain.servers.drills(actor(), p.name),
  }),
  endpoint({
    method: 'delete',
    path: '/servers/:name',
    operationId: 'removeServer',
    tag: 'servers',
    params: params.name,
    query: z.object({
      keepDatabases: z
        .enum(['0', '1', 'true', 'false'])
        .optional()
        .describe(
          '1: its databases stay registered, each on its own; by default they are removed (their backups stay in storage)',
        ),
    }),
    status: 200,
    summary: 'Remove a server',
    response: 'The databases removed or kept',
    handler: async ({ domain, actor, params: p, query }) =>
      domain.servers.remove(actor(), p.name, {
        keepDatabases: query.keepDatabases === '1' || query.keepDatabases === 'true',
      }),
  }),
];
