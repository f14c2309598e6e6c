import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes } from '@temporalio/common';
import type { JobKind } from './contracts/common.ts';

/**
 * Custom search attributes that make the Temporal UI useful for backups: every run is filterable by
 * database and kind (`HindsightDatabase = "shop" AND HindsightKind = "restore"`).
 */
export const databaseAttribute = defineSearchAttributeKey('HindsightDatabase', SearchAttributeType.KEYWORD);
export const kindAttribute = defineSearchAttributeKey('HindsightKind', SearchAttributeType.KEYWORD);
export const hindsightSearchAttributes = [databaseAttribute, kindAttribute];

/** A run of no database (the watchdog, workspace notifications) carries only its kind. */
export function jobAttributes(database: string | null, kind: JobKind): TypedSearchAttributes {
  return new TypedSearchAttributes([
    ...(database !== null ? [{ key: databaseAttribute, value: database }] : []),
    { key: kindAttribute, value: kind },
  ]);
}
