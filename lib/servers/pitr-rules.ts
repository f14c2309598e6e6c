/**
 * The rules of a server's PITR (services/servers/pitr.ts decides with them), decided from what the catalog says:
 * pure, so that each is tested without a server.
 */
import { HindsightError } from '../errors.ts';

export interface CarrierFacts {
  server: string;
  serverWorkspace: number;
  /** The database recorded as carrying the server's archive, and whether it streams now. */
  recorded: { name: string; streaming: boolean } | null;
  /** A database that archives this cluster alone (not sharing), and its workspace. */
  alone: { name: string; workspace: number | undefined } | null;
  /** The name the server's connection database is registered under to carry the archive. */
  connectionDatabase: string;
}

export type CarrierChoice =
  { kind: 'recorded'; name: string } | { kind: 'take-over'; name: string } | { kind: 'register'; name: string };

/**
 * Which database carries the server's archive. A streaming recorded carrier stays. A database that
 * archives the cluster alone is taken over as it is (its slot, stream and base backups go on, so
 * nothing it recorded is lost) — unless it is of another workspace: a restore of the archive
 * recovers every database of the cluster. Else the recorded carrier streams again, or the
 * server's connection database is registered for it (it outlives any database the server drops).
 */
export function chooseCarrier(f: CarrierFacts): CarrierChoice {
  if (f.recorded?.streaming) return { kind: 'recorded', name: f.recorded.name };
  if (f.alone) {
    if (f.alone.workspace !== f.serverWorkspace)
      throw new HindsightError(
        'conflict',
        `database "${f.alone.name}" of another workspace already archives the WAL of server "${f.server}"; a restore of that archive recovers every database of the cluster: move the server into that workspace, or turn PITR off for "${f.alone.name}" first`,
      );
    return { kind: 'take-over', name: f.alone.name };
  }
  if (f.recorded) return { kind: 'recorded', name: f.recorded.name };
  return { kind: 'register', name: f.connectionDatabase };
}

/**
 * Turning the server's PITR off makes its own databases leave the archive; a database registered
 * on its own that shares it would lose its point-in-time restores without being asked, so off is
 * refused naming it. Returns the refusal, or null.
 */
export function offRefusal(server: string, sharers: string[], serverDatabases: string[]): HindsightError | null {
  const mine = new Set(serverDatabases);
  const others = sharers.filter((n) => !mine.has(n));
  if (others.length === 0) return null;
  const names = others.map((n) => `"${n}"`).join(', ');
  const one = others.length === 1;
  return new HindsightError(
    'conflict',
    `server "${server}"'s PITR archive is also what ${names} restore${one ? 's' : ''} from, registered on ${one ? 'its' : 'their'} own: turn PITR off for ${names} first (hindsight db pitr ${others[0]} off)`,
  );
}

/** The carrier registered for the server (its connection database) is backed up only with --include-postgres. */
export function backedUpByRuns(
  database: { name: string; datname: string },
  carrier: string | null,
  includePostgres: boolean,
): boolean {
  return includePostgres || database.name !== carrier || database.datname !== 'postgres';
}
