/** 83_000 -> "1m 23s". Two units at most: enough to compare runs at a glance. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** The instant of an ISO time in ms, or null when there is none or it cannot be read. */
function instant(iso: string | null): number | null {
  if (!iso) return null;
  const then = Date.parse(iso);
  return Number.isNaN(then) ? null : then;
}

/** "3 min ago", relative to `now` so the server render and the first client render agree. */
export function timeAgo(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const then = instant(iso);
  if (then === null) return '—';
  const seconds = Math.round((now - then) / 1000);
  // Clock skew between the host and the browser can put a fresh start slightly in the future.
  if (seconds < 45) return 'just now';
  const minutes = Math.max(1, Math.floor(seconds / 60));
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days < 60) return days === 1 ? 'yesterday' : `${days} days ago`;
  return `${Math.floor(days / 30)} months ago`;
}

/**
 * "2025-03-01 14:05:09 UTC": ISO order and UTC, so it lines up with logs and Temporal's history.
 * `seconds: false` gives the short form used where space is tight; the full one stays in a tooltip.
 */
export function formatIso(iso: string, { seconds = true } = {}): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d
    .toISOString()
    .slice(0, seconds ? 19 : 16)
    .replace('T', ' ')} UTC`;
}

export function ageMs(iso: string | null, now: number): number | null {
  const then = instant(iso);
  return then === null ? null : Math.max(0, now - then);
}

/** "in 3 h", for a time ahead of `now` (a past one reads "due now"). */
export function timeUntil(iso: string | null, now: number): string {
  const then = instant(iso);
  if (then === null) return '—';
  const minutes = Math.round((then - now) / 60_000);
  if (minutes < 1) return 'due now';
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `in ${hours} h${minutes % 60 && hours < 10 ? ` ${minutes % 60} min` : ''}`;
  return `in ${Math.round(hours / 24)} days`;
}

/** 5400 -> "1h 30m": durations given in seconds, as the status service reports them. */
export function formatSeconds(seconds: number | null): string {
  return seconds === null ? '—' : formatDuration(seconds * 1000);
}
