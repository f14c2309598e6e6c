import { z } from 'zod';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import type { HookRecord, HookRunRecord } from '../../lib/catalog/hooks.ts';
import { nameSchema } from '../../lib/names.ts';
import { HindsightError } from '../../lib/errors.ts';
import { parseOrThrow } from '../input.ts';
import { describeHookVariables, hookKindDescriptions, hookKinds, type HookKind } from '../../lib/hooks/variables.ts';

/** Until workspaces exist every database belongs to workspace 1. */
export const DEFAULT_WORKSPACE_ID = 1;

const databaseName = nameSchema('database must be a registered name: lowercase letters, digits, "_" or "-"');
const kindSchema = z.enum(hookKinds, { error: `kind must be one of ${hookKinds.join(', ')}` });

/** A hook belongs to one database or to a whole workspace, never both. */
const scopeSchema = z.union(
  [
    z.object({ database: databaseName }).strict(),
    z.object({ workspaceId: z.number().int().positive('workspaceId must be a positive integer') }).strict(),
  ],
  { error: 'a hook needs either a database or a workspace' },
);
export type HookTarget = z.input<typeof scopeSchema>;

export const setHookInput = z
  .object({
    target: scopeSchema,
    kind: kindSchema,
    script: z
      .string()
      .refine((s) => s.trim().length > 0, 'script is empty (use hook remove to delete a hook)')
      .refine(
        (s) => Buffer.byteLength(s, 'utf8') <= 65536,
        'script is longer than 64 KiB (keep long logic in a file on the worker and call it)',
      )
      .refine((s) => !s.includes('\0'), 'script must not contain NUL bytes'),
    timeoutSeconds: z
      .number()
      .int('timeout must be whole seconds')
      .min(1, 'timeout must be at least 1 s')
      .max(86400, 'timeout must be at most 86400 s (a day)')
      .default(300),
  })
  .strict();
/** What callers send: the kind is checked here, so it may be any string. */
export type SetHookInput = Omit<z.input<typeof setHookInput>, 'kind'> & { kind: string };

/** Who made a change, for the hook's updated_by (and, later, the audit log). */
export interface Actor {
  name: string;
}

function resolveTarget(target: z.output<typeof scopeSchema>): { database: string | null; workspaceId: number } {
  return 'database' in target
    ? { database: target.database, workspaceId: DEFAULT_WORKSPACE_ID }
    : { database: null, workspaceId: target.workspaceId };
}

export interface HooksView {
  database: string;
  /** Every script that runs for the database, in running order (workspace before database). */
  hooks: HookRecord[];
  runs: HookRunRecord[];
  variables: ReturnType<typeof describeHookVariables>;
  kinds: Array<{ kind: HookKind; description: string }>;
}

/**
 * Hook scripts as the CLI, console and API change them. This layer trusts its caller:
 * services/hooks/service.ts sits in front, where setting a script needs the instance's
 * privilege (a script is a program the shared worker runs) and removing one needs hook.edit.
 */
export function createHookService(catalog: Catalog) {
  return {
    async setHook(raw: SetHookInput, actor: Actor | null = null): Promise<HookRecord> {
      const input = parseOrThrow(setHookInput, raw);
      const { database, workspaceId } = resolveTarget(input.target);
      return catalog.hooks.upsert({
        database,
        workspaceId,
        kind: input.kind,
        script: input.script,
        timeoutSeconds: input.timeoutSeconds,
        updatedBy: actor?.name ?? null,
      });
    },

    async removeHook(raw: { target: HookTarget; kind: string }, _actor: Actor | null = null): Promise<void> {
      const target = resolveTarget(parseOrThrow(scopeSchema, raw.target));
      const kind = parseOrThrow(kindSchema, raw.kind);
      const removed = await catalog.hooks.remove({ ...target, kind });
      if (!removed) {
        const where = target.database ? `database "${target.database}"` : `workspace ${target.workspaceId}`;
        throw new HindsightError(
          'not_found',
          `${where} has no ${kind} hook (hindsight hook show ${target.database ?? '<db>'} lists them)`,
        );
      }
    },

    async showHooks(database: string): Promise<HooksView> {
      const name = parseOrThrow(databaseName, database);
      const [hooks, runs] = await Promise.all([
        catalog.hooks.forDatabase(name),
        catalog.hooks.runs(name, { limit: 20 }),
      ]);
      return {
        database: name,
        hooks,
        runs,
        variables: describeHookVariables(),
        kinds: hookKinds.map((kind) => ({ kind, description: hookKindDescriptions[kind] })),
      };
    },

    async workspaceHooks(workspaceId = DEFAULT_WORKSPACE_ID): Promise<HookRecord[]> {
      return catalog.hooks.forWorkspace(workspaceId);
    },

    async hookRuns(database: string, options: { limit?: number; backupId?: string } = {}): Promise<HookRunRecord[]> {
      return catalog.hooks.runs(parseOrThrow(databaseName, database), options);
    },
  };
}

export type HookService = ReturnType<typeof createHookService>;
