import type pg from 'pg';

/**
 * A logistics-flavoured source database that compresses the way application data does: numbers,
 * timestamps, text drawn from a vocabulary with a skewed (Zipf-like) word frequency, jsonb
 * documents with repeated keys, and a share of already-compressed-looking bytea (random bytes).
 * Filler columns (pgbench) would compress 50x and make any pipeline look fast.
 */

const words = `the a to of and in for on with is at from by this that order package delivery customer
please call before arriving leave door front back gate code reception desk floor building office
fragile handle care keep upright dry cold frozen refrigerated urgent express standard economy return
refund damaged missing late early delayed rescheduled confirmed cancelled address wrong incomplete
driver warehouse depot hub route scan label barcode invoice receipt payment card bank transfer
account password login email phone number update changed request issue problem question thanks
thank you hello regards best team support agent ticket reply status tracking shipment parcel pallet
box envelope weight size dimension heavy light large small medium signature required neighbour
safe place garage shed porch mailbox locker pickup point store branch opening hours closed monday
tuesday wednesday thursday friday saturday sunday morning afternoon evening night today tomorrow
yesterday week month year not yet still already again soon asap immediately possible impossible
can could would should will must may might we our you your they their it its he she his her`.split(/\s+/);

const cities = [
  'Amsterdam',
  'Antwerp',
  'Barcelona',
  'Berlin',
  'Bordeaux',
  'Bremen',
  'Brussels',
  'Bucharest',
  'Budapest',
  'Cologne',
  'Copenhagen',
  'Dublin',
  'Dresden',
  'Dortmund',
  'Frankfurt',
  'Gdansk',
  'Genoa',
  'Hamburg',
  'Helsinki',
  'Krakow',
  'Leipzig',
  'Lille',
  'Lisbon',
  'Ljubljana',
  'Lyon',
  'Madrid',
  'Marseille',
  'Milan',
  'Munich',
  'Nantes',
  'Naples',
  'Oslo',
  'Porto',
  'Prague',
  'Riga',
  'Rotterdam',
  'Seville',
  'Sofia',
  'Stockholm',
  'Stuttgart',
  'Tallinn',
  'Turin',
  'Valencia',
  'Vienna',
  'Vilnius',
  'Warsaw',
  'Zagreb',
  'Zurich',
];
const firstNames = [
  'anna',
  'ben',
  'carla',
  'dario',
  'elena',
  'farid',
  'greta',
  'hugo',
  'ines',
  'jonas',
  'katya',
  'luca',
  'mila',
  'noah',
  'olga',
  'pavel',
  'quinn',
  'rosa',
  'sven',
  'tara',
  'ugo',
  'vera',
  'wim',
  'xenia',
  'yusuf',
  'zoe',
];
const lastNames = [
  'andersen',
  'bianchi',
  'costa',
  'dubois',
  'eriksen',
  'fischer',
  'garcia',
  'horvat',
  'ivanova',
  'jansen',
  'kowalski',
  'lindqvist',
  'moreau',
  'novak',
  'oliveira',
  'petrov',
  'rossi',
  'schmidt',
  'tanaka',
  'urban',
  'visser',
  'weber',
  'young',
  'zimmer',
];
const carriers = ['NordFreight', 'Parcelo', 'QuickShip', 'EuroCargo', 'Pakket', 'SwiftPost', 'Transalp', 'BlueLine'];
const firmware = ['1.4.2', '1.4.3', '1.5.0', '1.5.1', '2.0.0-rc1', '2.0.0', '2.0.3'];

const sqlArray = (values: string[]): string => `array[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')}]`;

/** A random element, the first ones far more often than the last (text is not uniform). */
const skewedPick = (array: string, length: number): string =>
  `(${array})[1 + floor(${length} * power(random(), 2.5))::int]`;
const pick = (array: string, length: number): string => `(${array})[1 + floor(${length} * random())::int]`;

interface TableSpec {
  name: string;
  ddl: string;
  /** Rows per requested MiB of database, calibrated so the shares below add up to the target size. */
  rowsPerMb: number;
  /** An INSERT filling ids $1..$2. */
  insert: string;
  indexes: string[];
}

const W = sqlArray(words);
const C = sqlArray(cities);

const tables: TableSpec[] = [
  {
    name: 'shipments',
    ddl: `create table shipments (
      id bigint primary key, account_id bigint not null, shipped_at timestamptz not null, delivered_at timestamptz,
      origin text not null, destination text not null, carrier text not null, weight_kg numeric(8,3) not null,
      cost numeric(10,2) not null, status text not null, tracking text not null, instructions text)`,
    rowsPerMb: 1560,
    insert: `insert into shipments
      select g, 1 + floor(random() * $3)::bigint, at, case when random() < 0.85 then at + random() * interval '6 days' end,
             ${pick(C, cities.length)}, ${pick(C, cities.length)}, ${skewedPick(sqlArray(carriers), carriers.length)},
             round((0.1 + random() * random() * 40)::numeric, 3), round((3 + random() * 120)::numeric, 2),
             ${skewedPick(sqlArray(['delivered', 'in_transit', 'out_for_delivery', 'returned', 'lost']), 5)},
             upper(substr(md5(g::text), 1, 14)),
             case when random() < 0.6 then array_to_string(array(select ${skewedPick(W, words.length)} from generate_series(1, 4 + (g % 11))), ' ') end
      from (select g, timestamptz '2021-01-01' + random() * interval '4 years' as at from generate_series($1::bigint, $2::bigint) g) s`,
    indexes: ['create index on shipments (account_id)', 'create index on shipments (shipped_at)'],
  },
  {
    name: 'telemetry',
    ddl: `create table telemetry (id bigint primary key, device_id int not null, recorded_at timestamptz not null, reading jsonb not null)`,
    rowsPerMb: 990,
    insert: `insert into telemetry
      select g, d, timestamptz '2024-01-01' + g * interval '1 second',
             jsonb_build_object(
               'device', 'dev-' || d, 'firmware', ${skewedPick(sqlArray(firmware), firmware.length)},
               'temp_c', round((2 + random() * 6)::numeric, 2), 'humidity', round((40 + random() * 30)::numeric, 1),
               'battery', 100 - (g % 100), 'door_open', random() < 0.05,
               'location', jsonb_build_object('lat', round((45 + random() * 10)::numeric, 5), 'lon', round((2 + random() * 20)::numeric, 5)),
               'alerts', case when random() < 0.08 then jsonb_build_array(${skewedPick(sqlArray(['temp_high', 'temp_low', 'door', 'shock', 'battery_low']), 5)}) else '[]'::jsonb end)
      from (select g, 1 + (g * 7919) % 5000 as d from generate_series($1::bigint, $2::bigint) g) s`,
    indexes: [],
  },
  {
    name: 'tickets',
    ddl: `create table tickets (
      id bigint primary key, account_id bigint not null, opened_at timestamptz not null, priority text not null,
      subject text not null, body text not null)`,
    rowsPerMb: 580,
    insert: `insert into tickets
      select g, 1 + floor(random() * $3)::bigint, timestamptz '2022-01-01' + random() * interval '3 years',
             ${skewedPick(sqlArray(['low', 'normal', 'high', 'urgent']), 4)},
             initcap(array_to_string(array(select ${skewedPick(W, words.length)} from generate_series(1, 3 + (g % 5))), ' ')),
             array_to_string(array(select ${skewedPick(W, words.length)} from generate_series(1, 20 + (g % 47))), ' ')
               || E'\\n\\n' || ${pick(sqlArray(firstNames), firstNames.length)} || ', order ' || (100000 + g * 13)
      from generate_series($1::bigint, $2::bigint) g`,
    indexes: [],
  },
  {
    name: 'attachments',
    ddl: `create table attachments (id bigint primary key, ticket_id bigint not null, mime text not null, content bytea not null)`,
    rowsPerMb: 44,
    // sha256 output is indistinguishable from random: these bytes stand for JPEGs and PDFs.
    insert: `insert into attachments
      select g, 1 + floor(random() * $3)::bigint, ${skewedPick(sqlArray(['image/jpeg', 'application/pdf', 'image/png']), 3)},
             (select string_agg(sha256(int8send(g) || int8send(k) || float8send(random())), ''::bytea) from generate_series(1, 32 + (g % 96)) k)
      from generate_series($1::bigint, $2::bigint) g`,
    indexes: [],
  },
  {
    name: 'accounts',
    ddl: `create table accounts (
      id bigint primary key, handle text not null, email text not null, country char(2) not null,
      created_at timestamptz not null, balance numeric(14,2) not null, tier smallint not null, active boolean not null)`,
    rowsPerMb: 310,
    insert: `insert into accounts
      select g, f || '.' || l || (g % 1000), f || '.' || l || '@' || ${pick(sqlArray(['mail.example', 'post.example', 'inbox.example', 'corp.example']), 4)},
             ${pick(sqlArray(['DE', 'FR', 'NL', 'BE', 'IT', 'ES', 'PL', 'SE', 'AT', 'PT']), 10)},
             timestamptz '2016-01-01' + random() * interval '9 years', round((random() * 20000 - 2000)::numeric, 2),
             1 + floor(4 * power(random(), 3))::int, random() < 0.9
      from (select g, ${pick(sqlArray(firstNames), firstNames.length)} as f, ${pick(sqlArray(lastNames), lastNames.length)} as l
            from generate_series($1::bigint, $2::bigint) g) s`,
    indexes: ['create unique index on accounts (email, id)'],
  },
];

export interface DatasetReport {
  sizeBytes: number;
  seconds: number;
  tables: Array<{ name: string; rows: number; bytes: number }>;
}

async function databaseSize(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>('select pg_database_size(current_database())::text as n');
  return Number(rows[0]!.n);
}

/**
 * Fills an empty database to at least `targetMb` MiB. Tables are filled in parallel on `clients`
 * (one statement per table per pass, biggest tables first); a short pass tops up if the estimate
 * fell short.
 */
export async function generateDataset(clients: pg.Client[], targetMb: number): Promise<DatasetReport> {
  const started = performance.now();
  const [main] = clients;
  if (!main) throw new Error('generateDataset needs at least one connection');
  for (const c of clients) await c.query('set synchronous_commit = off');
  for (const t of tables) await main.query(t.ddl);

  const filled = new Map(tables.map((t) => [t.name, 0]));
  const fill = async (mb: number): Promise<void> => {
    const accountRows = tables.find((t) => t.name === 'accounts')!.rowsPerMb;
    const accounts = filled.get('accounts')! + Math.max(1, Math.round(mb * accountRows));
    const queue = tables.map((t) => {
      const from = filled.get(t.name)! + 1;
      const to = filled.get(t.name)! + Math.max(1, Math.round(mb * t.rowsPerMb));
      filled.set(t.name, to);
      return { sql: t.insert, params: t.insert.includes('$3') ? [from, to, accounts] : [from, to] };
    });
    await Promise.all(
      clients.map(async (client) => {
        for (let job = queue.shift(); job; job = queue.shift()) await client.query(job.sql, job.params);
      }),
    );
  };

  await fill(targetMb);
  for (const t of tables) for (const ddl of t.indexes) await main.query(ddl);
  await main.query('vacuum analyze');
  // Estimates drift with the server version; top up until the target is met.
  for (let size = await databaseSize(main); size < targetMb * 1024 * 1024; size = await databaseSize(main)) {
    const missingMb = targetMb - size / 1024 / 1024;
    await fill(Math.max(missingMb * 1.05, 8));
    await main.query('vacuum analyze');
  }

  const seconds = (performance.now() - started) / 1000;
  const report: DatasetReport = { sizeBytes: await databaseSize(main), seconds, tables: [] };
  for (const t of tables) {
    const { rows } = await main.query<{ rows: string; bytes: string }>(
      `select count(*)::text as rows, pg_total_relation_size('${t.name}')::text as bytes from ${t.name}`,
    );
    report.tables.push({ name: t.name, rows: Number(rows[0]!.rows), bytes: Number(rows[0]!.bytes) });
  }
  report.tables.sort((a, b) => b.bytes - a.bytes);
  return report;
}
