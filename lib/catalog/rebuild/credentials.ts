/**
 * A database a catalog rebuild created knows its server from the manifest but no role or password:
 * storage never holds credentials. A backup of it stops here with the fix instead of trying to
 * connect as nobody.
 */
import { HindsightError } from '../../errors.ts';
import type { PgTarget } from '../../pg/connection.ts';
import { NO_USERNAME } from './write.ts';

export function requireCredentials(database: string, target: PgTarget): void {
  if (target.user !== NO_USERNAME) return;
  throw new HindsightError(
    'bad_input',
    `database "${database}" was recreated from storage by hindsight catalog rebuild and has no credentials yet: give them with hindsight db update ${database} --url postgres://<user>@${target.host}:${target.port}/${target.database} --password-file <file>`,
  );
}
