/** A database name as the catalog allows it (lib/names.ts): lowercase letters, digits, "_" or "-". */
const DATABASE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * The `[name=database]` matcher: a path segment that cannot name a database is "Page not found"
 * before any load asks the catalog about it.
 */
export function database(param: string): string | undefined {
  return DATABASE_NAME.test(param) ? param : undefined;
}
