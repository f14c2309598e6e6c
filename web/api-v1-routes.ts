/**
 * Every /api/v1 endpoint, declared once: method, path, summary, the zod schemas of its path
 * parameters, query and body, and what it answers. web/api-v1.ts builds the express router from
 * this table and web/api-v1-openapi.ts the OpenAPI document, so the two cannot drift apart.
 */
import { endpoint, type Endpoint } from './api-v1-endpoint.ts';
import { backupDeleteEndpoints } from './api-v1-backup-delete.ts';
import { databasesEndpoints } from './api-v1-databases.ts';
import { drillEndpoints } from './api-v1-drills.ts';
import { serversEndpoints } from './api-v1-servers.ts';
import { sessionEndpoints } from './api-v1-session.ts';
import { storagesEndpoints } from './api-v1-storages.ts';
import { workspaceEndpoints } from './api-v1-workspaces.ts';

export { InputError, type Endpoint, type EndpointContext } from './api-v1-endpoint.ts';
export { schemas } from './api-v1-schemas.ts';

export const endpoints: Endpoint[] = [
  endpoint({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    tag: 'meta',
    public: true,
    status: 200,
    summary: 'This document',
    response: 'The OpenAPI 3.1 description of /api/v1',
    handler: async () => {
      throw new Error('served by the router');
    },
  }),
  ...sessionEndpoints.slice(0, 4),
  ...databasesEndpoints,
  ...backupDeleteEndpoints,
  ...drillEndpoints,
  ...storagesEndpoints,
  ...serversEndpoints,
  ...workspaceEndpoints,
  ...sessionEndpoints.slice(4),
];
