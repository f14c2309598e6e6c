import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { ACTIONS, operatorActor, roleAllows, type Action, type Role } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import {
  emailOf,
  httpRequest,
  loginAt,
  PASSWORD,
  ROLE_LIST,
  seedTenants,
  type Answer,
  type RequestOptions,
} from '../support/access-fixture.ts';
import type { Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');

const S3_SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
const S3_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';

describe('users, workspaces, roles and the audit log', () => {
  let platform: Platform;
  let services: HostServices;
  let server: WebServer;
  let source: PgTarget;
  let shopBackup: string;
  let hrBackup: string;
  let cookies = new Map<string, string>();
  const started: string[] = [];

  const request = (method: string, url: string, options: RequestOptions = {}): Promise<Answer> =>
    httpRequest(server.url, method, url, options);
  const login = (email: string, password = PASSWORD) => loginAt(server.url, email, password);

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(300)));
    services = createConsoleServices(platform.services);
    server = await startWebServer({ services, host: '127.0.0.1', port: await freePort(), log: () => undefined });
    ({ shopBackup, hrBackup, cookies } = await seedTenants(platform, services, source, server.url));
  });

  after(async () => {
    // Let the backups and restores started by the tests end before the servers go.
    await Promise.all(
      started.map((id) =>
        platform.client.workflow
          .getHandle(id)
          .result()
          .catch(() => undefined),
      ),
    );
    await server?.close();
    await platform?.stop();
  });

  /** One mutating endpoint per action, with the status an allowed caller gets. */
  const cases: Array<{ action: Action; call: (role: Role) => [string, string, unknown?]; allowed: number[] }> = [
    {
      action: 'database.create',
      call: (r) => [
        'POST',
        '/api/v1/databases',
        { name: `db-${r}`, url: targetUrl(source), storages: 'local', skipCheck: true, verifyAfterBackup: false },
      ],
      allowed: [201],
    },
    {
      action: 'database.schedule',
      call: () => ['PUT', '/api/v1/databases/shop/schedule', { schedule: '0 4 * * *', timezone: 'Europe/Paris' }],
      allowed: [200],
    },
    { action: 'database.delete', call: (r) => ['DELETE', `/api/v1/databases/tmp-${r}`], allowed: [200] },
    {
      action: 'storage.create',
      call: (r) => [
        'POST',
        '/api/v1/storages',
        {
          name: `s3-${r}`,
          config: {
            type: 's3',
            bucket: 'acme',
            region: 'us-east-1',
            accessKeyId: S3_KEY_ID,
            secretAccessKey: S3_SECRET,
          },
          skipCheck: true,
        },
      ],
      allowed: [201],
    },
    { action: 'storage.test', call: () => ['POST', '/api/v1/storages/local/test'], allowed: [200] },
    { action: 'storage.delete', call: (r) => ['DELETE', `/api/v1/storages/del-${r}`], allowed: [200] },
    { action: 'backup.start', call: () => ['POST', '/api/v1/databases/shop/backups', {}], allowed: [202] },
    // The backup is complete: an allowed caller gets the domain's answer, not a refusal.
    { action: 'backup.cancel', call: () => ['POST', `/api/v1/backups/${shopBackup}/cancel`, {}], allowed: [409] },
    { action: 'backup.download', call: () => ['GET', `/api/v1/backups/${shopBackup}/download`], allowed: [200] },
    {
      action: 'restore.start',
      call: (r) => [
        'POST',
        '/api/v1/restores',
        { database: 'shop', backupId: shopBackup, to: { database: `restored_${r}` } },
      ],
      allowed: [202],
    },
    {
      action: 'user.manage',
      call: (r) => [
        'POST',
        '/api/v1/users',
        { email: `invited-by-${r}@example.org`, password: PASSWORD, role: 'viewer', workspace: 'default' },
      ],
      allowed: [201],
    },
    { action: 'workspace.manage', call: (r) => ['POST', '/api/v1/workspaces', { name: `ws-${r}` }], allowed: [201] },
    {
      action: 'membership.manage',
      call: (r) => [
        'PUT',
        '/api/v1/workspaces/default/members/member@example.org',
        { role: r === 'owner' ? 'editor' : 'viewer' },
      ],
      allowed: [200],
    },
    // Granting the owner role is the owners' business (workspace.manage), even for admins.
    {
      action: 'workspace.manage',
      call: () => ['PUT', '/api/v1/workspaces/default/members/member@example.org', { role: 'owner' }],
      allowed: [200],
    },
    { action: 'audit.read', call: () => ['GET', '/api/v1/audit'], allowed: [200] },
    { action: 'history.read', call: () => ['GET', '/api/v1/databases/shop/backups'], allowed: [200] },
  ];

  it('over HTTP, each role is allowed or refused with 403 exactly as the matrix says', async () => {
    const covered = new Set(cases.map((c) => c.action));
    for (const action of [
      'database.create',
      'database.delete',
      'storage.create',
      'storage.delete',
      'storage.test',
      'backup.start',
      'backup.cancel',
      'backup.download',
      'restore.start',
      'user.manage',
      'workspace.manage',
      'audit.read',
    ] as Action[]) {
      assert.ok(covered.has(action) && ACTIONS.includes(action));
    }
    const outcomes: string[] = [];
    for (const role of ROLE_LIST) {
      for (const c of cases) {
        const [method, url, json] = c.call(role);
        const answer = await request(method, url, { cookie: cookies.get(role), json });
        const allowed = roleAllows(role, c.action);
        outcomes.push(`${role} ${c.action} → ${answer.status}`);
        if (allowed)
          assert.ok(
            c.allowed.includes(answer.status),
            `${role} ${c.action}: expected ${c.allowed.join('/')}, got ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`,
          );
        else {
          assert.equal(
            answer.status,
            403,
            `${role} ${c.action}: expected 403, got ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`,
          );
          assert.match(
            (answer.body as { error: { message: string } }).error.message,
            new RegExp(`needs the \\w+ role in workspace "default"; you are ${role}`),
          );
        }
        const id = (answer.body as { workflowId?: string } | undefined)?.workflowId;
        if (answer.status === 202 && id) started.push(id);
      }
    }
    // A refused change changed nothing; an allowed one did.
    const dbs = new Set((await platform.runtime.catalog.listDatabases()).map((d) => d.name));
    for (const role of ROLE_LIST) {
      assert.equal(dbs.has(`db-${role}`), roleAllows(role, 'database.create'), `db-${role}`);
      assert.equal(dbs.has(`tmp-${role}`), !roleAllows(role, 'database.delete'), `tmp-${role}`);
    }
    assert.equal((await platform.runtime.catalog.getDatabase('shop')).schedule, '0 4 * * *');
    const denied = await platform.runtime.catalog.access.listAudit({ actor: emailOf('viewer') });
    assert.ok(
      denied.some((e) => e.action === 'backup.start' && e.outcome === 'denied'),
      'refusals are audited',
    );
    for (const id of started) {
      const result = (await platform.client.workflow.getHandle(id).result()) as {
        status?: string;
        rowsChecked?: number;
      };
      assert.ok(result.status === 'complete' || result.rowsChecked === 300, `${id}: ${JSON.stringify(result)}`);
    }
  });

  it('a malformed body is a 400 that names the field', async () => {
    const owner = cookies.get('owner');
    const answer = await request('POST', '/api/v1/databases', { cookie: owner, json: { name: 'Bad Name', url: 'x' } });
    assert.equal(answer.status, 400);
    assert.equal((answer.body as { error: { field: string } }).error.field, 'name');
    const extra = await request('POST', '/api/v1/restores', {
      cookie: owner,
      json: { database: 'shop', to: { database: 'x' }, force: true },
    });
    assert.equal(extra.status, 400);
    assert.match((extra.body as { error: { message: string } }).error.message, /force/);
  });

  it('the CLI with HINDSIGHT_AS acts with that user’s roles; without it, as the audited local operator', async () => {
    const cliAs = (who: string | undefined, args: string[]) =>
      run(process.execPath, [cli, ...args], {
        env: { ...process.env, ...platform.configEnv, ...(who ? { HINDSIGHT_AS: who } : {}) },
      }).then(
        () => 0,
        (error: { code: number; stderr: string }) =>
          /needs the|only the instance owner/.test(error.stderr) ? 403 : error.code,
      );
    // instanceOnly: past the role check, only the instance owner (the first owner here) may.
    const cliCases: Array<{ action: Action; args: (r: Role) => string[]; instanceOnly?: boolean }> = [
      { action: 'database.schedule', args: () => ['db', 'schedule', 'shop', '0 5 * * *'] },
      { action: 'storage.test', args: () => ['storage', 'test', 'local'] },
      { action: 'workspace.manage', args: (r) => ['workspace', 'create', `cli-${r}`] },
      { action: 'audit.read', args: () => ['audit', '--json'] },
      {
        action: 'notifier.create',
        args: (r) => [
          'notifier',
          'add',
          `hook-${r}`,
          '--type',
          'webhook',
          '--config',
          '{"url":"http://127.0.0.1:9/hook"}',
        ],
      },
      { action: 'notifier.delete', args: (r) => ['notifier', 'remove', `pre-${r}`] },
      {
        action: 'hook.edit',
        args: () => ['hook', 'set', 'shop', 'post_restore', '--script', 'exit 0'],
        instanceOnly: true,
      },
    ];
    // A notifier per role for the delete case, made by the operator.
    for (const role of ROLE_LIST)
      await cliAs(undefined, [
        'notifier',
        'add',
        `pre-${role}`,
        '--type',
        'webhook',
        '--config',
        '{"url":"http://127.0.0.1:9/pre"}',
      ]);
    for (const role of ROLE_LIST) {
      for (const c of cliCases) {
        const code = await cliAs(emailOf(role), c.args(role));
        const allowed = roleAllows(role, c.action) && (!c.instanceOnly || role === 'owner');
        assert.equal(code, allowed ? 0 : 403, `hindsight ${c.args(role).join(' ')} as ${role}`);
      }
    }
    const { stdout } = await run(process.execPath, [cli, 'db', 'list', '--json'], {
      env: { ...process.env, ...platform.configEnv, HINDSIGHT_AS: 'blue@example.org' },
    });
    assert.deepEqual(
      (JSON.parse(stdout) as Array<{ name: string }>).map((d) => d.name),
      ['secret-hr'],
    );
    await assert.rejects(
      run(process.execPath, [cli, 'backups', 'secret-hr'], {
        env: { ...process.env, ...platform.configEnv, HINDSIGHT_AS: emailOf('owner') },
      }),
      /database "secret-hr" is not registered/,
    );

    await run(process.execPath, [cli, 'db', 'schedule', 'shop', '0 6 * * *'], {
      env: { ...process.env, ...platform.configEnv },
    });
    const entries = await platform.runtime.catalog.access.listAudit({ action: 'database.schedule' });
    const byOperator = entries.find((e) => e.actor.startsWith('cli:') && e.outcome === 'ok');
    assert.ok(byOperator, JSON.stringify(entries.map((e) => e.actor)));
    assert.equal(byOperator.source, 'cli');
    assert.deepEqual(byOperator.after, { schedule: '0 6 * * *', timezone: 'UTC' });
    const byUser = entries.find((e) => e.actor === emailOf('editor') && e.source === 'cli' && e.outcome === 'ok');
    assert.ok(byUser, 'the CLI acting as a user is audited under that user');
  });

  it('the CLI creates accounts with a password file, manages memberships and lists workspaces per user', async () => {
    const env = { ...process.env, ...platform.configEnv };
    const passwordFile = path.join(platform.dir, 'new-user.password');
    await writeFile(passwordFile, 'a long enough password\n', { mode: 0o600 });
    await run(
      process.execPath,
      [
        cli,
        'user',
        'create',
        'cli-made@example.org',
        '--role',
        'viewer',
        '--workspace',
        'blue',
        '--password-file',
        passwordFile,
      ],
      { env },
    );
    assert.equal(
      (await login('cli-made@example.org', 'a long enough password')).status,
      200,
      'the file’s password without its newline',
    );
    await run(process.execPath, [cli, 'member', 'add', 'cli-made@example.org', 'default', 'editor'], { env });
    const { stdout } = await run(process.execPath, [cli, 'workspace', 'list', '--json'], {
      env: { ...env, HINDSIGHT_AS: 'cli-made@example.org' },
    });
    assert.deepEqual(
      (JSON.parse(stdout) as Array<{ name: string; role: string }>).map((w) => `${w.name}:${w.role}`),
      ['default:editor', 'blue:viewer'],
    );
    const users = JSON.parse(
      (
        await run(process.execPath, [cli, 'user', 'list', '--json'], {
          env: { ...env, HINDSIGHT_AS: 'blue@example.org' },
        })
      ).stdout,
    ) as Array<{ email: string }>;
    assert.deepEqual(
      users.map((u) => u.email).sort(),
      ['blue@example.org', 'cli-made@example.org'],
      'an owner of blue sees the accounts of blue only',
    );
    await run(process.execPath, [cli, 'member', 'remove', 'cli-made@example.org', 'default'], { env });
    await run(
      process.execPath,
      [
        cli,
        'db',
        'add',
        'blue-cli',
        '--url',
        targetUrl(source),
        '--storage',
        'bluestore',
        '--workspace',
        'blue',
        '--no-check',
      ],
      { env },
    );
    assert.equal(
      (await platform.runtime.catalog.getDatabase('blue-cli')).workspaceId,
      (await platform.runtime.catalog.access.findWorkspace('blue'))!.id,
    );
    await assert.rejects(
      run(
        process.execPath,
        [cli, 'db', 'add', 'mixed', '--url', targetUrl(source), '--storage', 'bluestore', '--no-check'],
        { env },
      ),
      /belongs to another workspace/,
    );
    await assert.rejects(
      run(process.execPath, [cli, 'member', 'remove', 'blue@example.org', 'blue'], { env }),
      /would have no owner left/,
    );
    await assert.rejects(
      run(process.execPath, [cli, 'db', 'list'], { env: { ...env, HINDSIGHT_AS: 'nobody@example.org' } }),
      /user "nobody@example.org" does not exist/,
    );
  });

  it('a user of workspace A can neither list nor read nor change anything of workspace B: 404, as for a name that does not exist', async () => {
    const owner = cookies.get('owner');
    const names = async (url: string, cookie = owner) =>
      ((await request('GET', url, { cookie })).body as Array<{ name: string }>).map((x) => x.name);
    assert.ok(!(await names('/api/v1/databases')).includes('secret-hr'));
    assert.ok(!(await names('/api/v1/storages')).includes('bluestore'));
    assert.deepEqual(
      await names('/api/v1/databases', cookies.get('blue')),
      ['blue-cli', 'secret-hr'],
      'workspace blue: its two databases and nothing of default',
    );
    assert.deepEqual(await names('/api/v1/storages', cookies.get('blue')), ['bluestore']);
    const page = await request('GET', '/', { cookie: owner });
    assert.equal(page.status, 200);
    assert.ok(!String(page.body).includes('secret-hr') && !String(page.body).includes(hrBackup));
    const overview = await request('GET', '/api/v1/overview', { cookie: owner });
    assert.ok(!JSON.stringify(overview.body).includes('secret-hr'));
    assert.ok((overview.body as { backups: Array<{ id: string }> }).backups.some((b) => b.id === shopBackup));
    const blueOverview = await request('GET', '/api/v1/overview', { cookie: cookies.get('blue') });
    assert.deepEqual(
      [
        ...new Set(
          (blueOverview.body as { backups: Array<{ databaseName: string }> }).backups.map((b) => b.databaseName),
        ),
      ],
      ['secret-hr'],
    );

    const probes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/databases/secret-hr/backups'],
      ['POST', '/api/v1/databases/secret-hr/backups', {}],
      ['PUT', '/api/v1/databases/secret-hr/schedule', { schedule: '0 1 * * *' }],
      ['DELETE', '/api/v1/databases/secret-hr'],
      ['GET', `/api/v1/backups/${hrBackup}`],
      ['GET', `/api/v1/backups/${hrBackup}/download`],
      ['POST', `/api/v1/backups/${hrBackup}/cancel`, {}],
      ['POST', '/api/v1/restores', { database: 'secret-hr', to: { database: 'stolen' } }],
      ['POST', '/api/v1/restores', { database: 'shop', backupId: hrBackup, to: { database: 'stolen2' } }],
      ['DELETE', '/api/v1/storages/bluestore'],
      ['POST', '/api/v1/storages/bluestore/test'],
      ['POST', '/api/v1/databases', { name: 'sneaky', url: targetUrl(source), storages: 'bluestore', skipCheck: true }],
      ['GET', '/api/v1/audit?workspace=blue'],
      ['PUT', '/api/v1/workspaces/blue/members/owner@example.org', { role: 'owner' }],
    ];
    for (const [method, url, json] of probes) {
      const answer = await request(method, url, { cookie: owner, json });
      assert.equal(answer.status, 404, `${method} ${url}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    const missing = await request('GET', '/api/v1/databases/no-such-db/backups', { cookie: owner });
    const hidden = await request('GET', '/api/v1/databases/secret-hr/backups', { cookie: owner });
    assert.equal(
      (hidden.body as { error: { message: string } }).error.message,
      (missing.body as { error: { message: string } }).error.message.replace('no-such-db', 'secret-hr'),
    );

    // Names are unique across workspaces: taking one is refused without touching the other workspace's storage.
    const taken = await request('POST', '/api/v1/storages', {
      cookie: owner,
      json: { name: 'bluestore', config: { type: 'local', path: '/tmp' }, skipCheck: true },
    });
    assert.equal(taken.status, 409);
    assert.equal(
      (await platform.runtime.catalog.getStorage('bluestore')).settings.path,
      path.join(platform.dir, 'blue'),
    );
    assert.equal(
      (await platform.runtime.catalog.getStorage('bluestore')).workspaceId,
      (await platform.runtime.catalog.access.findWorkspace('blue'))!.id,
    );
    assert.ok(await platform.runtime.catalog.findDatabase('secret-hr'), 'workspace B is untouched');
    assert.equal(
      (await platform.runtime.catalog.listBackups('secret-hr')).length,
      1,
      'no backup was started in workspace B',
    );
  });

  it('console pages need a session, and role checks apply to them too', async () => {
    const anonymous = await request('GET', '/audit');
    assert.equal(anonymous.status, 303);
    assert.match(anonymous.headers.get('location') ?? '', /^\/login/);
    assert.equal((await request('GET', '/api/v1/databases')).status, 401);
    assert.equal((await request('GET', '/audit', { cookie: cookies.get('viewer') })).status, 403);
    const auditPage = await request('GET', '/audit?action=database', { cookie: cookies.get('admin') });
    assert.equal(auditPage.status, 200);
    assert.match(String(auditPage.body), /database\.create/);
    const usersPage = await request('GET', '/users', { cookie: cookies.get('owner') });
    assert.match(String(usersPage.body), /viewer@example\.org/);
    assert.ok(!String(usersPage.body).includes('blue@example.org'), 'accounts of other workspaces stay hidden');

    // A form post from another site is refused even with a valid session cookie.
    const form = new URLSearchParams({ database: 'shop' }).toString();
    const csrf = await fetch(`${server.url}/?/backup`, {
      method: 'POST',
      body: form,
      headers: {
        cookie: cookies.get('owner')!,
        origin: 'https://evil.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
    });
    assert.equal(csrf.status, 403);
    const noOrigin = await fetch(`${server.url}/?/backup`, {
      method: 'POST',
      body: form,
      headers: { cookie: cookies.get('owner')!, 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(noOrigin.status, 403);

    // Hook scripts run on the shared worker: the console's editor saves only for the instance owner
    // (the first owner); a workspace admin is refused with the reason.
    for (const role of ROLE_LIST) {
      const hookForm = new URLSearchParams({
        kind: 'post_backup',
        scope: 'database',
        script: `echo saved by ${role}`,
        timeoutSeconds: '30',
      }).toString();
      const saved = await fetch(`${server.url}/hooks/shop?/save`, {
        method: 'POST',
        body: hookForm,
        redirect: 'manual',
        headers: {
          cookie: cookies.get(role)!,
          origin: server.url,
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
        },
      });
      const answer = (await saved.json()) as { type: string; status?: number; data?: string };
      if (role === 'owner') assert.equal(answer.type, 'success', `hook save as ${role}: ${JSON.stringify(answer)}`);
      else
        assert.deepEqual(
          [answer.type, answer.status],
          ['failure', 403],
          `hook save as ${role}: ${JSON.stringify(answer)}`,
        );
      if (role === 'admin')
        assert.match(
          String(answer.data),
          /hook scripts run programs on the shared worker: only the instance owner may set them/,
        );
    }
    const hooks = await platform.runtime.catalog.pool.query<{ script: string }>(
      `select h.script from hooks h join databases d on d.id = h.database_id where d.name = 'shop' and h.kind = 'post_backup'`,
    );
    assert.deepEqual(
      hooks.rows.map((r) => r.script),
      ['echo saved by owner'],
    );
  });

  it('sessions are HttpOnly and SameSite=Lax, stored only as a hash, and refused after logout', async () => {
    const session = await login(emailOf('editor'));
    const setCookie = session.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^hindsight_session=[A-Za-z0-9_-]{43};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain http: no Secure flag');
    const token = session.cookie.split('=')[1]!;
    const { rows } = await platform.runtime.catalog.pool.query<{ token_sha256: string }>(
      'select token_sha256 from sessions',
    );
    assert.ok(rows.some((r) => r.token_sha256 === createHash('sha256').update(token).digest('hex')));
    assert.ok(!rows.some((r) => r.token_sha256.includes(token)));

    // The console's own login form sets the same kind of cookie.
    const formLogin = await fetch(`${server.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ email: emailOf('viewer'), password: PASSWORD }),
      headers: { origin: server.url, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(formLogin.status, 303);
    assert.equal(formLogin.headers.get('location'), '/');
    assert.match(
      formLogin.headers.get('set-cookie') ?? '',
      /hindsight_session=.+HttpOnly.*SameSite=Lax|hindsight_session=.+SameSite=Lax.*HttpOnly/i,
    );

    assert.equal((await request('GET', '/api/v1/me', { cookie: session.cookie })).status, 200);
    assert.equal((await request('DELETE', '/api/v1/session', { cookie: session.cookie })).status, 200);
    assert.equal(
      (await request('GET', '/api/v1/me', { cookie: session.cookie })).status,
      401,
      'a logged-out session is refused',
    );
    assert.equal((await request('GET', '/', { cookie: session.cookie })).status, 303);

    // Disabling an account ends its sessions at once.
    const viewer = await login(emailOf('viewer'));
    await services.access.setUserDisabled(operatorActor('test'), emailOf('viewer'), true);
    assert.equal((await request('GET', '/api/v1/me', { cookie: viewer.cookie })).status, 401);
    assert.equal((await login(emailOf('viewer'))).status, 401, 'a disabled account cannot log in');
  });

  it('every mutation is audited with before/after, and no secret appears in the audit log', async () => {
    const entries = await platform.runtime.catalog.access.listAudit({ limit: 5000 });
    const find = (action: string, target: string, outcome = 'ok') =>
      entries.find((e) => e.action === action && e.targetName === target && e.outcome === outcome);
    const created = find('database.create', 'db-editor');
    assert.ok(created);
    assert.equal(created.actor, emailOf('editor'));
    assert.equal(created.source, '127.0.0.1');
    assert.equal((created.after as { host: string }).host, source.host);
    assert.equal(created.before, null);
    const schedule = entries.find(
      (e) => e.action === 'database.schedule' && e.actor === emailOf('editor') && e.source === '127.0.0.1',
    );
    assert.deepEqual(schedule?.before, { schedule: null, timezone: 'UTC' });
    assert.deepEqual(schedule?.after, { schedule: '0 4 * * *', timezone: 'Europe/Paris' });
    const storage = find('storage.create', 's3-admin');
    assert.equal((storage?.after as Record<string, unknown>).secretAccessKey, '[secret]');
    assert.equal((storage?.after as Record<string, unknown>).bucket, 'acme');
    assert.ok(find('storage.delete', 'del-admin')?.before, 'a deletion records what was deleted');
    for (const role of ['viewer', 'editor', 'admin', 'owner'] as Role[]) {
      assert.ok(
        entries.some((e) => e.action === 'backup.download' && e.actor === emailOf(role) && e.outcome === 'ok'),
        `download by ${role}`,
      );
    }
    assert.ok(entries.some((e) => e.action === 'restore.start' && e.actor === emailOf('editor') && e.outcome === 'ok'));
    assert.ok(
      entries.some((e) => e.action === 'backup.cancel' && e.outcome === 'failed'),
      'an allowed action that fails is audited as failed',
    );
    assert.ok(entries.some((e) => e.action === 'user.create' && e.targetName === 'invited-by-admin@example.org'));
    assert.ok(entries.some((e) => e.action === 'auth.login' && e.outcome === 'ok'));

    const { rows } = await platform.runtime.catalog.pool.query<{ all: string }>(
      "select coalesce(string_agg(a::text, E'\\n'), '') as all from audit_log a",
    );
    const text = rows[0]!.all;
    for (const secret of [
      S3_SECRET,
      PASSWORD,
      platform.cluster.password,
      encodeURIComponent(platform.cluster.password),
    ]) {
      assert.ok(!text.includes(secret), `a secret reached the audit log: ${secret.slice(0, 4)}…`);
    }
    for (const url of ['/api/v1/databases', '/api/v1/storages', '/api/v1/overview', '/api/v1/users', '/']) {
      const answer = await request('GET', url, { cookie: cookies.get('owner') });
      assert.equal(answer.status, 200, url);
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      for (const secret of [S3_SECRET, platform.cluster.password, 'scrypt$'])
        assert.ok(!body.includes(secret), `${url} returns a secret`);
    }
    const logged = await request('GET', '/api/v1/audit?action=storage', { cookie: cookies.get('owner') });
    assert.ok(!JSON.stringify(logged.body).includes(S3_SECRET));
    assert.ok((logged.body as Array<{ action: string }>).every((e) => e.action.startsWith('storage.')));
  });

  it('audit retention purges entries older than the configured period', async () => {
    await platform.runtime.catalog.pool.query(
      `insert into audit_log (actor, action, outcome, at) values ('system', 'old.entry', 'ok', now() - interval '400 days')`,
    );
    const removed = await services.access.purgeAudit(365);
    assert.equal(removed, 1);
    assert.equal((await platform.runtime.catalog.access.listAudit({ action: 'old.entry' })).length, 0);
  });

  it('login is rate limited per account, and the lockout survives a restart of the console', async () => {
    const email = emailOf('admin');
    for (let i = 1; i <= 5; i++) {
      const t0 = Date.now();
      const wrong = await login(email, `wrong password ${i}`);
      assert.equal(wrong.status, 401, JSON.stringify(wrong.body));
      if (i >= 3) assert.ok(Date.now() - t0 >= 100 * 2 ** (i - 1), `failure ${i} is answered after a growing delay`);
    }
    const locked = await login(email);
    assert.equal(locked.status, 429, 'the right password is refused while locked');
    assert.match((locked.body as { error: { message: string } }).error.message, /too many failed logins/);

    // A new console process reads the lockout from the catalog.
    const restarted = createConsoleServices(platform.services);
    await assert.rejects(
      restarted.access.login({ email, password: PASSWORD, ip: '10.9.9.9', userAgent: null }),
      (e: Error & { kind?: string }) => e.kind === 'rate_limited',
    );
    const other = await login(emailOf('owner'));
    assert.equal(other.status, 200, 'another account from the same address still logs in');
  });

  it('login is rate limited per client address', async () => {
    for (let i = 0; i < 20; i++) await login(`nobody${i}@example.org`, 'whatever password');
    const blocked = await login(emailOf('owner'));
    assert.equal(blocked.status, 429, 'a client that failed 20 times is locked out for every account');
    const elsewhere = await services.access.login({
      email: emailOf('owner'),
      password: PASSWORD,
      ip: '10.1.2.3',
      userAgent: null,
    });
    assert.ok(elsewhere.token, 'the lockout is per address');
  });
});
