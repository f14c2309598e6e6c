/**
 * The world of the no-secrets test: a source database owned by a role with a password, an S3
 * storage (moto) with a secret key, Slack and SMTP receivers that check their tokens, and the
 * console with the codec endpoint, every log line, API answer and CLI output recorded for the scan.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { connect, quoteIdent, type PgTarget } from '../../lib/pg/connection.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { createNotifierOperations, type NotifierOperations } from '../../services/notifiers/work.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { hindsightResult } from './hindsight-cli.ts';
import { startAuthSmtpServer, startHttpReceiver, type ReceivedMail } from './notify-receivers.ts';
import { capturedLogger, startPlatform, type Platform } from './platform.ts';
import { freePort } from './ports.ts';
import { expand, type Sources } from './secret-scan.ts';
import { startMoto, type MotoServer } from './servers/moto.ts';

const rand = (n: number) => randomBytes(n).toString('hex');
/** Distinctive and random, so that a hit cannot be a coincidence. */
export const secrets = {
  'database password': `dbpw-${rand(12)}`,
  'wrong database password': `badpw-${rand(12)}`,
  // Real AWS secret keys hold "/" and "+": their URL-encoded form differs.
  'storage secret key': `${randomBytes(30).toString('base64')}/+k`,
  'slack webhook token': `slacktok-${rand(12)}`,
  'wrong slack webhook token': `wrongtok-${rand(12)}`,
  'smtp password': `smtppw-${rand(12)}`,
  'wrong smtp password': `badsmtp-${rand(12)}`,
  'console password': `console-pw-${rand(12)}`,
  'new user password': `invitee-pw-${rand(12)}`,
  'changed console password': `changed-pw-${rand(12)}`,
  'reset password': `reset-pw-${rand(12)}`,
  'codec endpoint token': `codec-${rand(12)}`,
  'sso client secret': `oidc-client-${rand(12)}`,
};
export const CANARY = `canary-${rand(12)}`;
export const ROLE = 'shop_owner';
export const OWNER = 'owner@example.org';

/** Everything the product printed or answered, by where it went. */
export interface Recorded {
  workerLog: string[];
  webLog: string[];
  cliOutput: string[];
  apiResponses: string[];
}

export interface NoSecretsWorld {
  platform: Platform;
  services: HostServices;
  server: WebServer;
  notifiers: NotifierOperations;
  moto: MotoServer;
  http: Awaited<ReturnType<typeof startHttpReceiver>>;
  smtp: Awaited<ReturnType<typeof startAuthSmtpServer>>;
  mails: ReceivedMail[];
  /** `shop`, reached as its owner role with the database password. */
  source: PgTarget;
  recorded: Recorded;
}

/** Database `shop` (400 orders) owned by ROLE, whose password is a secret. */
async function createShop(platform: Platform): Promise<PgTarget> {
  const admin = await connect('test server', platform.cluster.target('postgres'));
  await admin.query(`create role ${ROLE} login createdb password '${secrets['database password']}'`);
  await admin.query(`create database shop owner ${ROLE}`);
  await admin.end();
  const source = { ...platform.cluster.target('shop'), user: ROLE, password: secrets['database password'] };
  const shop = await connect('shop', source);
  await shop.query(
    `create table ${quoteIdent('orders')} (id int primary key, note text); insert into orders select g, md5(g::text) from generate_series(1, 400) g`,
  );
  await shop.end();
  return source;
}

/** Moto with bucket `hindsight-backups`, made with the storage secret key. */
async function startS3(): Promise<MotoServer> {
  const moto = await startMoto();
  const s3 = new S3Client({
    region: moto.region,
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: secrets['storage secret key'] },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'hindsight-backups' }));
  s3.destroy();
  return moto;
}

/** A Slack receiver that knows only the right token, and an SMTP server that takes only the right password. */
async function startReceivers(mails: ReceivedMail[]) {
  const http = await startHttpReceiver({
    slackPath: `/services/T0SLACK/B0SLACK/${secrets['slack webhook token']}`,
    discordPath: '/unused-discord',
    teamsPath: '/unused-teams',
    telegramToken: 'unused',
    webhookHeader: 'unused',
    webhookSecret: 'unused',
  });
  const smtp = await startAuthSmtpServer(secrets['smtp password'], mails);
  return { http, smtp };
}

/** The console with the codec endpoint behind its token, logging as web/main.ts does. */
async function startConsole(platform: Platform, services: HostServices, webLog: string[]): Promise<WebServer> {
  // As web/main.ts logs, through the project's logger.
  const webLogger = capturedLogger('web', (line) => webLog.push(line));
  const server = await startWebServer({
    services,
    host: '127.0.0.1',
    port: await freePort(),
    log: (msg) => webLogger.info(msg),
    codec: {
      codec: new EncryptionCodec(platform.runtime.key),
      token: secrets['codec endpoint token'],
      corsOrigin: 'http://127.0.0.1:8233',
    },
  });
  webLogger.info(`console listening on ${server.url}`);
  return server;
}

/**
 * Starts the whole world into `world`, filled as it goes so that the caller can stop what started
 * even when a step fails; the console's first owner is OWNER with the console password.
 */
export async function startNoSecretsWorld(world: Partial<NoSecretsWorld>): Promise<NoSecretsWorld> {
  const recorded: Recorded = { workerLog: [], webLog: [], cliOutput: [], apiResponses: [] };
  world.recorded = recorded;
  world.platform = await startPlatform({ onWorkerLog: (line) => recorded.workerLog.push(line) });
  const platform = world.platform;
  world.source = await createShop(platform);
  world.moto = await startS3();
  world.mails = [];
  Object.assign(world, await startReceivers(world.mails));
  await platform.startWorker();
  world.notifiers = createNotifierOperations(platform.runtime, platform.client);
  world.services = createConsoleServices(platform.services);
  world.server = await startConsole(platform, world.services, recorded.webLog);
  await world.services.access.createFirstOwner({ email: OWNER, password: secrets['console password'] }, '127.0.0.1');
  return world as NoSecretsWorld;
}

export async function stopNoSecretsWorld(world: Partial<NoSecretsWorld>): Promise<void> {
  await world.server?.close();
  await world.http?.close().catch(() => undefined);
  await world.smtp?.close().catch(() => undefined);
  await world.moto?.stop().catch(() => undefined);
  await world.platform?.stop();
}

/** A console client that records every answer, headers included, in `apiResponses`. */
export class RecordingClient {
  cookie = '';
  readonly #world: NoSecretsWorld;

  constructor(world: NoSecretsWorld) {
    this.#world = world;
  }

  async request(
    method: string,
    url: string,
    json?: unknown,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    const { server, recorded } = this.#world;
    const headers: Record<string, string> = { origin: server.url, ...extra };
    if (this.cookie) headers.cookie = this.cookie;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${server.url}${url}`, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      redirect: 'manual',
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = bytes.toString('utf8');
    recorded.apiResponses.push(
      `${method} ${url} ${response.status}\n${[...response.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`,
    );
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* a download or a page */
    }
    return { status: response.status, body };
  }

  /** A console form post (a page's action, without JavaScript), its answer recorded like the API's. */
  async form(url: string, fields: Record<string, string>): Promise<{ status: number; text: string }> {
    const { server, recorded } = this.#world;
    const headers: Record<string, string> = { origin: server.url, accept: 'text/html' };
    if (this.cookie) headers.cookie = this.cookie;
    headers['content-type'] = 'application/x-www-form-urlencoded';
    const body = new URLSearchParams(fields).toString();
    const response = await fetch(`${server.url}${url}`, { method: 'POST', headers, body, redirect: 'manual' });
    const text = await response.text();
    recorded.apiResponses.push(
      `POST ${url} ${response.status}\n${[...response.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`,
    );
    return { status: response.status, text };
  }

  /** `hindsight <args>`: its exit code and output, the output recorded in `cliOutput`. */
  async hindsight(args: string[]): Promise<{ code: number; stdout: string }> {
    const result = await hindsightResult(this.#world.platform.configEnv, args, { maxBuffer: 64 * 1024 * 1024 });
    // The command line itself is the operator's input, not the product's output: only what it printed is collected.
    this.#world.recorded.cliOutput.push(`${result.stdout}\n${result.stderr}`);
    return result;
  }
}

/** Every place a secret could end up, read as text: the recordings, the audit log and the workflow histories. */
export async function collectSources(world: NoSecretsWorld): Promise<Sources> {
  const { platform, recorded } = world;
  const { rows } = await platform.runtime.catalog.pool.query<{ entry: string }>(
    'select a::text as entry from audit_log a order by id',
  );
  // The sign-in tables keep hashes only: no password or token of the run may be read there.
  const signIn = await platform.runtime.catalog.pool.query<{ row: string }>(
    `select t::text as row from users t union all select t::text from sessions t
     union all select t::text from login_attempts t union all select t::text from setup_tokens t
     union all select t::text from password_resets t`,
  );
  const histories: string[] = [];
  // A client without the codec: what Temporal stores, bytes as they are.
  for await (const info of platform.env.client.workflow.list()) {
    histories.push(...expand(info.raw));
    const history = await platform.env.client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    histories.push(...expand(history));
  }
  // Schedules hold their action's arguments as payloads too.
  for await (const listed of platform.env.client.schedule.list()) {
    histories.push(
      ...expand(
        await platform.env.client.workflowService.describeSchedule({
          namespace: 'default',
          scheduleId: listed.scheduleId,
        }),
      ),
    );
  }
  // The single sign-on and invitation tables: the client secret is sealed, links and states are hashed.
  const ssoRows: string[] = [];
  for (const table of ['identity_providers', 'user_identities', 'oidc_logins', 'invitations', 'access_settings']) {
    const result = await platform.runtime.catalog.pool.query<{ row: string }>(`select t::text as row from ${table} t`);
    ssoRows.push(...result.rows.map((r) => r.row));
  }
  return {
    'worker log': recorded.workerLog,
    'single sign-on tables': ssoRows,
    'web server log': recorded.webLog,
    'CLI output': recorded.cliOutput,
    'API responses': recorded.apiResponses,
    'audit log': rows.map((r) => r.entry),
    'sign-in tables': signIn.rows.map((r) => r.row),
    'workflow histories': histories,
  };
}
