/**
 * OpenID Connect providers (their client secret sealed like every catalog secret), the links from
 * a provider's subject to an account, the sign-ins under way and the "SSO only" switch.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { seal, unseal } from '../crypto/sealed.ts';
import { HindsightError } from '../errors.ts';
import { allRows, bind, firstRow, isUniqueViolation, type Queryable } from './db.ts';
import type { Role } from './roles.ts';
import { sealedContexts } from './sealed-columns.ts';
import { sessionTokenHash } from './sessions.ts';

export interface RoleMapping {
  /** A value of the provider's claim, e.g. a group name. */
  value: string;
  workspace: string;
  role: Role;
}

export interface IdentityProvider {
  id: number;
  name: string;
  displayName: string;
  issuer: string;
  clientId: string;
  claim: string;
  mappings: RoleMapping[];
  createdAt: Date;
}

export interface NewIdentityProvider extends Omit<IdentityProvider, 'id' | 'createdAt'> {
  clientSecret: string;
}

export interface PendingLogin {
  providerId: number;
  nonce: string;
  codeVerifier: string;
  nextPath: string;
  invitationSha256: string | null;
}

interface ProviderRow {
  id: string;
  name: string;
  display_name: string;
  issuer: string;
  client_id: string;
  claim: string;
  mappings: RoleMapping[];
  created_at: Date;
}

const toProvider = (row: ProviderRow): IdentityProvider => ({
  id: Number(row.id),
  name: row.name,
  displayName: row.display_name,
  issuer: row.issuer,
  clientId: row.client_id,
  claim: row.claim,
  mappings: row.mappings,
  createdAt: row.created_at,
});

export const stateHash = (state: string): string => createHash('sha256').update(state).digest('hex');

const noSuchProvider = (name: string) =>
  new HindsightError('not_found', `identity provider "${name}" does not exist (hindsight sso list shows them)`);

async function addProvider(
  { pool, keys }: { pool: pg.Pool; keys: Keyring },
  input: NewIdentityProvider,
): Promise<IdentityProvider> {
  const sealed = seal(keys.current(), input.clientSecret, sealedContexts.identityProviderSecret(input.name));
  try {
    const { rows } = await pool.query<ProviderRow>(
      `insert into identity_providers (name, display_name, issuer, client_id, sealed_client_secret, claim, mappings)
       values ($1, $2, $3, $4, $5, $6, $7) returning *`,
      [
        input.name,
        input.displayName,
        input.issuer,
        input.clientId,
        sealed,
        input.claim,
        JSON.stringify(input.mappings),
      ],
    );
    return toProvider(rows[0]!);
  } catch (error) {
    if (isUniqueViolation(error))
      throw new HindsightError('conflict', `identity provider "${input.name}" already exists (remove it first)`);
    throw error;
  }
}

/** The provider with its client secret unsealed, for the sign-in itself. */
async function providerWithSecret(
  { pool, keys }: { pool: pg.Pool; keys: Keyring },
  name: string,
): Promise<IdentityProvider & { clientSecret: string }> {
  const { rows } = await pool.query<ProviderRow & { sealed_client_secret: string }>(
    'select * from identity_providers where name = $1',
    [name],
  );
  if (!rows[0]) throw noSuchProvider(name);
  const clientSecret = unseal(
    keys.resolve,
    rows[0].sealed_client_secret,
    sealedContexts.identityProviderSecret(rows[0].name),
  );
  return { ...toProvider(rows[0]), clientSecret };
}

const listProviders = (db: Queryable) => allRows(db, 'select * from identity_providers order by name', [], toProvider);

const findProvider = (db: Queryable, name: string) =>
  firstRow(db, 'select * from identity_providers where name = $1', [name], toProvider);

const providerById = (db: Queryable, id: number) =>
  firstRow(db, 'select * from identity_providers where id = $1', [id], toProvider);

async function removeProvider(db: Queryable, name: string): Promise<IdentityProvider> {
  const { rows } = await db.query<ProviderRow>('delete from identity_providers where name = $1 returning *', [name]);
  if (!rows[0]) throw noSuchProvider(name);
  return toProvider(rows[0]);
}

async function linkedUser(db: Queryable, providerId: number, subject: string): Promise<number | undefined> {
  const { rows } = await db.query<{ user_id: string }>(
    'select user_id from user_identities where provider_id = $1 and subject = $2',
    [providerId, subject],
  );
  return rows[0] ? Number(rows[0].user_id) : undefined;
}

async function linkIdentity(db: Queryable, providerId: number, subject: string, userId: number): Promise<void> {
  await db.query(
    'insert into user_identities (provider_id, subject, user_id) values ($1, $2, $3) on conflict do nothing',
    [providerId, subject, userId],
  );
}

async function savePendingLogin(db: Queryable, state: string, login: PendingLogin, ttlMs: number): Promise<void> {
  await db.query(
    `insert into oidc_logins (state_sha256, provider_id, nonce, code_verifier, next_path, invitation_sha256, expires_at)
     values ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 millisecond')`,
    [
      stateHash(state),
      login.providerId,
      login.nonce,
      login.codeVerifier,
      login.nextPath,
      login.invitationSha256,
      ttlMs,
    ],
  );
}

/** Takes the sign-in of a state out of the catalog: a callback is answered once, and only before it expires. */
async function takePendingLogin(db: Queryable, state: string): Promise<PendingLogin | undefined> {
  const { rows } = await db.query<{
    provider_id: string;
    nonce: string;
    code_verifier: string;
    next_path: string;
    invitation_sha256: string | null;
    expires_at: Date;
  }>('delete from oidc_logins where state_sha256 = $1 returning *', [stateHash(state)]);
  await db.query('delete from oidc_logins where expires_at < now()');
  const row = rows[0];
  if (!row || row.expires_at.getTime() < Date.now()) return undefined;
  return {
    providerId: Number(row.provider_id),
    nonce: row.nonce,
    codeVerifier: row.code_verifier,
    nextPath: row.next_path,
    invitationSha256: row.invitation_sha256,
  };
}

async function ssoOnly(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ sso_only: boolean }>('select sso_only from access_settings');
  return rows[0]?.sso_only === true;
}

async function setSsoOnly(db: Queryable, on: boolean): Promise<void> {
  await db.query('update access_settings set sso_only = $1', [on]);
}

async function setBreakGlass(db: Queryable, userId: number, on: boolean): Promise<void> {
  await db.query('update users set break_glass = $2 where id = $1', [userId, on]);
}

async function isBreakGlass(db: Queryable, userId: number): Promise<boolean> {
  const { rows } = await db.query<{ break_glass: boolean }>('select break_glass from users where id = $1', [userId]);
  return rows[0]?.break_glass === true;
}

/** Enabled break-glass accounts that can still sign in with a password. */
async function breakGlassAccounts(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from users where break_glass and not disabled and password_hash is not null',
  );
  return rows[0]!.n;
}

async function setSessionProvider(db: Queryable, token: string, providerId: number): Promise<void> {
  await db.query('update sessions set identity_provider_id = $2 where token_sha256 = $1', [
    sessionTokenHash(token),
    providerId,
  ]);
}

async function sessionProvider(db: Queryable, token: string): Promise<number | undefined> {
  const { rows } = await db.query<{ id: string | null }>(
    'select identity_provider_id as id from sessions where token_sha256 = $1',
    [sessionTokenHash(token)],
  );
  return rows[0]?.id ? Number(rows[0].id) : undefined;
}

export function createIdentityProviderStore(pool: pg.Pool, keys: Keyring) {
  return {
    ...bind({ pool, keys }, { addProvider, providerWithSecret }),
    ...bind(pool, {
      listProviders,
      findProvider,
      providerById,
      removeProvider,
      linkedUser,
      linkIdentity,
      savePendingLogin,
      takePendingLogin,
      ssoOnly,
      setSsoOnly,
      setBreakGlass,
      isBreakGlass,
      breakGlassAccounts,
      setSessionProvider,
      sessionProvider,
    }),
  };
}

export type IdentityProviderStore = ReturnType<typeof createIdentityProviderStore>;
