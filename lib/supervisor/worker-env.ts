/**
 * The environment the worker process starts with, beyond the one it inherits. Read by glibc before
 * any of our code runs, so it can only be given at spawn: `npm start` (scripts/start-children.ts),
 * the benches, and the compose file and Helm chart, which set the same values.
 */

/**
 * glibc malloc arenas. By default glibc gives a thread that meets a locked arena a new one, up to
 * 8 per core; the worker's threads (Node's, libuv's pool, the workflow thread, the data plane, the
 * Temporal core's Rust runtime, which uses the same malloc) spread their allocations over that many
 * arenas, and memory freed in one arena serves no other. With two, the soak's worker held about
 * 40 MiB less in the allocator (105 against 145 MiB, flat in both; docs/performance.md, "Runtime").
 * A value already in the environment wins, so an operator can still tune it.
 */
export const WORKER_MALLOC_ARENA_MAX = '2';

/** `env` with the worker's allocator settings added where it does not set them itself. */
export function workerProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? WORKER_MALLOC_ARENA_MAX };
}
