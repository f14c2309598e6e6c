/** The console's restore page (/restores/<workflow id>), followed as a user would: reloaded until the restore ends. */
import { getPage, type SignedInConsole } from './console.ts';

/** The restore page at `location` once the restore has left the running state (or at the timeout). */
export async function restorePageOnceEnded(
  con: SignedInConsole,
  location: string,
  poll: { timeoutMs: number; everyMs: number },
): Promise<string> {
  let html = '';
  const deadline = Date.now() + poll.timeoutMs;
  while (Date.now() < deadline) {
    html = await getPage(con, location);
    if (!/data-state="running"/.test(html)) break;
    await new Promise((r) => setTimeout(r, poll.everyMs));
  }
  return html;
}
