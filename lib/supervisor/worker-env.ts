/**
 * The environment the worker process starts with, beyond the one it inherits. Read by glibc and by
 * V8 before any of our code runs, so it can only be given at spawn: `npm start`
 * (scripts/start-children.ts), the benches, and the compose file and Helm chart, which set the same
 * values.
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

/**
 * V8's young generation, per heap. V8 sizes it from the heap limit, which it derives from the
 * machine's memory: on 24 GiB, semi-spaces of up to 32 MiB, so each of the worker's three heaps (the
 * main thread, the SDK's workflow thread, the data plane) may keep about 100 MiB of young garbage
 * committed, and it grows only when allocation is heavy and shrinks rarely: the soak saw the
 * workflow thread's heap swing between 94 and 216 MiB. The worker's allocations are small and
 * short-lived (activations, log lines, catalog rows; dump bytes pass through the data plane in
 * chunks it does not keep), so 8 MiB semi-spaces cost a few more scavenges and bound that part of
 * the RSS. A flag already in NODE_OPTIONS wins.
 */
export const WORKER_V8_FLAGS = '--max-semi-space-size=8';

/**
 * `env` with the V8 flags added to NODE_OPTIONS unless it sets a semi-space size itself. The console
 * (web/main.ts) starts with it too: in the soak its RSS rose 318 MiB/h without it and stayed flat
 * (171 → 161 MiB) with it, under the same polling of its API.
 */
export function withV8Flags(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const nodeOptions = env.NODE_OPTIONS?.trim() ?? '';
  if (nodeOptions.includes('--max-semi-space-size')) return { ...env, NODE_OPTIONS: nodeOptions };
  return { ...env, NODE_OPTIONS: `${nodeOptions} ${WORKER_V8_FLAGS}`.trim() };
}

/** `env` with the worker's allocator and V8 settings added where it does not set them itself. */
export function workerProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return withV8Flags({ ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? WORKER_MALLOC_ARENA_MAX });
}
