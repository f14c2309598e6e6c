/**
 * The compose stack of docker/compose.yaml as the container test runs it: its own project name,
 * its own secrets and passwords in a temp dir, a source PostgreSQL with generated data added by an
 * override file, and the console published on a free loopback port.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/ports.ts';

const run = promisify(execFile);
export const repoRoot = path.resolve(import.meta.dirname, '../..');
/** The image's unprivileged user: the secrets must be readable by it alone. */
const HINDSIGHT_UID = 10001;

/** Runs a command; a failure names the command and ends with its output. */
export async function sh(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      maxBuffer: 64 * 1024 * 1024,
      timeout: options.timeoutMs ?? 600_000,
    });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message.split('\n')[0]}\n${output}`, { cause: error });
  }
}

/** `docker compose` where the client has Compose v2, else Debian's docker-compose. */
async function composeCommand(): Promise<string[]> {
  try {
    await sh('docker', ['compose', 'version']);
    return ['docker', 'compose'];
  } catch {
    return ['docker-compose'];
  }
}

export const SOURCE_PASSWORD = 'source-password';
/** Three tables of generated rows, of the kinds a backup must carry exactly: numbers, text, json, bytes, dates. */
const SOURCE_SQL = `
create database shop;
\\connect shop
create table customers (id bigint primary key, name text not null, email text, created_at timestamptz not null);
insert into customers select g, 'customer ' || g, 'c' || g || '@example.test', timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
  from generate_series(1, 5000) g;
create table orders (id bigint primary key, customer_id bigint not null references customers, total numeric(12,2), items jsonb);
insert into orders select g, 1 + g % 5000, round((random() * 1000)::numeric, 2), jsonb_build_object('n', g % 7, 'sku', md5(g::text))
  from generate_series(1, 20000) g;
create table events (id bigserial primary key, payload bytea, happened date);
insert into events (payload, happened) select decode(md5(g::text), 'hex'), date '2020-01-01' + g % 1000 from generate_series(1, 10000) g;
`;

export interface Stack {
  project: string;
  dir: string;
  webUrl: string;
  sandboxDriver: string;
  compose(args: string[], timeoutMs?: number): Promise<string>;
  /** `docker exec` into a service's container. */
  exec(service: string, command: string[], timeoutMs?: number): Promise<string>;
  down(): Promise<void>;
}

export async function prepareStack(options: {
  project: string;
  sandboxDriver: string;
  sandboxNetwork: string;
}): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${options.project}-`));
  const secret = (name: string, value: string) =>
    writeFile(path.join(dir, name), value, { mode: 0o600 }).then(() =>
      chown(path.join(dir, name), HINDSIGHT_UID, HINDSIGHT_UID),
    );
  await secret('secret.key', `${randomBytes(32).toString('hex')}\n`);
  await secret('codec.token', `${randomBytes(24).toString('hex')}\n`);
  await writeFile(path.join(dir, 'source.sql'), SOURCE_SQL);
  const webPort = await freePort();
  const socketGid = (await sh('stat', ['-c', '%g', '/var/run/docker.sock'])).trim();
  await writeFile(
    path.join(dir, 'compose.test.yaml'),
    [
      'services:',
      '  source-db:',
      '    image: hindsight-postgres:15',
      `    environment: { POSTGRES_PASSWORD: ${SOURCE_PASSWORD} }`,
      '    networks: [edge]',
      `    volumes: ["${path.join(dir, 'source.sql')}:/docker-entrypoint-initdb.d/10-source.sql:ro"]`,
      '    healthcheck:',
      '      test: ["CMD", "pg_isready", "--host=127.0.0.1", "--username=postgres", "--dbname=shop"]',
      '      interval: 1s',
      '      retries: 120',
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DB_PASSWORD_SUPERUSER: randomBytes(16).toString('hex'),
    DB_PASSWORD_HINDSIGHT: randomBytes(16).toString('hex'),
    DB_PASSWORD_TEMPORAL: randomBytes(16).toString('hex'),
    HINDSIGHT_DOCKER_GID: socketGid,
    HINDSIGHT_SECRET_KEY_PATH: path.join(dir, 'secret.key'),
    HINDSIGHT_CODEC_TOKEN_PATH: path.join(dir, 'codec.token'),
    HINDSIGHT_WEB_PUBLISH: `127.0.0.1:${webPort}`,
    HINDSIGHT_CONSOLE_URL: `http://127.0.0.1:${webPort}`,
    HINDSIGHT_SANDBOX_DRIVER: options.sandboxDriver,
    HINDSIGHT_SANDBOX_NETWORK: options.sandboxNetwork,
  };
  const base = [
    ...(await composeCommand()),
    '--project-name',
    options.project,
    '--file',
    path.join(repoRoot, 'docker/compose.yaml'),
    '--file',
    path.join(dir, 'compose.test.yaml'),
  ];
  const compose = (args: string[], timeoutMs?: number) => sh(base[0]!, [...base.slice(1), ...args], { env, timeoutMs });
  const containerOf = async (service: string) => {
    const id = (await compose(['ps', '-q', service])).trim();
    if (!id) throw new Error(`service ${service} has no container in project ${options.project}`);
    return id;
  };
  return {
    project: options.project,
    dir,
    webUrl: `http://127.0.0.1:${webPort}`,
    sandboxDriver: options.sandboxDriver,
    compose,
    exec: async (service, command, timeoutMs) =>
      sh('docker', ['exec', await containerOf(service), ...command], { timeoutMs }),
    down: async () => {
      await compose(['down', '--volumes', '--remove-orphans', '--timeout', '10'], 180_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** md5 of every row of every table of `database` on source-db, rows ordered by their text. */
export async function tableHashes(stack: Stack, database: string): Promise<Record<string, string>> {
  const tables = (
    await stack.exec('source-db', [
      'psql',
      '-U',
      'postgres',
      '-d',
      database,
      '-Atc',
      "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
    ])
  )
    .trim()
    .split('\n')
    .filter(Boolean);
  const hashes: Record<string, string> = {};
  for (const table of tables) {
    const sql = `select count(*) || ':' || md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from ${table} t`;
    hashes[table] = (await stack.exec('source-db', ['psql', '-U', 'postgres', '-d', database, '-Atc', sql])).trim();
  }
  return hashes;
}

/** Bytes of an image, as the engine reports it. */
export async function imageSize(tag: string): Promise<number> {
  return Number((await sh('docker', ['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
}
