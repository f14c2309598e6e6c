/** Polls `probe` until it returns a value, or fails naming what it waited for. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * `work`, or a failure naming what did not happen once `timeoutMs` have passed. The timer is cleared when the work
 * ends: a pending one would keep the test file's process (and its slot in the run) alive until it fired.
 */
export async function withinMs<T>(timeoutMs: number, what: string, work: Promise<T>): Promise<T> {
  return raceTimer(work, timeoutMs, (_resolve, reject) =>
    reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
  );
}

/** Waits for `work` to settle, however it ends, or for `timeoutMs` to pass: true when it settled in time. */
export function settledWithin(timeoutMs: number, work: Promise<unknown>): Promise<boolean> {
  return raceTimer(
    work.then(
      () => true,
      () => true,
    ),
    timeoutMs,
    (resolve) => resolve(false),
  );
}

async function raceTimer<T>(
  work: Promise<T>,
  timeoutMs: number,
  expire: (resolve: (value: T) => void, reject: (error: Error) => void) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => expire(resolve, reject), timeoutMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
