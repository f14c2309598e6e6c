/**
 * What a command handler works with: the services as the CLI's actor may use them
 * (services/authz.ts decides; cli/access.ts says who), opened for one command and closed after it.
 */
import { readFile } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../lib/config.ts';
import { openKeyring } from '../lib/crypto/keyring.ts';
import { connectTemporalClient } from '../temporal/client.ts';
import { createOperations } from '../services/operations.ts';
import { createActorOperations, type ActorOperations } from '../services/actor-operations.ts';
import { createAccessService, type AccessService } from '../services/access.ts';
import { createAuthz, type Actor } from '../services/authz.ts';
import { openRuntime, type Runtime } from '../services/runtime.ts';
import { createActorPitr, type ActorPitr } from '../services/actor-pitr.ts';
import { createPitrOperations } from '../services/pitr.ts';
import { cliActor } from './access.ts';
import { UsageError } from './output.ts';

export interface Session { runtime: Runtime; temporal: Client; ops: ActorOperations; access: AccessService; actor: Actor }

export type WithSession = <T>(work: (s: Session) => Promise<T>) => Promise<T>;

/** Runs work as the actor `as` names (or HINDSIGHT_AS, or the local operator). */
export function sessionAs(as: string | undefined): WithSession {
  return async (work) => {
    const config = loadConfig();
    const runtime = await openRuntime(config);
    try {
      const authz = createAuthz(runtime.catalog.access);
      const access = createAccessService(runtime, authz);
      const actor = await cliActor(access, as);
      const temporal = await connectTemporalClient(config, runtime);
      try {
        const ops = createActorOperations({ runtime, ops: createOperations(runtime, temporal), authz }, actor);
        return await work({ runtime, temporal, ops, access, actor });
      } finally {
        await temporal.connection.close();
      }
    } finally {
      await runtime.close();
    }
  };
}

export const actorPitr = (runtime: Runtime, temporal: Client, actor: Actor): ActorPitr =>
  createActorPitr({ runtime, pitr: createPitrOperations(runtime, temporal), authz: createAuthz(runtime.catalog.access) }, actor);

/** The actor's operations and a workspace-name → id resolver, as cli/hooks.ts takes them. */
export const withOpsOf = (withSession: WithSession) =>
  <T>(work: (ops: ActorOperations, workspaceId: (name: string) => Promise<number>) => Promise<T>): Promise<T> =>
    withSession(({ ops, access, actor }) => work(ops, async (name) => (await access.workspaceFor(actor, name)).id));

/** The actor's PITR operations, as cli/pitr.ts takes them. */
export const withPitrOf = (withSession: WithSession) =>
  <T>(work: (pitr: ActorPitr) => Promise<T>): Promise<T> =>
    withSession(({ runtime, temporal, actor }) => work(actorPitr(runtime, temporal, actor)));

/** Every key of the installation, without the catalog: a backup file names the one it needs. */
export const keyringOf = (config: Config) => openKeyring({ currentFile: config.secretKeyFile, keysDir: config.keysDir, previousFiles: config.previousSecretKeyFiles });

/** A configuration given inline as JSON or, to keep secrets out of shell history, as @file. */
export async function readConfigArgument(value: string, flag = '--config'): Promise<unknown> {
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Comma-separated names, blanks dropped. */
export const nameList = (value: string): string[] => value.split(',').map((x) => x.trim()).filter(Boolean);
