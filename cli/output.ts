import { formatBinaryBytes } from '../lib/bytes.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';

export class UsageError extends Error {}

export function formatBytes(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '-' : formatBinaryBytes(bytes);
}

/** A plain table for people; --json gives the same data to scripts. */
export function printTable(rows: Array<Record<string, string>>): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => row[c] ?? ''))}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A list: with --json as it is, for people a table of one row per item (or the line `empty` when there is none). */
export function printList<T>(
  json: boolean,
  items: T[],
  row: (item: T) => Record<string, string>,
  empty?: string,
): void {
  if (json) printJson(items);
  else if (items.length === 0 && empty !== undefined) process.stdout.write(`${empty}\n`);
  else printTable(items.map(row));
}

/** One line on stderr; exit 2 for a usage mistake, 1 for everything else. */
export function reportFailure(error: unknown, json: boolean): number {
  const usage = error instanceof UsageError;
  const kind = error instanceof HindsightError ? error.kind : usage ? 'usage' : 'error';
  const message = rootCause(error);
  if (json) process.stdout.write(`${JSON.stringify({ error: { kind, message } })}\n`);
  process.stderr.write(`hindsight: ${message}\n`);
  return usage ? 2 : 1;
}

/** Workflow failures wrap the activity's error; people need the innermost message. */
function rootCause(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  let message = errorMessage(error);
  while (current) {
    if (current.message) message = current.message;
    // A HindsightError already says what happened; its cause is the raw driver error.
    if (current instanceof HindsightError) break;
    current = current.cause as typeof current;
  }
  return message.split('\n')[0] ?? message;
}
