/** Connecting as a backup would: the server's version and the database's size, or why not. */
import { errorMessage } from '../../lib/errors.ts';
import { connect, parsePgUrl, serverInfo, type PgTarget } from '../../lib/pg/connection.ts';

export interface ConnectionCheck {
  ok: boolean;
  detail: string;
  elapsedMs: number;
  version?: string;
  sizeBytes?: number;
}

export async function checkTarget(target: PgTarget): Promise<ConnectionCheck> {
  const started = Date.now();
  try {
    const client = await connect(target.database, target);
    try {
      const info = await serverInfo(client);
      return {
        ok: true,
        detail: `PostgreSQL ${info.version}`,
        version: info.version,
        sizeBytes: info.sizeBytes,
        elapsedMs: Date.now() - started,
      };
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    return { ok: false, detail: errorMessage(error), elapsedMs: Date.now() - started };
  }
}

export async function checkConnection(url: string): Promise<ConnectionCheck> {
  try {
    return await checkTarget(parsePgUrl(url));
  } catch (error) {
    return { ok: false, detail: errorMessage(error), elapsedMs: 0 };
  }
}
