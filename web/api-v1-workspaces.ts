/** /api/v1: a workspace's default encryption, and what each of its databases is encrypted with. */
import { z } from 'zod';
import { workspaceEncryptionSchema } from '../services/databases/input.ts';
import { endpoint, type Endpoint } from './api-v1-endpoint.ts';

const workspaceParams = z.object({ workspace: z.string().min(1) });

export const workspaceEndpoints: Endpoint[] = [
  endpoint({
    method: 'get',
    path: '/workspaces/:workspace/encryption',
    operationId: 'getWorkspaceEncryption',
    tag: 'workspaces',
    params: workspaceParams,
    status: 200,
    summary: "A workspace's default encryption and its databases' effective encryption",
    response:
      '`{"workspace","encryption":{"mode",…},"databases":[{"database","mode","source","recipient","kmsKey","decryptableBy","agents"}]}`; ' +
      'source is database (its own setting), workspace (the default) or installation (the secret key)',
    handler: async ({ services, actor, params: p }) => services.access.workspaceEncryption(actor(), p.workspace),
  }),
  endpoint({
    method: 'put',
    path: '/workspaces/:workspace/encryption',
    operationId: 'setWorkspaceEncryption',
    tag: 'workspaces',
    params: workspaceParams,
    body: z.object({ encryption: workspaceEncryptionSchema }).strict(),
    status: 200,
    summary: "Set a workspace's default encryption",
    description:
      '`{"encryption":{"mode":"public-key","recipient":"hspub1…"}}` or `{"encryption":{"mode":"kms","key":"<name>"}}`: every ' +
      'database of the workspace without its own setting encrypts its next backups, WAL and base backups that way; `{"mode":"secret-key"}` removes ' +
      'the default. Object headers name what encrypted them, so restores do not depend on it. Needs workspace.manage (owner); audited.',
    response: '`{"workspace","encryption"}` as saved',
    handler: async ({ services, actor, params: p, body }) =>
      services.access.setWorkspaceEncryption(actor(), p.workspace, body.encryption),
  }),
];
