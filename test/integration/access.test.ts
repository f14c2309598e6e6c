import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { ACTIONS, operatorActor, roleAllows } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import {
  assertMatrixAnswer,
  CLI_ACTION_CASES,
  crossWorkspaceProbes,
  httpActionCases,
  MATRIX_ACTIONS,
  S3_SECRET,
  savePreNotifiers,
} from '../support/access-cases.ts';
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
import { assertListingsStayInWorkspace } from '../support/access-isolation.ts';
import { assertMutationsAudited } from '../support/access-audit.ts';
import { inviteFromCli } from '../support/access-cli-accounts.ts';
import { postAction, postForm } from '../support/console-forms.ts';
import { hindsightCli, type HindsightCli } from '../support/hindsight-cli.ts';
import { workflowsEnded, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';

describe('users, workspaces, roles and the audit log', () => {
  let platform: Platform;
  let services: HostServices;
  let server: WebServer;
  let source: PgTarget;
  let shopBackup: string;
  let hrBackup: string;
  let cookies = new Map<string, string>();
  let hindsight: HindsightCli;
  const started: string[] = [];

  const request = (method: string, url: string, options: RequestOptions = {}): Promise<Answer> =>
    httpRequest(server.url, method, url, options);
  const login = (email: string, password = PASSWORD) => loginAt(server.url, email, password);

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(300)));
    hindsight = hindsightCli(platform.configEnv);
    services = createConsoleServices(platform.services);
    server = await startWebServer({ services, host: '127.0.0.1', port: await freePort(), log: () => undefined });
    ({ shopBackup, hrBackup, cookies } = await seedTenants(platform, services, source, server.url));
  });

  after(async () => {
    // Let the backups and restores started by the tests end before the servers go.
    await workflowsEnded(platform, started);
    await server?.close();
    await platform?.stop();
  });

  it('over HTTP, each role is allowed or refused with 403 exactly as the matrix says', async () => {
    const cases = httpActionCases(source, shopBackup);
    const covered = new Set(cases.map((c) => c.action));
    for (const action of MATRIX_ACTIONS) assert.ok(covered.has(action) && ACTIONS.includes(action));
    const outcomes: string[] = [];
    for (const role of ROLE_LIST) {
      for (const c of cases) {
        const [method, url, json] = c.call(role);
        const answer = await request(method, url, { cookie: cookies.get(role), json });
        const allowed = roleAllows(role, c.action);
        outcomes.push(`${role} ${c.action} → ${answer.status}`);
        assertMatrixAnswer(role, c, allowed, answer);
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
      hindsight(args, who).then(
        () => 0,
        (error: { code: number; stderr: string }) =>
          /needs the|only the instance owner/.test(error.stderr) ? 403 : error.code,
      );
    type Case = (typeof CLI_ACTION_CASES)[number];
    const check = async (role: (typeof ROLE_LIST)[number], c: Case) => {
      const code = await cliAs(emailOf(role), c.args(role));
      const allowed = roleAllows(role, c.action) && (!c.instanceOnly || role === 'owner');
      assert.equal(code, allowed ? 0 : 403, `hindsight ${c.args(role).join(' ')} as ${role}`);
    };
    // A notifier per role for the delete case, made by the operator (only the cases are the CLI's to run). Each command
    // is a process that spends most of a second loading, and the roles' cases touch different names, so the roles run
    // side by side; all but the schedule of `shop`, which every allowed role changes and is changed one role at a time.
    await savePreNotifiers(platform.services);
    const sameThing = (c: Case) => c.action === 'database.schedule';
    for (const role of ROLE_LIST) for (const c of CLI_ACTION_CASES.filter(sameThing)) await check(role, c);
    await Promise.all(
      ROLE_LIST.map(async (role) => {
        for (const c of CLI_ACTION_CASES.filter((c) => !sameThing(c))) await check(role, c);
      }),
    );
    const { stdout } = await hindsight(['db', 'list', '--json'], 'blue@example.org');
    assert.deepEqual(
      (JSON.parse(stdout) as Array<{ name: string }>).map((d) => d.name),
      ['secret-hr'],
    );
    await assert.rejects(
      hindsight(['backups', 'secret-hr'], emailOf('owner')),
      /database "secret-hr" is not registered/,
    );

    await hindsight(['db', 'schedule', 'shop', '0 6 * * *']);
    const entries = await platform.runtime.catalog.access.listAudit({ action: 'database.schedule' });
    const byOperator = entries.find((e) => e.actor.startsWith('cli:') && e.outcome === 'ok');
    assert.ok(byOperator, JSON.stringify(entries.map((e) => e.actor)));
    assert.equal(byOperator.source, 'cli');
    assert.deepEqual(byOperator.after, { schedule: '0 6 * * *', timezone: 'UTC' });
    const byUser = entries.find((e) => e.actor === emailOf('editor') && e.source === 'cli' && e.outcome === 'ok');
    assert.ok(byUser, 'the CLI acting as a user is audited under that user');
  });

  it('the CLI invites instead of choosing passwords, manages memberships and lists workspaces per user', async () => {
    const made = 'cli-made@example.org';
    const password = await inviteFromCli(hindsight, services.access, platform.dir, made);
    assert.equal((await login(made, password)).status, 200, 'the password the person chose');
    await hindsight(['member', 'add', made, 'default', 'editor']);
    const [workspaces, usersOfBlue] = await Promise.all([
      hindsight(['workspace', 'list', '--json'], made),
      hindsight(['user', 'list', '--json'], 'blue@example.org'),
    ]);
    assert.deepEqual(
      (JSON.parse(workspaces.stdout) as Array<{ name: string; role: string }>).map((w) => `${w.name}:${w.role}`),
      ['default:editor', 'blue:viewer'],
    );
    const users = JSON.parse(usersOfBlue.stdout) as Array<{ email: string }>;
    assert.deepEqual(
      users.map((u) => u.email).sort(),
      ['blue@example.org', made],
      'an owner of blue sees the accounts of blue only',
    );
    await hindsight(['member', 'remove', made, 'default']);
    const url = targetUrl(source);
    const inBlue = ['--storage', 'bluestore', '--workspace', 'blue', '--no-check'];
    await hindsight(['db', 'add', 'blue-cli', '--url', url, ...inBlue]);
    assert.equal(
      (await platform.runtime.catalog.getDatabase('blue-cli')).workspaceId,
      (await platform.runtime.catalog.access.findWorkspace('blue'))!.id,
    );
    // Three refusals that change nothing: their processes run side by side.
    await Promise.all([
      assert.rejects(
        hindsight(['db', 'add', 'mixed', '--url', url, '--storage', 'bluestore', '--no-check']),
        /belongs to another workspace/,
      ),
      assert.rejects(hindsight(['member', 'remove', 'blue@example.org', 'blue']), /would have no owner left/),
      assert.rejects(hindsight(['db', 'list'], 'nobody@example.org'), /user "nobody@example.org" does not exist/),
    ]);
  });

  it('a user of workspace A can neither list nor read nor change anything of workspace B: 404, as for a name that does not exist', async () => {
    const owner = cookies.get('owner');
    await assertListingsStayInWorkspace(request, cookies, { shopBackup, hrBackup });

    for (const [method, url, json] of crossWorkspaceProbes(source, hrBackup)) {
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

    // The pages open without a session do nothing without their token; a password change needs a session.
    assert.equal((await request('GET', '/setup')).headers.get('location'), '/login', 'no setup once accounts exist');
    assert.match(String((await request('GET', '/reset-password?token=guess')).body), /wrong, used or expired/);
    const change = { current: PASSWORD, next: 'a new passphrase', confirm: 'a new passphrase' };
    const anonymous2 = await postForm(server.url, '/settings?/changePassword', change, { origin: server.url });
    assert.equal(anonymous2.status, 401, 'changing a password needs a session');

    // A form post from another site is refused even with a valid session cookie.
    const form = { database: 'shop' };
    const csrf = await postForm(server.url, '/?/backup', form, {
      cookie: cookies.get('owner')!,
      origin: 'https://evil.example',
    });
    assert.equal(csrf.status, 403);
    const noOrigin = await postForm(server.url, '/?/backup', form, { cookie: cookies.get('owner')! });
    assert.equal(noOrigin.status, 403);

    // Hook scripts run on the shared worker: the console's editor saves only for the instance owner
    // (the first owner); a workspace admin is refused with the reason.
    for (const role of ROLE_LIST) {
      const answer = await postAction(server.url, '/hooks/shop?/save', cookies.get(role)!, {
        kind: 'post_backup',
        scope: 'database',
        script: `echo saved by ${role}`,
        timeoutSeconds: '30',
      });
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
    const credentials = { email: emailOf('viewer'), password: PASSWORD };
    const formLogin = await postForm(server.url, '/login', credentials, { origin: server.url, accept: 'text/html' });
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
    assertMutationsAudited(entries, source.host);

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

  it('login is rate limited per account and address, and the lockout survives a restart of the console', async () => {
    const email = emailOf('admin');
    for (let i = 1; i <= 5; i++) {
      const t0 = Date.now();
      const wrong = await login(email, `wrong password ${i}`);
      assert.equal(wrong.status, 401, JSON.stringify(wrong.body));
      if (i >= 3) assert.ok(Date.now() - t0 >= 100 * 2 ** (i - 1), `failure ${i} is answered after a growing delay`);
    }
    const locked = await login(email);
    assert.equal(locked.status, 429, 'the right password is refused while locked');
    assert.match((locked.body as { error: { message: string } }).error.message, /too many sign-in attempts/);

    // A new console process reads the lockout from the catalog.
    const restarted = createConsoleServices(platform.services);
    await assert.rejects(
      restarted.access.login({ email, password: PASSWORD, ip: '127.0.0.1', userAgent: null }),
      (e: Error & { kind?: string }) => e.kind === 'rate_limited',
    );
    const elsewhere = await restarted.access.login({ email, password: PASSWORD, ip: '10.9.9.9', userAgent: null });
    assert.ok(
      'token' in elsewhere && elsewhere.token,
      'failures from one address do not lock the account out from another',
    );
    const other = await login(emailOf('owner'));
    assert.equal(other.status, 200, 'another account from the same address still logs in');
  });
});
