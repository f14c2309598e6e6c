/**
 * Where a restored server spent its time, read from its own log (the default log_line_prefix
 * starts each line with a millisecond timestamp): from its first line to the start of redo (the
 * data directory's fsync and start-up), redo, and from the end of redo to accepting connections
 * (the end-of-recovery checkpoint and promotion). Both contenders' servers log the same lines.
 * The first line is when the postmaster opened its log: what pg_ctl did before is not in it.
 */
import { readFile } from 'node:fs/promises';

export interface ServerPhases {
  /** First log line → "redo starts at": start-up, including the fsync of the data directory. */
  startupMs: number | null;
  /** "redo starts at" → "redo done at": WAL replay, fetching included. */
  redoMs: number | null;
  /** "redo done at" → "ready to accept connections": end-of-recovery checkpoint, promotion. */
  endOfRecoveryMs: number | null;
  /** WAL files restore_command brought ("restored log file"). */
  walFiles: number;
}

const STAMP = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (UTC|GMT|[+-]\d\d)/;

function stampOf(line: string): number | null {
  const m = STAMP.exec(line);
  if (!m) return null;
  const zone = m[2] === 'UTC' || m[2] === 'GMT' ? 'Z' : `${m[2]}:00`;
  return Date.parse(`${m[1]!.replace(' ', 'T')}${zone}`);
}

export function serverPhases(log: string): ServerPhases {
  const all = log.split('\n');
  // A data directory restored by pgBackRest brings the source's log along: read from the last start.
  const lastStart = all.findLastIndex((l) => /LOG: {2}starting PostgreSQL/.test(l));
  const lines = lastStart > 0 ? all.slice(lastStart) : all;
  const first = lines.map(stampOf).find((t) => t !== null) ?? null;
  const at = (pattern: RegExp) => {
    const line = lines.find((l) => pattern.test(l));
    return line ? stampOf(line) : null;
  };
  const redoStarts = at(/redo starts at/);
  const redoDone = at(/redo done at/);
  const ready = at(/database system is ready to accept connections/);
  const span = (a: number | null, b: number | null) => (a !== null && b !== null ? b - a : null);
  return {
    startupMs: span(first, redoStarts),
    redoMs: span(redoStarts, redoDone),
    endOfRecoveryMs: span(redoDone, ready),
    walFiles: lines.filter((l) => /restored log file/.test(l)).length,
  };
}

export async function readServerPhases(logFile: string): Promise<ServerPhases | null> {
  const log = await readFile(logFile, 'utf8').catch(() => null);
  return log === null ? null : serverPhases(log);
}
