/**
 * The two shapes a rebuild at 100,000 objects needs: reads that overlap (one object at a time waits
 * on storage latency for nothing) but never all at once (100,000 open streams and promises), and
 * writes in chunks (one round trip per row is what made a large catalog slow to rebuild).
 */

/** How many objects a rebuild reads at a time: enough to hide a remote storage's latency, few enough for memory. */
export const READ_CONCURRENCY = 16;

/**
 * `work` over `items` with at most `limit` calls running at once; the results come back in the
 * order of `items`, so what depends on order (the report's list of unreadable objects) does not
 * change with timing. Workers pull the next index from a shared cursor: only `limit` promises live
 * at a time. The first error stops the pulling and is rethrown once the running calls have ended.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = await work(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

export interface ChunkOptions<T> {
  /** How much of the limit an item takes (default 1): a group of rows weighs its row count. */
  weight?: (item: T) => number;
  /** The rows an item writes: a chunk ends before an item that would write a row the chunk already writes. */
  keys?: (item: T) => Iterable<string>;
}

/**
 * Splits `items` in order into chunks weighing at most `limit` (an item heavier than the limit gets
 * a chunk of its own). With `keys`, a chunk also ends before an item that shares a key with it: one
 * statement then touches each row once (PostgreSQL refuses `on conflict do update` on the same row
 * twice), and chunks written in order leave what items written in order would.
 */
export function chunked<T>(items: readonly T[], limit: number, options: ChunkOptions<T> = {}): T[][] {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const chunks: T[][] = [];
  let current: T[] = [];
  let weight = 0;
  let keys = new Set<string>();
  for (const item of items) {
    const itemWeight = options.weight?.(item) ?? 1;
    const itemKeys = [...(options.keys?.(item) ?? [])];
    const clash = itemKeys.some((k) => keys.has(k));
    if (current.length > 0 && (weight + itemWeight > limit || clash)) {
      chunks.push(current);
      current = [];
      weight = 0;
      keys = new Set();
    }
    current.push(item);
    weight += itemWeight;
    for (const k of itemKeys) keys.add(k);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
