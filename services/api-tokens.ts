/**
 * Personal API tokens: a user's key for scripts, limited to one workspace and a role no higher
 * than their own there. The secret (`hs_` + 32 random bytes, base64url) is shown once; the
 * catalog keeps its SHA-256. A request with the token acts as the user with only that workspace,
 * at the lower of the token's role and the user's role now, so removing or disabling the user, or
 * lowering their role, takes effect on every token at once. An instance owner's token holds the
 * installation's privileges only when it was made with the owner role.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ROLES, type Role } from '../lib/catalog/access.ts';
import type { ApiTokenRecord } from '../lib/catalog/api-tokens.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import type { AccessService } from './access.ts';
import { roleOf, type Actor, type Authz } from './authz.ts';
import type { Runtime } from './runtime.ts';

export const API_TOKEN_PATTERN = /^hs_[A-Za-z0-9_-]{43}$/;
/** A token made without an expiry ends after a year: none lives forever. */
export const DEFAULT_TOKEN_DAYS = 365;
const PREFIX_LENGTH = 10;

export const createApiTokenInput = z
  .object({
    name: z.string().trim().min(1, 'is required').max(100, 'must be at most 100 characters'),
    workspace: z.string().min(1, 'is required'),
    role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }),
    expiresInDays: z
      .number()
      .int('must be a whole number of days')
      .min(1, 'must be at least 1')
      .max(3650, 'must be at most 3650 (ten years)')
      .nullable()
      .optional()
      .describe(`days until the token expires; omitted or null: ${DEFAULT_TOKEN_DAYS}`),
  })
  .strict();
export type CreateApiTokenInput = z.input<typeof createApiTokenInput>;

/** A token as its owner sees it: never the secret, never its hash. */
export interface ApiTokenView {
  id: number;
  name: string;
  prefix: string;
  workspace: string;
  role: Role;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  state: 'active' | 'expired' | 'revoked';
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function tokenView(t: ApiTokenRecord, now = new Date()): ApiTokenView {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    workspace: t.workspace,
    role: t.role,
    createdAt: t.createdAt.toISOString(),
    expiresAt: iso(t.expiresAt),
    lastUsedAt: iso(t.lastUsedAt),
    revokedAt: iso(t.revokedAt),
    state: t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt <= now ? 'expired' : 'active',
  };
}

/** ROLES runs from owner down to viewer: the lower of two roles is the one further along. */
export const lowerRole = (a: Role, b: Role): Role => (ROLES.indexOf(a) >= ROLES.indexOf(b) ? a : b);

function parseInput(raw: unknown): z.output<typeof createApiTokenInput> {
  const parsed = createApiTokenInput.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HindsightError('bad_input', `${issue.path.join('.') || 'token'}: ${issue.message}`);
  }
  return parsed.data;
}

function personal(actor: Actor): Extract<Actor, { kind: 'user' }> {
  if (actor.kind !== 'user')
    throw new HindsightError(
      'bad_input',
      'API tokens belong to a user account: sign in as a user (the local operator needs no token, it has the secret key)',
    );
  return actor;
}

interface TokenDeps {
  store: Runtime['catalog']['apiTokens'];
  authz: Authz;
  access: AccessService;
}

/** Like authz.audited, for changes a user makes to their own account rather than to a workspace's objects. */
async function recorded<T>(
  { authz }: TokenDeps,
  actor: Actor,
  entry: { workspaceId: number; action: string; target: { type: string; name: string }; before: unknown },
  work: () => Promise<T>,
  after: (result: T) => unknown,
): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await authz.audit(actor, { ...entry, outcome: 'failed', detail: errorMessage(error).slice(0, 1000) });
    throw error;
  }
  await authz.audit(actor, { ...entry, after: after(result), outcome: 'ok' });
  return result;
}

/** A token may hold the creator's own role in the workspace or a lower one, never a higher one. */
async function refuseHigherRole(
  { authz }: TokenDeps,
  user: Actor,
  workspace: { id: number; name: string },
  input: { name: string; role: Role },
): Promise<void> {
  const own = roleOf(user, workspace.id)!;
  if (ROLES.indexOf(input.role) >= ROLES.indexOf(own)) return;
  await authz.audit(user, {
    workspaceId: workspace.id,
    action: 'apiToken.create',
    target: { type: 'api token', name: input.name },
    outcome: 'denied',
    detail: `role ${input.role} is above the creator's role ${own}`,
  });
  throw new HindsightError(
    'forbidden',
    `role: a token cannot hold more than your own role in workspace "${workspace.name}" (you are ${own}; choose ${ROLES.slice(ROLES.indexOf(own)).join(', ')})`,
  );
}

/** Creates a token and returns its secret, which is not kept and cannot be shown again. */
async function createToken(
  deps: TokenDeps,
  actor: Actor,
  raw: unknown,
): Promise<{ token: ApiTokenView; secret: string }> {
  const user = personal(actor);
  const input = parseInput(raw);
  const workspace = await deps.access.workspaceFor(user, input.workspace);
  await refuseHigherRole(deps, user, workspace, input);
  const target = { type: 'api token', name: input.name };
  const secret = `hs_${randomBytes(32).toString('base64url')}`;
  const expiresAt = new Date(Date.now() + (input.expiresInDays ?? DEFAULT_TOKEN_DAYS) * 86_400_000);
  const record = await recorded(
    deps,
    user,
    { workspaceId: workspace.id, action: 'apiToken.create', target, before: null },
    () =>
      deps.store.create({
        userId: user.userId,
        workspaceId: workspace.id,
        role: input.role,
        name: input.name,
        prefix: secret.slice(0, PREFIX_LENGTH),
        secret,
        expiresAt,
      }),
    (t) => ({ id: t.id, prefix: t.prefix, workspace: workspace.name, role: t.role, expiresAt: iso(t.expiresAt) }),
  );
  return { token: tokenView(record), secret };
}

/** Revokes one of the actor's own tokens; someone else's is "not found". */
async function revokeToken(deps: TokenDeps, actor: Actor, id: number): Promise<ApiTokenView> {
  const { store } = deps;
  const user = personal(actor);
  const token = Number.isSafeInteger(id) ? await store.get(id) : undefined;
  if (!token || token.userId !== user.userId)
    throw new HindsightError('not_found', `API token ${id} does not exist (GET /api/v1/tokens lists yours)`);
  if (token.revokedAt) return tokenView(token);
  await recorded(
    deps,
    user,
    {
      workspaceId: token.workspaceId,
      action: 'apiToken.revoke',
      target: { type: 'api token', name: token.name },
      before: { id: token.id, prefix: token.prefix, role: token.role },
    },
    () => store.revoke(token.id),
    () => ({ revoked: true }),
  );
  return tokenView((await store.get(token.id))!);
}

/**
 * The actor a bearer secret stands for, or undefined when it is unknown, revoked, expired, its
 * user disabled, or the user no longer belongs to the token's workspace.
 */
async function actorForSecret({ store, access }: TokenDeps, secret: string, ip: string): Promise<Actor | undefined> {
  if (!API_TOKEN_PATTERN.test(secret)) return undefined;
  const token = await store.use(secret);
  if (!token) return undefined;
  const user = await access.actorForUser(token.userId, `token ${token.prefix} from ${ip}`);
  if (!user || user.kind !== 'user') return undefined;
  const current = user.memberships.get(token.workspaceId);
  if (!current) return undefined;
  // The installation's privileges (services/authz.ts) ride only on a token made with the owner
  // role: a narrower token for a script stays narrow even when its creator owns the instance.
  return {
    ...user,
    memberships: new Map([[token.workspaceId, lowerRole(token.role, current)]]),
    instanceOwner: user.instanceOwner && token.role === 'owner',
  };
}

export function createApiTokenService(runtime: Runtime, authz: Authz, access: AccessService) {
  const deps: TokenDeps = { store: runtime.catalog.apiTokens, authz, access };
  return {
    create: (actor: Actor, raw: unknown) => createToken(deps, actor, raw),

    async list(actor: Actor): Promise<ApiTokenView[]> {
      if (actor.kind !== 'user') return [];
      const now = new Date();
      return (await deps.store.listForUser(actor.userId)).map((t) => tokenView(t, now));
    },

    revoke: (actor: Actor, id: number) => revokeToken(deps, actor, id),
    actorForSecret: (secret: string, ip: string) => actorForSecret(deps, secret, ip),
  };
}

export type ApiTokenService = ReturnType<typeof createApiTokenService>;
