import { error } from '@sveltejs/kit';
import type { ActorRef } from './view/types.ts';

/** The request's actor; hooks.server.ts has redirected anonymous requests already. */
export function actorOf(locals: App.Locals): ActorRef {
  if (!locals.actor) error(401, 'Log in first.');
  return locals.actor;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The HTTP status of each kind of service-layer error; any other kind is the caller's bad input (400). */
const STATUS_OF_KIND = { forbidden: 403, not_found: 404, conflict: 409, rate_limited: 429, unreachable: 502 } as const;
type ErrorKind = keyof typeof STATUS_OF_KIND;

/** The status of `err` when its kind is one of `kinds`, else 400. */
export function statusAmong<K extends ErrorKind>(err: unknown, kinds: readonly K[]): 400 | (typeof STATUS_OF_KIND)[K] {
  const kind = (err as { kind?: string }).kind as K;
  return kinds.includes(kind) ? STATUS_OF_KIND[kind] : 400;
}

/** The status of a failed page load or action: a throttled request is 429. */
export function statusOf(err: unknown): 400 | 403 | 404 | 409 | 429 {
  return statusAmong(err, ['forbidden', 'not_found', 'conflict', 'rate_limited']);
}
