/** The scale bench's settings, read from the environment, and the small helpers every part uses. */
export const MIB = 1024 * 1024;
/** The target: p99 lag from the scheduled time to the backup's first activity, at 1,000 databases an hour. */
export const TARGET_P99_SECONDS = 5;
export const TARGET_PER_HOUR = 1000;

function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

function envWorkers(): number[] {
  const raw = process.env.SCALE_WORKERS ?? '1,2';
  const counts = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number);
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) {
    throw new Error(`SCALE_WORKERS must be a comma-separated list of worker counts (1-16), e.g. "1,2"; got "${raw}"`);
  }
  return counts;
}

function envTimezone(): string {
  const tz = process.env.SCALE_TIMEZONE || 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new Error(`SCALE_TIMEZONE must be an IANA timezone such as UTC or Europe/Paris, got "${tz}"`);
  }
  return tz;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const log = (message: string) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Runs `fn` over `items` with at most `limit` calls in flight, in order of the items. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await fn(items[index]!, index);
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Statistics

export interface Settings {
  databases: number;
  windowMinutes: number;
  workers: number[];
  rows: number;
  timezone: string;
  healthIntervalSeconds: number;
  verifySample: number;
  drainMinutes: number;
  phaseMinutes: number;
  healthSteadyMinutes: number;
  /** Real PostgreSQL databases the N registered ones point at (N names, at most this many copies on disk). */
  sources: number;
  /** addDatabase calls in flight while registering. */
  registerConcurrency: number;
}

/** Every SCALE_* variable of the header of bench/scale.ts, checked. */
export function readSettings(): Settings {
  const settings: Settings = {
    databases: envInt('BENCH_DATABASES', envInt('SCALE_DATABASES', 1000)),
    windowMinutes: envInt('SCALE_WINDOW_MINUTES', 10),
    workers: envWorkers(),
    rows: envInt('SCALE_ROWS', 300),
    timezone: envTimezone(),
    healthIntervalSeconds: envInt('SCALE_HEALTH_INTERVAL_SECONDS', 3600),
    verifySample: envInt('SCALE_VERIFY_SAMPLE', 3, 0),
    drainMinutes: envInt('SCALE_DRAIN_MINUTES', 10),
    phaseMinutes: 0,
    healthSteadyMinutes: envInt('SCALE_HEALTH_STEADY_MINUTES', 0, 0),
    sources: 0,
    registerConcurrency: envInt('SCALE_REGISTER_CONCURRENCY', 16),
  };
  // A copy takes ~7.4 MiB and ~0.3 s: 10,000 would be 74 GB. Past 500 the names share sources.
  settings.sources = Math.min(envInt('SCALE_SOURCES', 500), settings.databases);
  settings.phaseMinutes = Math.min(envInt('SCALE_PHASE_MINUTES', settings.windowMinutes), settings.windowMinutes);
  if (settings.windowMinutes > 1440)
    throw new Error('SCALE_WINDOW_MINUTES must be at most 1440 (the schedules are daily)');
  return settings;
}
