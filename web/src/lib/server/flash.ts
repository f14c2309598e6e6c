import type { Cookies } from '@sveltejs/kit';
import { services } from './services.ts';
import type { RemoveOutcome } from './view/database-settings.ts';

const FLASH_COOKIE = 'hindsight_flash';

/**
 * A one-time notice for the page a redirect leads to, e.g. the overview after a database was
 * removed: a short-lived HTTP-only cookie rather than the address, so a link cannot forge it and a
 * reload does not repeat it.
 */
export function setFlash(cookies: Cookies, text: string): void {
  const { secure } = services().auth.cookie;
  cookies.set(FLASH_COOKIE, text, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 60 });
}

/** The notice left for this page, once: reading it clears it. */
export function takeFlash(cookies: Cookies): string | null {
  const text = cookies.get(FLASH_COOKIE);
  if (text === undefined) return null;
  cookies.delete(FLASH_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: services().auth.cookie.secure });
  return text;
}

const backupsOf = (n: number) => `${n} backup${n === 1 ? '' : 's'}`;

/** The overview's notice after a removal: what really became of the backups, from the service's outcome. */
export function removalNotice(outcome: RemoveOutcome): string {
  const removed = `Database ${outcome.removed} removed`;
  if (outcome.backupCount === 0) return `${removed}; it had no backups.`;
  const storages = `${outcome.storages.length === 1 ? 'storage' : 'storages'} ${outcome.storages.join(', ')}`;
  if (outcome.backups === 'delete')
    return `${removed}, and its ${backupsOf(outcome.backupCount)} deleted from ${storages}.`;
  // A manifest names the database as it was called then: backups from before a rename come back under that name.
  const names = outcome.prefixes.map((p) => p.replace(/\/$/, '')).join(' or ');
  return `${removed}. Its ${backupsOf(outcome.backupCount)} stay in ${storages}: adding the database again as ${names} adopts them.`;
}

/** The settings page's notice after a rename, under the new name: what moved, and that nothing was lost. */
export function renameNotice(from: string, to: string): string {
  return `Renamed ${from} to ${to}: its schedules and health monitor moved with it, and its backups stay attached.`;
}
