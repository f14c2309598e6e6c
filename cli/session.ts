/**
 * What a command handler works with: the services as the CLI's actor may use them
 * (services/authz.ts decides; cli/access.ts says who), opened for one command and closed after it.
 */
import { readFile } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../lib/config.ts';
import { openKeyring } from '../lib/crypto/keyring.ts';
import type { AccessService } from '../services/access.ts';
import type { Actor } from '../services/authz.ts';
import type { Services } from '../services/index.ts';
import type { Runtime } from '../services/runtime.ts';
import { UsageError } from './output.ts';

export interface Session {
  runtime: Runtime;
  temporal: Client;
  services: Services;
  access: AccessService;
  actor: Actor;
}

export type WithSession = <T>(work: (s: Session) => Promise<T>) => Promise<T>;

export interface SessionOptions {
  /**
   * false for a command that only reads the catalog: its Temporal client then dials only if a
   * service does use it, so a listing neither waits for nor needs Temporal.
   */
  temporal?: boolean;
}

/** Runs work as the actor `as` names (or HINDSIGHT_AS, or the local operator). */
export function sessionAs(as: string | undefined, options: SessionOptions = {}): WithSession {
  return async (work) => {
    // Loaded here, not at the top: `--help`, usage errors and offline commands never pay for the
    // services, the catalog driver and the Temporal client.
    const [{ createAccessService }, { createServices }, { openRuntime }, { cliActor }] = await Promise.all([
      import('../services/access.ts'),
      import('../services/index.ts'),
      import('../services/runtime.ts'),
      import('./access.ts'),
    ]);
    const config = loadConfig();
    const runtime = await openRuntime(config);
    try {
      const temporal = await temporalClient(config, runtime, options.temporal !== false);
      try {
        const services = createServices(runtime, temporal);
        const access = createAccessService(runtime, services.ctx.guard.authz);
        const actor = await cliActor(access, as);
        return await work({ runtime, temporal, services, access, actor });
      } finally {
        await temporal.connection.close();
      }
    } finally {
      await runtime.close();
    }
  };
}

/** A client connected now (an unreachable Temporal is named at once), or one that dials on first use. */
async function temporalClient(config: Config, runtime: Runtime, connectNow: boolean): Promise<Client> {
  const { connectTemporalClient, lazyTemporalClient } = await import('../temporal/client.ts');
  return connectNow ? connectTemporalClient(config, runtime) : lazyTemporalClient(config, runtime);
}

/** A workspace-name → id resolver for the actor, as cli/hooks.ts takes it. */
export const workspaceResolver =
  ({ access, actor }: Session) =>
  async (name: string) =>
    (await access.workspaceFor(actor, name)).id;

/** Every key of the installation, without the catalog: a backup file names the one it needs. */
export const keyringOf = (config: Config) =>
  openKeyring({
    currentFile: config.secretKeyFile,
    keysDir: config.keysDir,
    previousFiles: config.previousSecretKeyFiles,
    identityFiles: config.identityFiles,
  });

/** A configuration given inline as JSON or, to keep secrets out of shell history, as @file. */
export async function readConfigArgument(value: string, flag = '--config'): Promise<unknown> {
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The change an `update` command merges: --config JSON (or @file), or --config-file FILE; exactly one. */
export async function readChange(
  flags: { config?: string | undefined; 'config-file'?: string | undefined },
  command: string,
): Promise<unknown> {
  if ((flags.config === undefined) === (flags['config-file'] === undefined))
    throw new UsageError(
      `${command} needs the settings to change: --config <json | @file.json> or --config-file <file>`,
    );
  if (flags.config !== undefined) return readConfigArgument(flags.config);
  return readConfigArgument(`@${flags['config-file']!}`, '--config-file');
}

/** Comma-separated names, blanks dropped. */
export const nameList = (value: string): string[] =>
  value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
