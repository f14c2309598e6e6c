/**
 * The settings page: facts about this installation that help an operator (never a secret: the
 * secret key shows as its key id, which every encrypted backup's header carries anyway) and the
 * signed-in user's personal API tokens.
 */
import { readFile } from 'node:fs/promises';
import type { ApiTokenService, ApiTokenView } from '../../../../../services/api-tokens.ts';
import type { Actor } from '../../../../../services/authz.ts';
import type { Runtime } from '../../../../../services/runtime.ts';
import type { ActorRef, ConsoleRole } from './types.ts';

export interface ConsoleSettingsFacts {
  version: string;
  publicUrl: string;
  apiUrl: string;
  openApiUrl: string;
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string;
  temporalNamespaceUrl: string;
  taskQueue: string;
  auditRetentionDays: number;
  /** The id of the secret key backups are encrypted under, as written in each backup's header. */
  secretKeyId: string;
  previousSecretKeys: number;
}

export interface ConsoleSettingsView {
  facts: ConsoleSettingsFacts;
  tokens: ApiTokenView[];
  /** Workspaces a token may be made for, with the roles the user may give it there. */
  tokenScopes: { workspace: string; roles: ConsoleRole[] }[];
}

export interface ConsoleSettingsServices {
  view(actor: ActorRef): Promise<ConsoleSettingsView>;
  /** Creates a token; the secret in the answer is shown once and never stored. */
  createToken(
    actor: ActorRef,
    input: { name: string; workspace: string; role: string; expiresInDays?: number | null },
  ): Promise<{ token: ApiTokenView; secret: string }>;
  revokeToken(actor: ActorRef, id: number): Promise<ApiTokenView>;
}

const ROLE_ORDER: ConsoleRole[] = ['owner', 'admin', 'editor', 'viewer'];

let versionCache: string | undefined;
async function productVersion(): Promise<string> {
  if (versionCache) return versionCache;
  try {
    const pkg = JSON.parse(await readFile(new URL('../../../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    versionCache = pkg.version ?? 'unknown';
  } catch {
    versionCache = 'unknown';
  }
  return versionCache;
}

export function createConsoleSettings(runtime: Runtime, tokens: ApiTokenService): ConsoleSettingsServices {
  const { config } = runtime;
  const asActor = (ref: ActorRef) => ref as Actor;
  return {
    async view(ref) {
      const actor = asActor(ref);
      const publicUrl = config.publicUrl.replace(/\/$/, '');
      const facts: ConsoleSettingsFacts = {
        version: await productVersion(),
        publicUrl,
        apiUrl: `${publicUrl}/api/v1`,
        openApiUrl: `${publicUrl}/api/v1/openapi.json`,
        temporalAddress: config.temporalAddress,
        temporalNamespace: config.temporalNamespace,
        temporalUiUrl: config.temporalUiUrl,
        temporalNamespaceUrl: `${config.temporalUiUrl}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows`,
        taskQueue: config.taskQueue,
        auditRetentionDays: config.auditRetentionDays,
        secretKeyId: runtime.key.id,
        previousSecretKeys: runtime.previousKeys.length,
      };
      const memberships = actor.kind === 'user' ? await runtime.catalog.access.membershipsOfUser(actor.userId) : [];
      return {
        facts,
        tokens: await tokens.list(actor),
        tokenScopes: memberships.map((m) => ({
          workspace: m.workspace,
          roles: ROLE_ORDER.slice(ROLE_ORDER.indexOf(m.role)).reverse(),
        })),
      };
    },
    createToken: (ref, input) => tokens.create(asActor(ref), input),
    revokeToken: (ref, id) => tokens.revoke(asActor(ref), id),
  };
}
