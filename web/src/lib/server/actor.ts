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

export function statusOf(err: unknown): 400 | 403 | 404 | 409 | 429 {
  const kind = (err as { kind?: string }).kind;
  return kind === 'forbidden'
    ? 403
    : kind === 'not_found'
      ? 404
      : kind === 'conflict'
        ? 409
        : kind === 'rate_limited'
          ? 429
          : 400;
}
