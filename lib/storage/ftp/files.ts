import path from 'node:path';
import { FTPError, type Client, type FileInfo } from 'basic-ftp';
import type { ObjectInfo } from '../contract.ts';
import { isPartialName, sweepPartialsBelow } from '../shared/partial-files.ts';
import { isFtpCode, kindOf } from './errors.ts';

const posix = path.posix;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The date of a Unix-style LIST line: 'Nov 23 13:35' (recent, year omitted) or 'Nov 23 2024'.
 * Only for servers without MDTM and MLSD; minutes are the best it gives.
 */
function parseListingDate(raw: string, now = new Date()): Date | undefined {
  const match = /^([A-Za-z]{3})\s+(\d{1,2})\s+(?:(\d{4})|(\d{1,2}):(\d{2}))$/.exec(raw.trim());
  if (!match) return undefined;
  const month = MONTHS.indexOf(match[1]!.toLowerCase());
  if (month < 0) return undefined;
  const day = Number(match[2]);
  if (match[3]) return new Date(Date.UTC(Number(match[3]), month, day));
  const date = new Date(Date.UTC(now.getUTCFullYear(), month, day, Number(match[4]), Number(match[5])));
  // A year-less date is within the last six months: one "in the future" is from last year.
  if (date.getTime() > now.getTime() + 86_400_000) date.setUTCFullYear(date.getUTCFullYear() - 1);
  return date;
}
export async function mkdirp(client: Client, dir: string): Promise<void> {
  try {
    await client.cd(dir);
    return;
  } catch (error) {
    if (!(error instanceof FTPError)) throw error;
  }
  let refusal: FTPError | undefined;
  let at = '';
  for (const part of dir.split('/').filter(Boolean)) {
    at += `/${part}`;
    // Existing directories answer 550 too; only the final CWD tells whether the path exists.
    const response = await client.sendIgnoringError(`MKD ${at}`);
    if (response.code >= 400) refusal = new FTPError(response);
  }
  try {
    await client.cd(dir);
  } catch (error) {
    throw refusal ?? error;
  }
}

export async function modifiedAtOf(client: Client, file: string, entry?: FileInfo): Promise<Date | undefined> {
  if (entry?.modifiedAt) return entry.modifiedAt;
  try {
    return await client.lastMod(file);
  } catch (error) {
    if (!isFtpCode(error, 500, 501, 502, 504)) throw error;
    return entry ? parseListingDate(entry.rawModifiedAt) : undefined;
  }
}

export async function statOn(client: Client, key: string, file: string): Promise<ObjectInfo | undefined> {
  let size: number;
  try {
    size = await client.size(file);
  } catch (error) {
    if (isFtpCode(error, 550, 450) && kindOf(error, 'stat') === 'not_found') return undefined;
    throw error;
  }
  let modifiedAt = await modifiedAtOf(client, file);
  if (!modifiedAt) {
    const entry = (await client.list(posix.dirname(file))).find((e) => e.name === posix.basename(file));
    modifiedAt = (entry && (await modifiedAtOf(client, file, entry))) ?? new Date();
  }
  return { key, size, modifiedAt };
}

export async function removeOn(client: Client, file: string): Promise<void> {
  try {
    await client.remove(file);
  } catch (error) {
    if (!isFtpCode(error, 550, 450)) throw error;
    // Many servers answer a missing file and a forbidden delete alike: ask whether it exists.
    const exists = await client.size(file).then(
      () => true,
      () => false,
    );
    if (exists) throw error;
  }
}

export async function replaceOn(client: Client, from: string, to: string): Promise<void> {
  try {
    await client.rename(from, to);
  } catch (error) {
    if (!(error instanceof FTPError) || error.code < 500) throw error;
    // Some servers refuse to rename over an existing file: the key is briefly absent, never
    // half-written.
    const exists = await client.size(to).then(
      () => true,
      () => false,
    );
    if (!exists) throw error;
    await client.remove(to);
    await client.rename(from, to);
  }
}

export async function listDir(client: Client, dir: string): Promise<FileInfo[]> {
  try {
    return (await client.list(dir)).filter((e) => e.name !== '.' && e.name !== '..');
  } catch (error) {
    if (isFtpCode(error, 550, 450) || (isFtpCode(error, 451) && kindOf(error, 'list') === 'not_found')) return [];
    throw error;
  }
}

export async function walk(client: Client, dir: string, prefix: string[], out: ObjectInfo[]): Promise<void> {
  for (const entry of await listDir(client, dir)) {
    const parts = [...prefix, entry.name];
    const full = posix.join(dir, entry.name);
    if (entry.isDirectory) await walk(client, full, parts, out);
    else if (entry.isFile && !isPartialName(entry.name)) {
      out.push({
        key: parts.join('/'),
        size: entry.size,
        modifiedAt: (await modifiedAtOf(client, full, entry)) ?? new Date(),
      });
    }
  }
}

/** Removes the partial files of abandoned writes to keys starting with `keyPrefix` below `base`. */
export function sweepFtpPartials(
  client: Client,
  base: string,
  keyPrefix: string,
  olderThanMs: number,
): Promise<number> {
  return sweepPartialsBelow(base, keyPrefix, olderThanMs, {
    list: (dir) => listDir(client, dir),
    modifiedAt: (dir, entry) => modifiedAtOf(client, posix.join(dir, entry.name), entry),
    remove: (dir, entry) => removeOn(client, posix.join(dir, entry.name)),
  });
}
