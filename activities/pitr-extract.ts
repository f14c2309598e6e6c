/**
 * The last step of a point-in-time restore `to: { url }`: the promoted sandbox's copy of the
 * database goes into the target server (lib/pitr/extract-database.ts) before the sandbox is
 * removed. The target's password was sealed by the service that started the restore.
 */
import { unseal } from '../lib/crypto/sealed.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import type { Logger } from '../lib/logger.ts';
import { parsePgUrl, type PgTarget } from '../lib/pg/connection.ts';
import { extractDatabase, type DatabaseExtraction } from '../lib/pitr/extract-database.ts';
import type { PitrDestination } from '../temporal/contracts/pitr.ts';
import { RESTORE_PASSWORD_CONTEXT } from './restores.ts';

export type ExtractDestination = Extract<PitrDestination, { url: string }>;

export interface RecoveredSandbox {
  host: string;
  port: number;
  major: number;
}

export async function extractIntoTarget(
  deps: { keyring: Keyring; logger: Logger },
  run: { database: string; to: ExtractDestination; connectAs: PgTarget; signal: AbortSignal },
  sandbox: RecoveredSandbox,
  onBytes: (bytes: number) => void,
): Promise<DatabaseExtraction> {
  const { to } = run;
  const url = parsePgUrl(to.url);
  const target = to.sealedPassword
    ? { ...url, password: unseal(deps.keyring.resolve, to.sealedPassword, RESTORE_PASSWORD_CONTEXT) }
    : url;
  // The sandbox has no TLS and listens on its private socket only (lib/pitr/restored-server.ts).
  const source = { ...run.connectAs, host: sandbox.host, port: sandbox.port, sslmode: 'disable' };
  const extracted = await extractDatabase({
    source,
    sourceMajor: sandbox.major,
    target,
    owners: to.withOwners ? { privileged: to.privilegedRoles === true } : undefined,
    signal: run.signal,
    onBytes,
  });
  deps.logger.info({ database: run.database, ...extracted }, 'database extracted from the recovered sandbox');
  return extracted;
}
