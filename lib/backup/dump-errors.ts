import { HindsightError, errorMessage } from '../errors.ts';

/** Reads pg_dump's complaint and names the cause a user can fix. */
export function explainDumpFailure(
  databaseName: string,
  stderr: string,
  code: number | null,
  signal: string | null,
): HindsightError {
  const last =
    stderr.split('\n').filter(Boolean).slice(-3).join(' | ') ||
    `exited with ${signal ? `signal ${signal}` : `code ${code}`}`;
  if (/permission denied/i.test(stderr)) {
    return new HindsightError(
      'access_denied',
      `database "${databaseName}": pg_dump was refused: ${last} (grant the backup role SELECT on every table, or pg_read_all_data)`,
    );
  }
  if (/password authentication failed/i.test(stderr)) {
    return new HindsightError(
      'access_denied',
      `database "${databaseName}": pg_dump could not log in: ${last} (check the saved password)`,
    );
  }
  if (/server version mismatch/i.test(stderr)) {
    return new HindsightError('bad_input', `database "${databaseName}": ${last} (install a newer pg_dump)`);
  }
  return new HindsightError('tool_failed', `database "${databaseName}": pg_dump failed: ${last}`);
}

/** Errors of our own queries on the source (snapshot export, row counts). */
export function explainQueryError(databaseName: string, error: unknown): HindsightError {
  if (error instanceof HindsightError) return error;
  const err = error as { code?: string; message?: string };
  if (err.code === '42501') {
    return new HindsightError(
      'access_denied',
      `database "${databaseName}": ${err.message} (grant the backup role SELECT on every table, or pg_read_all_data)`,
      { cause: error },
    );
  }
  if (err.code?.startsWith('08') || err.code === '57P01') {
    return new HindsightError(
      'unreachable',
      `database "${databaseName}": connection lost during the backup (${err.message})`,
      { cause: error },
    );
  }
  return new HindsightError('tool_failed', `database "${databaseName}": ${errorMessage(error)}`, { cause: error });
}
