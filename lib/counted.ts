/**
 * A count with its noun, singular for exactly one: "1 table", "2 tables", "0 tables". One helper
 * for every message that counts things, so that none says "1 tables". An unknown count (null or
 * undefined, e.g. a report not written yet) prints as "?" with the plural.
 */
export function counted(count: number | null | undefined, one: string, many = `${one}s`): string {
  if (count === null || count === undefined) return `? ${many}`;
  return `${count} ${count === 1 ? one : many}`;
}
