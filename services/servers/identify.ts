/** Connecting to a server being added: it must answer, and tell its version and system identifier. */
import { readSystemIdentifier } from '../../lib/backup/adopt-match.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { connect, parsePgUrl, serverInfo, type PgTarget } from '../../lib/pg/connection.ts';

export interface ServerIdentity {
  target: PgTarget;
  systemIdentifier: string;
  serverVersion: string;
}

/**
 * The server's identity, or a refusal that says what to fix. The system identifier tells this
 * cluster from any other behind the same address later (a rebuilt host, a failover), so a role
 * that may not read it is refused rather than recorded without one.
 */
export async function identifyServer(name: string, url: string): Promise<ServerIdentity> {
  const target = parsePgUrl(url);
  let client;
  try {
    client = await connect(`server "${name}"`, target);
  } catch (error) {
    throw new HindsightError(
      'bad_input',
      `server "${name}": cannot connect as "${target.user}" to ${target.host}:${target.port}/${target.database} (${errorMessage(error)}); nothing was saved: correct the URL or password`,
    );
  }
  try {
    const info = await serverInfo(client);
    const systemIdentifier = await readSystemIdentifier(client);
    if (systemIdentifier === undefined)
      throw new HindsightError(
        'bad_input',
        `server "${name}": role "${target.user}" may not read the system identifier (pg_control_system()); ` +
          `as a superuser run: grant execute on function pg_control_system() to "${target.user}"`,
      );
    return { target, systemIdentifier, serverVersion: info.version };
  } finally {
    await client.end().catch(() => undefined);
  }
}
