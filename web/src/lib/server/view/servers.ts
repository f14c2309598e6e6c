/** The Servers page: each server the actor may read, with the databases it registered. Read-only. */
import type { Services } from '../../../../../services/index.ts';
import type { ActorRef } from './types.ts';

export interface ConsoleServer {
  name: string;
  address: string;
  systemIdentifier: string;
  serverVersion: string;
  allDatabases: boolean;
  excludes: string[];
  storages: string[];
  schedule: string | null;
  timezone: string;
  lastRunAt: string | null;
  databases: Array<{ name: string; datname: string; discoveredAt: string; droppedAt: string | null }>;
  /** PITR drills (docs/pitr.md, "Drills"): the cron (null: off), proven-up-to time and the last outcome. */
  drills: {
    schedule: string | null;
    provenUpTo: string | null;
    lastOutcome: 'passed' | 'failed' | null;
    lastAt: string | null;
    lastError: string | null;
  };
}

export async function consoleServers(services: Services, actor: ActorRef): Promise<ConsoleServer[]> {
  const servers = await services.servers.list(actor);
  return Promise.all(
    servers.map(async (s) => {
      const { databases, drills } = await services.servers.show(actor, s.name);
      return {
        name: s.name,
        address: `${s.username}@${s.host}:${s.port}/${s.dbname}`,
        systemIdentifier: s.systemIdentifier,
        serverVersion: s.serverVersion,
        allDatabases: s.allDatabases,
        excludes: s.excludes,
        storages: s.storageNames,
        schedule: s.schedule,
        timezone: s.timezone,
        lastRunAt: s.lastRunAt?.toISOString() ?? null,
        databases: databases.map((d) => ({
          name: d.name,
          datname: d.datname,
          discoveredAt: d.createdAt.toISOString(),
          droppedAt: d.droppedAt?.toISOString() ?? null,
        })),
        drills: {
          schedule: drills.schedule,
          provenUpTo: drills.provenUpTo,
          lastOutcome: drills.lastOutcome,
          lastAt: drills.lastAt,
          lastError: drills.lastError,
        },
      };
    }),
  );
}

/** The overview's line per drilled server (docs/pitr.md, "Drills"): how far its window is proven. */
export interface ConsolePitrProof {
  server: string;
  provenUpTo: string | null;
  lastOutcome: 'passed' | 'failed' | null;
  lastAt: string | null;
}

export async function consolePitrProofs(services: Services, actor: ActorRef): Promise<ConsolePitrProof[]> {
  return (await services.servers.drillSummaries(actor)).map((d) => ({
    server: d.server,
    provenUpTo: d.provenUpTo?.toISOString() ?? null,
    lastOutcome: d.lastOutcome,
    lastAt: d.lastAt?.toISOString() ?? null,
  }));
}
