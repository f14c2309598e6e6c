/** /api/v1: the session, people and personal API tokens. */
import { z } from 'zod';
import { errorMessage } from '../lib/errors.ts';
import { clearedSessionCookie, clientAddress, requestAccess, sessionCookie } from './access-http.ts';
import { endpoint, sessionOnly, type Endpoint } from './api-v1-endpoint.ts';
import { params, responses, schemas } from './api-v1-schemas.ts';
import { mailFields, type InvitationMailResult } from '../services/access/invitation-mail.ts';

const INVITED =
  'The invitation: the one-time link (valid 7 days, a secret), when it expires, and whether it was emailed (through an email notifier of the workspace) or why not';

/** The link is answered even when emailed: the admin may hand it over should the mail not arrive. */
const invitedAnswer = (i: { email: string; link: string; expiresAt: Date; mail: InvitationMailResult }) => ({
  email: i.email,
  link: i.link,
  expiresAt: i.expiresAt,
  ...mailFields(i.mail),
});

export const sessionEndpoints: Endpoint[] = [
  // Sessions and the caller
  endpoint({
    method: 'post',
    path: '/session',
    operationId: 'login',
    tag: 'session',
    public: true,
    body: schemas.login,
    status: 200,
    summary: 'Log in',
    description:
      'Checks the password and sets the session cookie (HttpOnly, SameSite=Lax). Failures are rate limited per account and per address. An account with a second factor is refused (401): it logs in on the console, or uses a personal API token.',
    response: "The session's expiry; the cookie is in Set-Cookie",
    async handler({ req, res, body, services }) {
      let session: Awaited<ReturnType<typeof services.auth.login>>;
      try {
        session = await services.auth.login({
          ...body,
          ip: clientAddress(req),
          userAgent: req.headers['user-agent'] ?? null,
        });
      } catch (error) {
        // Wrong credentials are the caller's, not an upstream refusal: 401, not the 502 of access_denied.
        if ((error as { kind?: string }).kind === 'access_denied')
          throw Object.assign(new Error(errorMessage(error)), { kind: 'unauthenticated' });
        throw error;
      }
      // The second step needs a person at the console; a script signs in with a personal API token.
      if ('secondFactor' in session)
        throw Object.assign(
          new Error(
            'this account has a second factor: log in on the console (/login), or call the API with a personal API token',
          ),
          { kind: 'unauthenticated' },
        );
      const maxAge = Math.round((session.expiresAt.getTime() - Date.now()) / 1000);
      res.setHeader(
        'set-cookie',
        sessionCookie(services.auth.cookie.name, session.token, {
          secure: services.auth.cookie.secure,
          maxAgeSeconds: maxAge,
        }),
      );
      return { expiresAt: session.expiresAt.toISOString() };
    },
  }),
  endpoint({
    method: 'delete',
    path: '/session',
    operationId: 'logout',
    tag: 'session',
    status: 200,
    summary: 'Log out',
    response: 'The session ended; the cookie is cleared',
    async handler({ req, res, services }) {
      const { token, actor } = requestAccess(req);
      if (token) await services.auth.logout(token, actor);
      res.setHeader('set-cookie', clearedSessionCookie(services.auth.cookie.name, services.auth.cookie.secure));
      return { ok: true };
    },
  }),
  endpoint({
    method: 'get',
    path: '/me',
    operationId: 'whoami',
    tag: 'session',
    status: 200,
    summary: 'Who the caller is',
    response: 'Email, memberships and what the navigation may offer',
    handler: async ({ services, actor }) => services.whoami(actor()),
  }),
  endpoint({
    method: 'get',
    path: '/overview',
    operationId: 'overview',
    tag: 'session',
    status: 200,
    summary: 'Databases, storages and recent backups',
    response: "What the console's overview shows",
    handler: async ({ services, actor }) => services.overview(actor()),
  }),

  // People
  endpoint({
    method: 'get',
    path: '/audit',
    operationId: 'listAudit',
    tag: 'people',
    query: z.object({
      workspace: z.string().optional(),
      actor: z.string().optional(),
      action: z.string().optional(),
      since: z.string().optional().describe('a date, e.g. 2026-11-23 or 2026-11-23T10:00:00Z'),
    }),
    status: 200,
    summary: 'Read the audit log',
    response: 'Entries, newest first (500 at most)',
    handler: async ({ services, actor, query }) => services.people.listAudit(actor(), query),
  }),
  endpoint({
    method: 'get',
    path: '/users',
    operationId: 'listUsers',
    tag: 'people',
    status: 200,
    summary: 'List users',
    response: 'Users who share a workspace with the caller',
    handler: async ({ services, actor }) => services.people.listUsers(actor()),
  }),
  endpoint({
    method: 'post',
    path: '/users',
    operationId: 'createUser',
    tag: 'people',
    body: schemas.createUser,
    status: 201,
    summary: 'Invite a user (an invitation: the person chooses their own password)',
    response: INVITED,
    handler: async ({ services, actor, body }) =>
      invitedAnswer(await services.access.invite(actor(), { ...body, workspace: body.workspace ?? 'default' })),
  }),
  endpoint({
    method: 'get',
    path: '/workspaces',
    operationId: 'listWorkspaces',
    tag: 'people',
    status: 200,
    summary: 'List workspaces',
    response: "The caller's workspaces with their role and counts",
    handler: async ({ services, actor }) => services.people.listWorkspaces(actor()),
  }),
  endpoint({
    method: 'post',
    path: '/workspaces',
    operationId: 'createWorkspace',
    tag: 'people',
    body: schemas.workspace,
    status: 201,
    summary: 'Create a workspace',
    response: 'The name created',
    async handler({ services, actor, body }) {
      await services.people.createWorkspace(actor(), body.name);
      return { created: body.name };
    },
  }),
  endpoint({
    method: 'put',
    path: '/workspaces/:workspace/members/:email',
    operationId: 'setMember',
    tag: 'people',
    params: params.member,
    body: schemas.member,
    status: 200,
    summary: 'Add a member or change their role',
    response: 'ok',
    async handler({ services, actor, params: p, body }) {
      await services.people.setMember(actor(), p.email, p.workspace, body.role);
      return { ok: true };
    },
  }),
  endpoint({
    method: 'post',
    path: '/workspaces/:workspace/invitations',
    operationId: 'inviteUser',
    tag: 'people',
    params: params.workspace,
    body: schemas.invitation,
    status: 201,
    summary: 'Invite an email address to the workspace',
    response: INVITED,
    handler: async ({ services, actor, params: p, body }) =>
      invitedAnswer(await services.access.invite(actor(), { ...body, workspace: p.workspace })),
  }),
  endpoint({
    method: 'delete',
    path: '/workspaces/:workspace/members/:email',
    operationId: 'removeMember',
    tag: 'people',
    params: params.member,
    status: 200,
    summary: 'Remove a member',
    response: 'ok',
    async handler({ services, actor, params: p }) {
      await services.people.removeMember(actor(), p.email, p.workspace);
      return { ok: true };
    },
  }),

  // Personal API tokens
  endpoint({
    method: 'get',
    path: '/tokens',
    operationId: 'listTokens',
    responseSchema: responses.tokens,
    tag: 'tokens',
    status: 200,
    summary: 'List your API tokens',
    response: 'Name, prefix, workspace, role, dates and state; never the secret',
    handler: async ({ services, actor }) => services.tokens.list(actor()),
  }),
  endpoint({
    method: 'post',
    path: '/tokens',
    operationId: 'createToken',
    responseSchema: responses.createdToken,
    tag: 'tokens',
    body: schemas.createToken,
    status: 201,
    summary: 'Create an API token',
    description: 'Scoped to one workspace, with a role no higher than yours there. Needs a session, not a token.',
    response: 'The token and its secret (hs_…), shown this once',
    async handler({ req, services, actor, body }) {
      sessionOnly(req);
      return services.tokens.create(actor(), body);
    },
  }),
  endpoint({
    method: 'delete',
    path: '/tokens/:id',
    operationId: 'revokeToken',
    responseSchema: responses.token,
    tag: 'tokens',
    params: params.token,
    status: 200,
    summary: 'Revoke an API token',
    response: 'The token, now revoked',
    async handler({ req, services, actor, params: p }) {
      sessionOnly(req);
      return services.tokens.revoke(actor(), Number(p.id));
    },
  }),
];
