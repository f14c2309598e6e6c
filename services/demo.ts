import type pg from 'pg';
import { connect, quoteIdent, type PgTarget } from '../lib/pg/connection.ts';
import type { Logger } from '../lib/logger.ts';
import type { Actor } from './authz.ts';
import type { Services } from './index.ts';

export const DEMO_DATABASE = 'demo';

/** A small shop: customers, orders with json and numeric, a sequence; a few thousand rows. */
const demoSchema = `
  create table customers (id serial primary key, name text not null, email text not null unique, created_at timestamptz not null default now());
  create table products (id serial primary key, sku text not null unique, title text not null, price numeric(10,2) not null, tags text[] not null default '{}');
  create table orders (id bigserial primary key, customer_id int not null references customers(id), placed_at timestamptz not null, total numeric(12,2) not null, details jsonb not null);
  create sequence invoice_number start 1000;
  insert into customers (name, email) select 'Customer ' || g, 'customer' || g || '@example.com' from generate_series(1, 1500) g;
  insert into products (sku, title, price, tags) select 'SKU-' || g, 'Product ' || g, round((random() * 200 + 1)::numeric, 2), array['tag' || (g % 7), 'line' || (g % 3)] from generate_series(1, 300) g;
  insert into orders (customer_id, placed_at, total, details)
    select 1 + (g % 1500), now() - (g || ' minutes')::interval, round((random() * 500)::numeric, 2),
           jsonb_build_object('items', 1 + g % 5, 'channel', (array['web','shop','phone'])[1 + g % 3])
    from generate_series(1, 6000) g;
  select setval('invoice_number', 7000);
`;

async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/**
 * On first start: a demo database in the embedded server, registered with local storage and an
 * hourly schedule, then one backup at once and a restore that proves it by row counts.
 */
export async function ensureDemo(services: Services, actor: Actor, server: PgTarget, logger: Logger): Promise<void> {
  const { runtime } = services.ctx;
  const admin = await connect('embedded server', server);
  try {
    if (!(await databaseExists(admin, DEMO_DATABASE))) {
      await admin.query(`create database ${quoteIdent(DEMO_DATABASE)}`);
      const demo = await connect(DEMO_DATABASE, { ...server, database: DEMO_DATABASE });
      try {
        await demo.query(demoSchema);
      } finally {
        await demo.end();
      }
      logger.info('created the demo database (customers, products, orders: 7,800 rows)');
    }
  } finally {
    await admin.end();
  }

  await runtime.catalog.upsertStorage('local', { type: 'local', path: runtime.config.backupsDir });
  if (!(await runtime.catalog.findDatabase(DEMO_DATABASE))) {
    const url = `postgres://${encodeURIComponent(server.user)}:${encodeURIComponent(server.password ?? '')}@${server.host}:${server.port}/${DEMO_DATABASE}`;
    await services.databases.add(actor, {
      name: DEMO_DATABASE,
      url,
      storages: 'local',
      schedule: '0 * * * *',
      timezone: 'UTC',
    });
    logger.info('registered database "demo" with storage "local" and an hourly schedule');
  }
  const backups = await runtime.catalog.listBackups(DEMO_DATABASE, 1);
  if (backups.length > 0) return;

  const backup = await services.backups.start(actor, DEMO_DATABASE, 'demo');
  logger.info({ workflowId: backup.workflowId }, 'first backup of "demo" started');
  const outcome = await backup.result();
  logger.info(
    { backupId: outcome.backupId, bytes: outcome.sizeBytes, tables: outcome.tables, rows: outcome.rows },
    'first backup of "demo" complete',
  );
  const restore = await services.restores.start(actor, {
    database: DEMO_DATABASE,
    backupId: outcome.backupId,
    to: { database: `demo_check_${outcome.backupId.slice(-6)}` },
  });
  const restored = await restore.result();
  logger.info(
    { target: restored.target, tables: restored.tablesChecked, rows: restored.rowsChecked },
    "restored the first backup and verified every table's row count",
  );
}
