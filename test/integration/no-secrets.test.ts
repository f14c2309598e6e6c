import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { connect, quoteIdent, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { createNotifierOperations, type NotifierOperations } from '../../services/notifiers/work.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { capturedLogger, startPlatform, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { startHttpReceiver, startSmtpServer, type ReceivedMail } from '../support/notify-receivers.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

// Debug lines too: a secret must not reach the log at any level.
process.env.HINDSIGHT_LOG_LEVEL = 'debug';

const rand = (n: number) => randomBytes(n).toString('hex');
/** Distinctive and random, so that a hit cannot be a coincidence. */
const secrets = {
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
  'codec endpoint token': `codec-${rand(12)}`,
};
const CANARY = `canary-${rand(12)}`;
const ROLE = 'shop_owner';
const EVENTS = ['backup_failed', 'backup_succeeded'];
const OWNER = 'owner@example.org';

/** The forms a secret may take on the way out: as is, URL-encoded, JSON-escaped, base64 at any alignment. */
function formsOf(secret: string): Array<[string, string]> {
  const forms: Array<[string, string]> = [
    ['plain', secret],
    ['url-encoded', encodeURIComponent(secret)],
    ['json', JSON.stringify(secret).slice(1, -1)],
  ];
  for (const pad of [0, 1, 2]) {
    const b64 = Buffer.from(`${'x'.repeat(pad)}${secret}`).toString('base64');
    // Characters that mix in the padding or the unknown neighbours are not part of the secret's own encoding.
    const core = b64.slice([0, 2, 3][pad], b64.length - 4);
    forms.push([`base64+${pad}`, core], [`base64url+${pad}`, core.replace(/\+/g, '-').replace(/\//g, '_')]);
  }
  return forms;
}

/** Text, plus every Uint8Array and base64-looking string decoded, so that payload bytes are read as bytes. */
function expand(value: unknown, out: string[] = []): string[] {
  if (value === null || value === undefined) return out;
  if (value instanceof Uint8Array) {
    const b = Buffer.from(value);
    out.push(b.toString('latin1'), b.toString('base64'));
    return out;
  }
  if (typeof value === 'string') {
    out.push(value);
    if (value.length >= 8 && value.length % 4 === 0 && /^[A-Za-z0-9+/]+=*$/.test(value))
      out.push(Buffer.from(value, 'base64').toString('latin1'));
    return out;
  }
  if (typeof value !== 'object') {
    out.push(String(value));
    return out;
  }
  if (Array.isArray(value)) for (const v of value) expand(v, out);
  else
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out.push(k);
      expand(v, out);
    }
  return out;
}

type Sources = Record<string, string[]>;

function scan(sources: Sources, wanted: Record<string, string>): string[] {
  const findings: string[] = [];
  for (const [source, texts] of Object.entries(sources)) {
    for (const [what, secret] of Object.entries(wanted)) {
      for (const [form, needle] of formsOf(secret)) {
        const hit = texts.find((t) => t.includes(needle));
        if (hit) {
          const at = hit.indexOf(needle);
          findings.push(
            `${what} (${form}) in ${source}: …${hit.slice(Math.max(0, at - 160), at + needle.length + 40)}…`,
          );
          break;
        }
      }
    }
  }
  return findings;
}

describe('no secret in any log line, API response, CLI output, audit entry or workflow history', () => {
  const workerLog: string[] = [];
  const webLog: string[] = [];
  const cliOutput: string[] = [];
  const apiResponses: string[] = [];
  let platform: Platform;
  let services: HostServices;
  let server: WebServer;
  let notifiers: NotifierOperations;
  let moto: MotoServer;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  const mails: ReceivedMail[] = [];
  let source: PgTarget;
  let cookie = '';
  let backupId = '';

  async function request(
    method: string,
    url: string,
    json?: unknown,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { origin: server.url, ...extra };
    if (cookie) headers.cookie = cookie;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${server.url}${url}`, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      redirect: 'manual',
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = bytes.toString('utf8');
    apiResponses.push(
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

  async function hindsight(args: string[]): Promise<{ code: number; stdout: string }> {
    const result = await run(process.execPath, [cli, ...args], {
      env: { ...process.env, ...platform.configEnv },
      maxBuffer: 64 * 1024 * 1024,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
    // The command line itself is the operator's input, not the product's output: only what it printed is collected.
    cliOutput.push(`${result.stdout}\n${result.stderr}`);
    return result;
  }

  before(async () => {
    platform = await startPlatform({ onWorkerLog: (line) => workerLog.push(line) });
    const admin = await connect('test server', platform.cluster.target('postgres'));
    await admin.query(`create role ${ROLE} login createdb password '${secrets['database password']}'`);
    await admin.query(`create database shop owner ${ROLE}`);
    await admin.end();
    source = { ...platform.cluster.target('shop'), user: ROLE, password: secrets['database password'] };
    const shop = await connect('shop', source);
    await shop.query(
      `create table ${quoteIdent('orders')} (id int primary key, note text); insert into orders select g, md5(g::text) from generate_series(1, 400) g`,
    );
    await shop.end();

    moto = await startMoto();
    const s3 = new S3Client({
      region: moto.region,
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: secrets['storage secret key'] },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'hindsight-backups' }));
    s3.destroy();

    http = await startHttpReceiver({
      slackPath: `/services/T0SLACK/B0SLACK/${secrets['slack webhook token']}`,
      discordPath: '/unused-discord',
      teamsPath: '/unused-teams',
      telegramToken: 'unused',
      webhookHeader: 'unused',
      webhookSecret: 'unused',
    });
    smtp = await startSmtpServer(
      'auth',
      {
        disabledCommands: ['STARTTLS'],
        allowInsecureAuth: true,
        authMethods: ['PLAIN', 'LOGIN'],
        onAuth(a, _s, cb) {
          if (a.username === 'ops' && a.password === secrets['smtp password']) cb(null, { user: 'ops' });
          else cb(new Error('Invalid username or password'));
        },
      },
      mails,
    );

    await platform.startWorker();
    notifiers = createNotifierOperations(platform.runtime, platform.client);
    services = createConsoleServices(platform.services);
    // As web/main.ts logs, through the project's logger.
    const webLogger = capturedLogger('web', (line) => webLog.push(line));
    server = await startWebServer({
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

    await services.access.createFirstOwner({ email: OWNER, password: secrets['console password'] }, '127.0.0.1');
  });

  after(async () => {
    await server?.close();
    await http?.close().catch(() => undefined);
    await smtp?.close().catch(() => undefined);
    await moto?.stop().catch(() => undefined);
    await platform?.stop();
  });

  it('does real work with every kind of secret: backups, restore, failures, verification, tests, API and CLI', async () => {
    const denied = await request('POST', '/api/v1/session', { email: OWNER, password: secrets['new user password'] });
    assert.equal(denied.status, 401, 'a wrong password is refused');
    const session = await request('POST', '/api/v1/session', { email: OWNER, password: secrets['console password'] });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    const setCookie = /set-cookie: ([^;\n]+)/.exec(apiResponses.at(-1)!)?.[1];
    assert.ok(setCookie, 'the login sets a session cookie');
    cookie = setCookie;

    // Storage on S3 with a secret key, through the API (its connection test runs).
    const s3Config = {
      type: 's3',
      bucket: 'hindsight-backups',
      region: moto.region,
      endpoint: moto.endpoint,
      forcePathStyle: true,
      accessKeyId: moto.accessKeyId,
      secretAccessKey: secrets['storage secret key'],
    };
    const storage = await request('POST', '/api/v1/storages', { name: 's3', config: s3Config });
    assert.equal(storage.status, 201, JSON.stringify(storage.body));
    const badStorage = await request('POST', '/api/v1/storages', {
      name: 's3-down',
      config: { ...s3Config, endpoint: `http://127.0.0.1:${await freePort()}` },
    });
    assert.ok(badStorage.status >= 400, 'an unreachable storage fails its connection test');

    // Databases: the right password (checked), and a wrong one (refused by the check, then saved without it).
    const added = await request('POST', '/api/v1/databases', {
      name: 'shop',
      url: targetUrl(source),
      storages: ['local', 's3'],
      verifyAfterBackup: true,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const wrongUrl = targetUrl({ ...source, password: secrets['wrong database password'] });
    const refused = await request('POST', '/api/v1/databases', {
      name: 'shop-wrong',
      url: wrongUrl,
      storages: 'local',
      verifyAfterBackup: false,
    });
    assert.ok(refused.status >= 400, `a wrong password fails the check: ${refused.status}`);
    assert.equal(
      (
        await request('POST', '/api/v1/databases', {
          name: 'shop-wrong',
          url: wrongUrl,
          storages: 'local',
          verifyAfterBackup: false,
          skipCheck: true,
        })
      ).status,
      201,
    );
    assert.equal(
      (await request('PUT', '/api/v1/databases/shop/schedule', { schedule: '0 3 * * *', timezone: 'UTC' })).status,
      200,
    );

    // Notifiers: a Slack URL with its token in the path, mail with SMTP auth; and wrong ones of each.
    await notifiers.saveNotifier(
      'slack',
      { type: 'slack', url: `${http.url}/services/T0SLACK/B0SLACK/${secrets['slack webhook token']}` },
      EVENTS,
    );
    await notifiers.saveNotifier(
      'mail',
      {
        type: 'email',
        host: '127.0.0.1',
        port: smtp.port,
        from: 'hindsight@example.com',
        to: ['dba@example.com'],
        auth: { user: 'ops', pass: secrets['smtp password'] },
      },
      EVENTS,
    );
    await notifiers.saveNotifier(
      'slack-wrong',
      { type: 'slack', url: `${http.url}/services/T0SLACK/B0SLACK/${secrets['wrong slack webhook token']}` },
      EVENTS,
    );
    await notifiers.saveNotifier(
      'mail-wrong',
      {
        type: 'email',
        host: '127.0.0.1',
        port: smtp.port,
        from: 'hindsight@example.com',
        to: ['dba@example.com'],
        auth: { user: 'ops', pass: secrets['wrong smtp password'] },
      },
      EVENTS,
    );
    await notifiers.attach('shop', ['slack', 'mail', 'slack-wrong', 'mail-wrong']);
    await notifiers.attach('shop-wrong', ['slack', 'mail']);
    assert.equal((await notifiers.testNotifier('slack')).ok, true);
    assert.equal((await notifiers.testNotifier('slack-wrong')).ok, false, 'the receiver does not know the wrong token');
    assert.equal((await notifiers.testNotifier('mail-wrong')).ok, false, 'the SMTP server refuses the wrong password');

    // A backup to local and S3, with its verification, and its notifications delivered.
    const started = await request('POST', '/api/v1/databases/shop/backups', {});
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const { workflowId, backupId: id } = started.body as { workflowId: string; backupId: string };
    backupId = id;
    const outcome = (await platform.client.workflow.getHandle(workflowId).result()) as { status: string };
    assert.equal(outcome.status, 'complete');
    const backup = await platform.runtime.catalog.getBackup(backupId);
    assert.deepEqual(backup.copies.map((c) => `${c.storageName}:${c.status}`).sort(), [
      'local:complete',
      's3:complete',
    ]);
    await waitFor(
      'backup_succeeded sent to slack and mail',
      async () => {
        const sent = (await notifiers.deliveries({ database: 'shop', limit: 100 })).filter(
          (d) => d.event === 'backup_succeeded' && d.status === 'sent',
        );
        return sent.length === 2 ? sent : undefined;
      },
      60_000,
    );
    assert.ok(
      http.received.some((r) => r.channel === 'slack' && r.text.includes(backupId)),
      'slack heard of the backup',
    );
    await waitFor(
      'a mail through the authenticated server',
      async () => (mails.some((m) => m.user === 'ops' && m.text.includes(backupId)) ? true : undefined),
      20_000,
    );
    const verification = await waitFor(
      'the verification after the backup',
      async () => {
        const list = await platform.ops.listVerifications('shop');
        return list.find((v) => v.status !== 'pending' && v.status !== 'running');
      },
      90_000,
    );
    assert.equal(verification.status, 'successful', JSON.stringify(verification));

    // A failing backup: the wrong password, through the error paths and backup_failed notifications.
    const failing = await platform.ops.startBackup('shop-wrong');
    await assert.rejects(failing.result());
    await waitFor(
      'backup_failed sent',
      async () => {
        const sent = (await notifiers.deliveries({ database: 'shop-wrong', limit: 100 })).filter(
          (d) => d.event === 'backup_failed' && d.status === 'sent',
        );
        return sent.length === 2 ? sent : undefined;
      },
      60_000,
    );

    // A restore to a URL with a password, through the API.
    const restoreUrl = targetUrl({ ...source, database: 'shop_copy' });
    const restore = await request('POST', '/api/v1/restores', { database: 'shop', backupId, to: { url: restoreUrl } });
    assert.equal(restore.status, 202, JSON.stringify(restore.body));
    const restored = (await platform.client.workflow
      .getHandle((restore.body as { workflowId: string }).workflowId)
      .result()) as { rowsChecked: number };
    assert.equal(restored.rowsChecked, 400);

    // Error paths that hold a secret in their input: a malformed URL, and a restore whose target refuses the password.
    const malformed = await request('POST', '/api/v1/databases', {
      name: 'shop-bad-url',
      url: `postgres://${ROLE}:${secrets['wrong database password']}@127.0.0.1:99999/shop`,
      skipCheck: true,
    });
    assert.equal(malformed.status, 400, JSON.stringify(malformed.body));
    const refusedRestore = await request('POST', '/api/v1/restores', {
      database: 'shop',
      backupId,
      to: { url: targetUrl({ ...source, password: secrets['wrong database password'], database: 'shop_refused' }) },
    });
    assert.equal(refusedRestore.status, 202, JSON.stringify(refusedRestore.body));
    await assert.rejects(
      platform.client.workflow.getHandle((refusedRestore.body as { workflowId: string }).workflowId).result(),
      (error: Error) => {
        const chain: string[] = [];
        for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(e.message);
        return chain.some((m) => /password authentication failed/.test(m)) || assert.fail(chain.join(' ← '));
      },
    );

    // The codec endpoint refuses a wrong token, and the server logs the refusal.
    assert.equal(
      (
        await request(
          'POST',
          '/codec/decode',
          { payloads: [] },
          { authorization: `Bearer ${secrets['wrong smtp password']}` },
        )
      ).status,
      401,
    );
    assert.ok(
      webLog.some((l) => l.includes('codec: refused')),
      'the web server logged the refusal',
    );

    // The rest of the API: a user with a password, storage test, every GET.
    assert.equal(
      (
        await request('POST', '/api/v1/users', {
          email: 'invitee@example.org',
          password: secrets['new user password'],
          role: 'viewer',
          workspace: 'default',
        })
      ).status,
      201,
    );
    assert.equal((await request('POST', '/api/v1/storages/s3/test')).status, 200);
    assert.equal((await request('POST', `/api/v1/backups/${backupId}/cancel`, {})).status, 409);
    for (const url of [
      '/api/v1/me',
      '/api/v1/overview',
      '/api/v1/databases',
      '/api/v1/databases/shop/backups',
      '/api/v1/databases/shop-wrong/backups',
      '/api/v1/storages',
      `/api/v1/backups/${backupId}`,
      `/api/v1/backups/${failing.backupId}`,
      `/api/v1/backups/${backupId}/download`,
      '/api/v1/audit',
      '/api/v1/users',
      '/api/v1/workspaces',
      '/',
      '/storages',
      '/databases/new',
      '/notifiers',
      '/notifiers?edit=slack',
      '/notifiers?edit=mail',
      '/restore?database=shop',
      '/databases/shop',
      '/settings',
      '/metrics',
      '/api/v1/notifiers',
      '/api/v1/tokens',
      '/api/v1/databases/shop/verifications',
      '/api/v1/databases/shop/pitr',
      '/api/v1/openapi.json',
    ]) {
      const answer = await request('GET', url);
      assert.equal(
        answer.status,
        200,
        `${url}: ${String(JSON.stringify(answer.body).match(/Could not[^\\<]*|error[^<]{0,400}/) ?? JSON.stringify(answer.body).slice(0, 300))}`,
      );
    }

    assert.equal((await request('DELETE', '/api/v1/session')).status, 200);
    assert.equal((await request('GET', '/api/v1/me')).status, 401, 'logged out');

    // The CLI, with --json where it has it.
    const cliRuns: Array<[string[], number]> = [
      [['db', 'list', '--json'], 0],
      [['storage', 'list', '--json'], 0],
      [['storage', 'test', 's3', '--json'], 0],
      [['backups', 'shop', '--json'], 0],
      [['backups', 'shop-wrong', '--json'], 0],
      [['verifications', 'shop', '--json'], 0],
      [['notifier', 'list', '--json'], 0],
      [['notifier', 'test', 'mail', '--json'], 0],
      [['notifier', 'test', 'slack-wrong', '--json'], 1],
      [['notifier', 'deliveries', '--json'], 0],
      [['audit', '--json'], 0],
      [['user', 'list', '--json'], 0],
      [
        [
          'restore',
          'shop',
          '--backup',
          backupId,
          '--to',
          targetUrl({ ...source, database: 'shop_cli_copy' }),
          '--wait',
          '--json',
        ],
        0,
      ],
      [['db', 'add', 'shop-cli-wrong', '--url', wrongUrl, '--json'], 1],
      [
        [
          'restore',
          'shop',
          '--to',
          `postgres://${ROLE}:${secrets['wrong database password']}@127.0.0.1:0/x?sslmode=nonsense`,
          '--json',
        ],
        1,
      ],
      [['doctor', '--json'], 0],
    ];
    for (const [args, expected] of cliRuns) {
      const result = await hindsight(args);
      assert.equal(result.code === 0 ? 0 : 1, expected, `hindsight ${args.join(' ')}:\n${cliOutput.at(-1)}`);
    }
  });

  async function collect(): Promise<Sources> {
    const { rows } = await platform.runtime.catalog.pool.query<{ entry: string }>(
      'select a::text as entry from audit_log a order by id',
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
    return {
      'worker log': workerLog,
      'web server log': webLog,
      'CLI output': cliOutput,
      'API responses': apiResponses,
      'audit log': rows.map((r) => r.entry),
      'workflow histories': histories,
    };
  }

  it('the collector sees every source, and finds a secret that was placed in one', async () => {
    const sources = await collect();
    for (const [name, texts] of Object.entries(sources))
      assert.ok(texts.join('').length > 0, `${name} is empty: the collector is blind there`);
    assert.ok(
      sources['workflow histories']!.some((t) => t.includes('binary/encrypted')),
      'payload metadata bytes are read decoded',
    );
    assert.ok(
      sources['worker log']!.some((t) => t.includes('"level"')),
      'the worker log holds pino lines',
    );
    assert.deepEqual(scan(sources, { canary: CANARY }), []);

    // Placed where an operator would look: a worker log line, an audit row, base64 inside a payload-like text.
    const logger = capturedLogger('test-worker', (line) => workerLog.push(line));
    logger.info({ detail: `connecting with ${CANARY}` }, 'a careless line');
    await platform.runtime.catalog.pool.query(
      `insert into audit_log (actor, action, outcome) values ('system', $1, 'ok')`,
      [`leak.${CANARY}`],
    );
    const placed = await collect();
    const findings = scan(
      {
        ...placed,
        'encoded history': [Buffer.from(`{"url":"postgres://u:${CANARY}@h/db"}`).toString('base64')].flatMap((t) =>
          expand(t),
        ),
      },
      { canary: CANARY },
    );
    assert.equal(findings.length, 3, findings.join('\n'));
    assert.ok(findings.some((f) => f.includes('in worker log')));
    assert.ok(findings.some((f) => f.includes('in audit log')));
    assert.ok(findings.some((f) => f.includes('in encoded history')));
    assert.ok(
      scan(
        { x: [`https://h/p?k=${encodeURIComponent(secrets['storage secret key'])}`] },
        { s: secrets['storage secret key'] },
      ).length === 1,
      'the URL-encoded form is found',
    );
    assert.ok(
      scan({ x: [Buffer.from(`ab${secrets['smtp password']}cd`).toString('base64')] }, { s: secrets['smtp password'] })
        .length === 1,
      'base64 at any alignment is found',
    );
    await platform.runtime.catalog.pool.query(`delete from audit_log where action = $1`, [`leak.${CANARY}`]);
    workerLog.splice(
      workerLog.findIndex((l) => l.includes(CANARY)),
      1,
    );
  });

  it('no secret appears anywhere: logs, CLI, API, audit, histories', async () => {
    const sources = await collect();
    const wanted: Record<string, string> = {
      ...secrets,
      'catalog superuser password': platform.cluster.password,
      'payload key': platform.runtime.key.bytes.toString('hex'),
    };
    const findings = scan(sources, wanted);
    assert.deepEqual(findings, [], `secrets leaked:\n${findings.join('\n\n')}`);
    const sizes = Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, v.length]));
    assert.ok(
      Object.values(sizes).every((n) => n > 0),
      JSON.stringify(sizes),
    );
  });
});
