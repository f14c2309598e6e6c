/**
 * From the catalog's rows (snake_case columns) to the records callers see (camelCase fields):
 * the columns that pass as they are go through `fieldsOf`, so that a mapper spells out only the
 * fields it converts (bigint ids, sealed columns, defaults).
 */

/** `created_at` → `createdAt`, at the type level. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

/** The columns `K` of a row, named in camelCase, with their values as they are. */
export type Fields<R, K extends keyof R & string> = { [P in K as CamelCase<P>]: R[P] };

/**
 * The columns `K` of a row that pass to the record `Rec` unchanged, typed as the record's fields:
 * a column whose camelCase name is not a field of the record is `never`, so a typo fails to compile.
 */
export type RowOf<Rec, K extends string> = {
  [P in K]: CamelCase<P> extends keyof Rec ? Rec[CamelCase<P>] : never;
};

const camelCase = (column: string): string => column.replace(/_(.)/g, (_, c: string) => c.toUpperCase());

/**
 * The fields `names` of a record, in order: the parameters of a statement that lists their
 * columns in the same order (pg sends a bigint as its decimal text).
 */
export function valuesOf<T extends object, const K extends keyof T>(record: T, names: readonly K[]): Array<T[K]> {
  return names.map((name) => record[name]);
}

/** The columns `names` of `row` as a record's fields: `created_at` becomes `createdAt`. */
export function fieldsOf<R extends object, const K extends keyof R & string>(
  row: R,
  names: readonly K[],
): Fields<R, K> {
  const fields: Record<string, unknown> = {};
  for (const name of names) fields[camelCase(name)] = row[name];
  return fields as Fields<R, K>;
}
