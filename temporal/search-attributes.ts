import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes } from '@temporalio/common';

/**
 * Custom search attributes that make the Temporal UI useful for backups: every run is filterable by
 * database and kind (`HindsightDatabase = "shop" AND HindsightKind = "restore"`).
 */
export const databaseAttribute = defineSearchAttributeKey('HindsightDatabase', SearchAttributeType.KEYWORD);
export const kindAttribute = defineSearchAttributeKey('HindsightKind', SearchAttributeType.KEYWORD);
export const hindsightSearchAttributes = [databaseAttribute, kindAttribute];

export function jobAttributes(database: string, kind: 'backup' | 'restore' | 'replicate' | 'verify' | 'retention' | 'health'): TypedSearchAttributes {
  return new TypedSearchAttributes([
    { key: databaseAttribute, value: database },
    { key: kindAttribute, value: kind },
  ]);
}
