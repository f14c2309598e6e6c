// A fixed locale keeps the server render and the hydrated page identical, whatever the browser says.
const integer = new Intl.NumberFormat('en-US');
const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** 1536 -> "1.5 KB". Binary steps, short units: what operators compare against `du -h`. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) return '—';
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** 1234567 -> "1,234,567": row counts are compared exactly, so they are never abbreviated. */
export function formatCount(n: number | null): string {
  return n === null ? '—' : integer.format(n);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** How much smaller the stored object is than the raw dump, e.g. "4.2×"; null when not meaningful. */
export function compressionRatio(sizeBytes: number | null, dumpBytes: number | null): string | null {
  if (!sizeBytes || !dumpBytes) return null;
  const ratio = dumpBytes / sizeBytes;
  return ratio >= 1.05 ? `${ratio.toFixed(ratio >= 10 ? 0 : 1)}×` : null;
}
