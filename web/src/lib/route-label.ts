/**
 * The route id as metrics label it: without route groups and param matchers, so moving a page into
 * a group or giving its parameter a matcher never renames a metric series.
 * `/(app)/databases/[name=database]` → `/databases/[name]`.
 */
export function routeLabel(id: string | null): string | null {
  if (id === null) return null;
  const plain = id.replace(/\/\([^)]*\)/g, '').replace(/\[(\.{3})?([^\]=]+)=[^\]]+\]/g, '[$1$2]');
  return plain === '' ? '/' : plain;
}
