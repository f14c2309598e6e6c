import { error, type RequestHandler } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { LiveJob } from '#lib/database-types.ts';

const TICK_MS = 1000;
/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;
/** How often a long-lived stream checks that its session still stands (logout, expiry, a disabled user, a changed role). */
const SESSION_CHECK_MS = 5_000;

type ConsoleDatabase = ReturnType<typeof services>['database'];

/**
 * Sends `jobs` when the list changed (a keepalive comment otherwise, now and then) and `finished`
 * for each job that left it, with how it ended.
 */
function publisher(
  db: ConsoleDatabase,
  actor: () => App.Locals['actor'] & object,
  event: (name: string, data: unknown) => boolean,
  send: (text: string) => boolean,
) {
  let previous = new Map<string, LiveJob>();
  let lastJson = '';
  let lastSentAt = 0;
  return async (jobs: LiveJob[]) => {
    const current = new Map(jobs.map((j) => [`${j.kind}:${j.id}`, j]));
    for (const [key, job] of previous) {
      if (current.has(key)) continue;
      // A backup that left the running list: its workflow still answers with how it ended.
      const final =
        job.kind === 'backup'
          ? await db.backupProgress(actor(), job.id).catch(() => ({ ...job, finished: true }))
          : { ...job, finished: true, stage: 'ended' };
      event('finished', { ...final, finished: true });
    }
    previous = current;
    const json = JSON.stringify(jobs);
    if (json !== lastJson) {
      lastJson = json;
      lastSentAt = Date.now();
      event('jobs', { jobs, at: new Date().toISOString() });
    } else if (Date.now() - lastSentAt > KEEPALIVE_MS) {
      lastSentAt = Date.now();
      send(': keepalive\n\n');
    }
  };
}

/**
 * Server-sent events with the database's running jobs: `jobs` (the list, whenever it changes) and
 * `finished` (a job that left the list, with its final stage) so the page can reload its data.
 * Every tick asks the workflows' `progress` queries through the service layer, on behalf of the
 * signed-in user; the loop ends as soon as the client goes away.
 */
export const GET: RequestHandler = async ({ params, locals, request, getClientAddress }) => {
  let actor = actorOf(locals);
  const token = locals.sessionToken;
  let sessionCheckedAt = Date.now();
  const db = services().database;
  let first: LiveJob[];
  try {
    first = await db.jobs(actor, params.name!);
  } catch (err) {
    error(statusOf(err), message(err));
  }

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
  request.signal.addEventListener('abort', stop, { once: true });

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const encoder = new TextEncoder();
      const send = (text: string): boolean => {
        if (stopped) return false;
        try {
          controller.enqueue(encoder.encode(text));
          return true;
        } catch {
          stop();
          return false;
        }
      };
      const event = (name: string, data: unknown) => send(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);

      const publish = publisher(db, () => actor, event, send);

      /** False once the session is gone: the stream says so and ends instead of serving a logged-out user. */
      const sessionStands = async (): Promise<boolean> => {
        if (!token || Date.now() - sessionCheckedAt < SESSION_CHECK_MS) return true;
        sessionCheckedAt = Date.now();
        const current = await services().auth.session(token, getClientAddress());
        if (current) {
          actor = current;
          return true;
        }
        event('ended', { reason: 'the session ended: log in again' });
        stop();
        try {
          controller.close();
        } catch {
          // Already closed by the client going away.
        }
        return false;
      };

      const tick = async () => {
        if (stopped) return;
        try {
          if (!(await sessionStands())) return;
          await publish(await db.jobs(actor, params.name!));
        } catch (err) {
          event('problem', { message: message(err) });
        }
        if (!stopped) timer = setTimeout(() => void tick(), TICK_MS);
      };
      // Tell EventSource to wait a few seconds before reconnecting after a dropped connection.
      send('retry: 3000\n\n');
      void publish(first).then(() => {
        if (!stopped) timer = setTimeout(() => void tick(), TICK_MS);
      });
    },
    cancel() {
      stop();
    },
  });

  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    },
  });
};
