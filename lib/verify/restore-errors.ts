/**
 * What went wrong, entry by entry, in a pg_restore run that went on past errors. pg_restore names
 * the entry before each error ("from TOC entry 215; 1259 16386 TABLE public entries owner"), so
 * every error is tied to one entry of the archive's list.
 */
import { displayName, type TocEntry } from './archive-toc.ts';
import type { LoadItem } from './report.ts';

export interface EntryError {
  dumpId: number | null;
  message: string;
}

/** The first line of each error, with the entry it belongs to (null: not tied to an entry, e.g. a lost connection). */
export function parseRestoreErrors(stderr: string): EntryError[] {
  const errors: EntryError[] = [];
  let dumpId: number | null = null;
  for (const line of stderr.split('\n')) {
    const entry = /^pg_restore: from TOC entry (\d+);/.exec(line);
    if (entry) {
      dumpId = Number(entry[1]);
      continue;
    }
    const error = /^pg_restore: error: (.*)$/.exec(line);
    if (error) {
      errors.push({
        dumpId,
        message: error[1]!
          .replace(/^could not execute query: /, '')
          .replace(/\s+/g, ' ')
          .trim(),
      });
      dumpId = null;
    }
  }
  return errors;
}

/** A refusal for want of a privilege: what a role without privileges is expected to meet in a hostile or superuser-made dump. */
const PRIVILEGE =
  /permission denied|must be (?:a )?superuser|must be owner|only superusers? |must have .* privilege|language "[^"]+" is not trusted|must be a member of/i;

/** Entries whose failure loses backed-up rows (or large objects, or a sequence's position). */
const DATA_TYPES = new Set(['TABLE DATA', 'BLOBS', 'BLOB DATA', 'BLOB METADATA', 'LARGE OBJECT', 'SEQUENCE SET']);

export interface ClassifiedErrors {
  /** Refused for want of a privilege; nothing backed up is lost by it. */
  refused: LoadItem[];
  /** Backed-up data that did not load, or objects that failed for another reason: the verification fails. */
  failed: LoadItem[];
}

/**
 * Sorts each error. A table whose data did not load is a failure whatever the reason, even
 * "permission denied": the backup then cannot be restored by a role without privileges, only by
 * a superuser, who would run the dump's code on the host (CHECK constraints and generated columns
 * are evaluated row by row during COPY). That is a true fact about the backup, and the person
 * reading the report must learn which table and why, not see "verified". A materialized view's
 * contents are computed, not backed up: a refused refresh loses nothing and is a refusal. Any
 * other object refused for a privilege (an index whose expression calls a superuser-only
 * function, a function in an untrusted language) is reported by name; so is an object that only
 * failed because one refused before it is missing. Anything else is a failure, as before.
 */
export function classifyRestoreErrors(errors: EntryError[], entries: TocEntry[]): ClassifiedErrors {
  const byId = new Map(entries.map((e) => [e.dumpId, e]));
  const refused: LoadItem[] = [];
  const failed: LoadItem[] = [];
  const refusedNames = new Set<string>();
  for (const { dumpId, message } of errors) {
    const entry = dumpId === null ? undefined : byId.get(dumpId);
    const item: LoadItem = entry
      ? { type: entry.type, name: displayName(entry), reason: message }
      : { type: 'RESTORE', name: 'pg_restore', reason: message };
    const bareName = (entry?.name ?? '').replace(/\(.*$/, '');
    if (entry && DATA_TYPES.has(entry.type)) failed.push(item);
    else if (entry && (PRIVILEGE.test(message) || entry.type === 'MATERIALIZED VIEW DATA')) {
      refused.push(item);
      refusedNames.add(bareName);
    } else if (
      entry &&
      /does not exist/.test(message) &&
      [...refusedNames].some((name) => name && message.includes(name))
    ) {
      refused.push({ ...item, reason: `${message} (it depends on an object refused above)` });
    } else failed.push(item);
  }
  return { refused, failed };
}
