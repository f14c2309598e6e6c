/**
 * The "shop" database the sandbox verification and restore tests back up: small but varied, with
 * types whose text form differs between careless dumps (jsonb, bytea, arrays, numeric, timestamptz)
 * and a second schema whose table references the first.
 */
import type { PgTarget } from '../../lib/pg/connection.ts';
import { tableFingerprint } from './platform.ts';

/** Each table with the key its rows are hashed in order of. */
export const SHOP_TABLES: ReadonlyArray<readonly [table: string, orderBy: string]> = [
  ['items', 'id'],
  ['sales.orders', 'no'],
];

/** The SQL that creates and fills the shop's tables with `items` items and `orders` orders. */
export function shopSchema(counts: { items: number; orders: number }): string {
  return `
  create table items (id int primary key, name text not null, doc jsonb, blob bytea, tags text[], price numeric(12,4), at timestamptz not null);
  insert into items select g, 'item ' || g, jsonb_build_object('g', g, 'odd', g % 2 = 1), decode(md5(g::text), 'hex'),
    array['t' || g % 3, 't' || g % 5], g * 1.25, timestamptz '2024-01-01 00:00+00' + g * interval '37 minutes'
    from generate_series(1, ${counts.items}) g;
  create schema sales;
  create table sales.orders (no bigint primary key, item_id int not null references items(id), qty int not null, note text);
  insert into sales.orders select g, 1 + g % ${counts.items}, g % 7, case when g % 4 = 0 then null else repeat('n', g % 30) end
    from generate_series(1, ${counts.orders}) g;
`;
}

export type ShopHashes = Record<string, { rows: number; md5: string }>;

/** Every shop table's md5 of all its rows in key order: equal only when the content is the same. */
export async function shopHashes(target: PgTarget): Promise<ShopHashes> {
  const out: ShopHashes = {};
  for (const [table, order] of SHOP_TABLES) out[table] = await tableFingerprint(target, table, order);
  return out;
}
