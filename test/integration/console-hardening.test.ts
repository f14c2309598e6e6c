/**
 * The console's defences around signing in, against a real catalog and the built console over
 * HTTP: the one-time setup token and the host /setup answers on, sign-in throttling under real
 * concurrency, client addresses behind a trusted proxy, the security headers, where `next=` may
 * lead, and the absolute lifetime of a session.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { passwordChecks } from '../../lib/access/password.ts';
import { defaultLoginPolicy } from '../../services/access.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { httpRequest, loginAt } from '../support/access-fixture.ts';
import { postForm } from '../support/console-forms.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { rawRequest } from '../support/raw-http.ts';

const OWNER = { email: 'first@example.org', displayName: 'First', password: 'a long enough passphrase' };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const kindOf = (r: PromiseSettledResult<unknown>) =>
  r.status === 'fulfilled' ? 'ok' : ((r.reason as { kind?: string }).kind ?? String(r.reason));

describe('a hardened console', () => {
  let platform: Platform;
  let services: HostServices;
  let server: WebServer;
  let proxied: WebServer;

  before(async () => {
    platform = await startPlatform();
    // Short delays after failures: the throttling rule, not the wait, is under test.
    services = createConsoleServices(platform.services, {
      loginPolicy: { ...defaultLoginPolicy, baseDelayMs: 10, maxDelayMs: 40 },
    });
    const start = async (trustProxy: number | false) =>
      startWebServer({ services, host: '127.0.0.1', port: await freePort(), trustProxy, log: () => undefined });
    server = await start(false);
    proxied = await start(1);
  });

  after(async () => {
    await proxied?.close();
    await server?.close();
    await platform?.stop();
  });

  const audit = async (action: string, source: string) =>
    (await platform.runtime.catalog.access.listAudit({ action, limit: 5000 })).filter((e) => e.source === source);
  const setupForm = (setupToken: string) => ({ ...OWNER, confirm: OWNER.password, setupToken });
  const countUsers = () => platform.runtime.catalog.access.countUsers();

  it('creates the first owner only with a live, unused setup token, and only on its own host', async () => {
    const token = (await services.auth.issueSetupToken())!;
    const { rows } = await platform.runtime.catalog.pool.query<{ token_sha256: string }>(
      'select token_sha256 from setup_tokens',
    );
    assert.deepEqual(
      rows.map((r) => r.token_sha256),
      [sha256(token)],
      'only the hash is stored',
    );

    // A page that rebinds its name to this machine reaches the console with that name in Host.
    const rebound = { host: 'evil.example', origin: 'http://evil.example', accept: 'text/html' };
    const page = await rawRequest(server.url, 'GET', '/setup', { headers: rebound });
    assert.equal(page.status, 403);
    assert.match(page.body, /only on this machine.s loopback address.*not at evil\.example/);
    const post = await rawRequest(server.url, 'POST', '/setup', { headers: rebound, form: setupForm(token) });
    assert.equal(post.status, 403);
    assert.equal(await countUsers(), 0);

    const wrong = await postForm(server.url, '/setup', setupForm('not-the-token'), {
      origin: server.url,
      accept: 'text/html',
    });
    assert.equal(wrong.status, 403);
    assert.match(await wrong.text(), /the setup token is wrong, used or expired/);
    const expired = (await services.auth.issueSetupToken())!;
    await platform.runtime.catalog.pool.query(
      `update setup_tokens set expires_at = now() - interval '1 second' where token_sha256 = $1`,
      [sha256(expired)],
    );
    assert.equal(
      (await postForm(server.url, '/setup', setupForm(expired), { origin: server.url, accept: 'text/html' })).status,
      403,
    );
    assert.equal(await countUsers(), 0, 'no refused request created an account');

    const made = await postForm(server.url, '/setup', setupForm(token), { origin: server.url, accept: 'text/html' });
    assert.equal(made.status, 303);
    assert.equal(made.headers.get('location'), '/');
    assert.equal(await countUsers(), 1);
    const again = await postForm(server.url, '/setup', setupForm(token), { origin: server.url, accept: 'text/html' });
    // Refused by the action; the page then sends everyone to /login, as an account exists.
    assert.equal(again.headers.get('location'), '/login');
    const second = { ...OWNER, email: 'second@example.org', setupToken: token };
    await assert.rejects(services.auth.createFirstOwner(second, '127.0.0.1'), /setup token is wrong, used or expired/);
    assert.equal(await countUsers(), 1, 'a token is used once');
    const left = await platform.runtime.catalog.pool.query('select 1 from setup_tokens');
    assert.equal(left.rowCount, 0, 'creating the owner removes every other token');
    assert.equal(await services.auth.issueSetupToken(), undefined, 'no token once an account exists');
    const denied = (await audit('auth.setup', '127.0.0.1')).filter((e) => e.outcome === 'denied');
    assert.equal(denied.length, 4, 'each refused token is audited');
  });

  it('lets no more than the limit of twenty concurrent wrong passwords reach the password check', async () => {
    const ip = '198.51.100.7';
    const checksBefore = passwordChecks();
    const attempts = Array.from({ length: 20 }, (_, i) =>
      services.access.login({ email: OWNER.email, password: `wrong ${i}`, ip, userAgent: null }),
    );
    const kinds = (await Promise.allSettled(attempts)).map(kindOf);
    assert.equal(passwordChecks() - checksBefore, defaultLoginPolicy.accountLimit, 'passwords checked');
    assert.equal(kinds.filter((k) => k === 'access_denied').length, defaultLoginPolicy.accountLimit);
    assert.equal(kinds.filter((k) => k === 'rate_limited').length, 20 - defaultLoginPolicy.accountLimit);
    // Each attempt that reached the check wrote 'failed' after it; a refused one wrote 'denied' before any check.
    const entries = await audit('auth.login', ip);
    assert.equal(entries.filter((e) => e.outcome === 'failed').length, defaultLoginPolicy.accountLimit);
    assert.equal(entries.filter((e) => e.outcome === 'denied').length, 20 - defaultLoginPolicy.accountLimit);

    const right = { email: OWNER.email, password: OWNER.password, userAgent: null };
    await assert.rejects(services.access.login({ ...right, ip }), /too many sign-in attempts from this address/);
    const elsewhere = await services.access.login({ ...right, ip: '198.51.100.8' });
    assert.ok(
      'token' in elsewhere && elsewhere.token,
      'failures from one address do not lock the account out elsewhere',
    );
  });

  it('refuses an address that tries many accounts at once, past its own limit, and no other', async () => {
    const ip = '198.51.100.30';
    const checksBefore = passwordChecks();
    const attempts = Array.from({ length: 30 }, (_, i) =>
      services.access.login({ email: `nobody${i}@example.org`, password: 'whatever it is', ip, userAgent: null }),
    );
    const kinds = (await Promise.allSettled(attempts)).map(kindOf);
    assert.equal(passwordChecks() - checksBefore, defaultLoginPolicy.ipLimit, 'passwords checked');
    assert.equal(kinds.filter((k) => k === 'access_denied').length, defaultLoginPolicy.ipLimit);
    assert.equal(kinds.filter((k) => k === 'rate_limited').length, 30 - defaultLoginPolicy.ipLimit);
    const right = { email: OWNER.email, password: OWNER.password, userAgent: null };
    await assert.rejects(services.access.login({ ...right, ip }), (e: Error & { kind?: string }) => {
      return e.kind === 'rate_limited';
    });
    assert.ok('token' in (await services.access.login({ ...right, ip: '198.51.100.31' })));
  });

  it('behind a trusted proxy, throttles and audits the client address it forwards, and only then', async () => {
    const forwarded = (ip: string) => ({ 'x-forwarded-for': ip });
    const wrong = { email: OWNER.email, password: 'not the passphrase' };
    const api = await rawRequest(proxied.url, 'POST', '/api/v1/session', {
      headers: forwarded('203.0.113.9'),
      json: wrong,
    });
    assert.equal(api.status, 401);
    assert.equal((await audit('auth.login', '203.0.113.9')).length, 1, 'the API sees the forwarded address');
    const form = await rawRequest(proxied.url, 'POST', '/login', {
      headers: { ...forwarded('203.0.113.10'), origin: proxied.url, accept: 'text/html' },
      form: wrong,
    });
    assert.equal(form.status, 401);
    assert.equal((await audit('auth.login', '203.0.113.10')).length, 1, 'the pages see it too');

    // Without a trusted proxy the header is the client's own claim, and ignored.
    const before = (await audit('auth.login', '127.0.0.1')).length;
    const direct = await rawRequest(server.url, 'POST', '/api/v1/session', {
      headers: forwarded('203.0.113.11'),
      json: wrong,
    });
    assert.equal(direct.status, 401);
    assert.equal((await audit('auth.login', '203.0.113.11')).length, 0);
    assert.equal((await audit('auth.login', '127.0.0.1')).length, before + 1);
  });

  it('sends the security headers with every response; pages run only the inline scripts SvelteKit hashed', async () => {
    const page = await fetch(`${server.url}/login`);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy') ?? '';
    const directive = (name: string) =>
      (
        csp
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .find((d) => d[0] === name) ?? []
      ).slice(1);
    const scriptSrc = directive('script-src');
    assert.ok(scriptSrc.includes("'self'") && !scriptSrc.includes("'unsafe-inline'"), csp);
    const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    assert.ok(inline.length > 0, 'the page has SvelteKit’s inline bootstrap');
    for (const script of inline) {
      const hash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
      assert.ok(scriptSrc.includes(hash), `an inline script without its hash in script-src: ${script.slice(0, 60)}`);
    }
    assert.deepEqual(directive('frame-ancestors'), ["'none'"]);
    for (const url of ['/login', '/api/v1/openapi.json', '/healthz', '/api/v1/me']) {
      const answer = await fetch(`${server.url}${url}`, { redirect: 'manual' });
      assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', url);
      assert.equal(answer.headers.get('referrer-policy'), 'same-origin', url);
      assert.equal(answer.headers.get('x-frame-options'), 'DENY', url);
      assert.equal(answer.headers.get('strict-transport-security'), null, `${url}: no HSTS over plain http`);
      if (url !== '/login')
        assert.equal(answer.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", url);
    }
    // A revalidated page keeps the policy it was cached with: a 304 carries none to replace it.
    const etag = page.headers.get('etag');
    assert.ok(etag, 'pages are revalidated by etag');
    const notModified = await fetch(`${server.url}/login`, { headers: { 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get('content-security-policy'), null);
    const https = { 'x-forwarded-proto': 'https' };
    const overHttps = await rawRequest(proxied.url, 'GET', '/healthz', { headers: https });
    assert.equal(overHttps.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    const claimed = await rawRequest(server.url, 'GET', '/healthz', { headers: https });
    assert.equal(claimed.headers['strict-transport-security'], undefined, 'an untrusted client cannot claim https');
  });

  it('after signing in, follows next= only to a path of this console', async () => {
    const cases: Array<[string, string]> = [
      ['/audit?action=auth', '/audit?action=auth'],
      ['/%5Cevil.example', '/'],
      ['//evil.example', '/'],
      ['/\\evil.example', '/'],
      ['/%2F%2Fevil.example', '/'],
      ['https://evil.example/', '/'],
    ];
    for (const [next, expected] of cases) {
      const answer = await postForm(
        server.url,
        `/login?next=${encodeURIComponent(next)}`,
        { email: OWNER.email, password: OWNER.password },
        { origin: server.url, accept: 'text/html' },
      );
      assert.equal(answer.status, 303, next);
      assert.equal(answer.headers.get('location'), expected, next);
    }
  });

  it('ends a session at its absolute lifetime, however active', async () => {
    const session = await loginAt(server.url, OWNER.email, OWNER.password);
    const hash = sha256(session.cookie.split('=')[1]!);
    const me = () => httpRequest(server.url, 'GET', '/api/v1/me', { cookie: session.cookie });
    const age = (sql: string) =>
      platform.runtime.catalog.pool.query(`update sessions set created_at = now() - (${sql}) where token_sha256 = $1`, [
        hash,
      ]);
    await age(`interval '7 days' - interval '1 hour'`);
    assert.equal((await me()).status, 200);
    const { rows } = await platform.runtime.catalog.pool.query<{ capped: boolean }>(
      `select expires_at <= created_at + interval '7 days' as capped from sessions where token_sha256 = $1`,
      [hash],
    );
    assert.equal(rows[0]?.capped, true, 'activity does not carry a session past its lifetime');
    await age(`interval '7 days' + interval '1 second'`);
    assert.equal((await me()).status, 401);
  });

  it('gives an API token made without an expiry one of 365 days, and says so when it is made', async () => {
    const session = await loginAt(server.url, OWNER.email, OWNER.password);
    const year = Date.now() + 365 * 86_400_000;
    const json = { name: 'no expiry given', workspace: 'default', role: 'viewer' };
    const api = await httpRequest(server.url, 'POST', '/api/v1/tokens', {
      cookie: session.cookie,
      json,
      headers: { origin: server.url },
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
    const expiresAt = Date.parse((api.body as { token: { expiresAt: string } }).token.expiresAt);
    assert.ok(Math.abs(expiresAt - year) < 60_000, `expires ${new Date(expiresAt).toISOString()}`);

    const page = await postForm(
      server.url,
      '/settings?/createToken',
      { ...json, name: 'from the page', expiresInDays: '' },
      { origin: server.url, accept: 'text/html', cookie: session.cookie },
    );
    const html = await page.text();
    const shown = /data-testid="token-expiry">Expires ([^<]+)\./.exec(html)?.[1];
    assert.ok(shown && Math.abs(Date.parse(shown) - year) < 60_000, `the page shows the expiry: ${shown}`);
  });

  it('beyond loopback, /metrics needs a token, and a workspace token reads only its databases', async () => {
    const exposed = await startWebServer({ services, host: '0.0.0.0', port: await freePort(), log: () => undefined });
    try {
      const url = `http://127.0.0.1:${new URL(exposed.url).port}/metrics`;
      const refused = await fetch(url);
      assert.equal(refused.status, 401);
      assert.match(await refused.text(), /personal API token/);

      const owner = await services.access.actorForEmail(OWNER.email, '127.0.0.1');
      const north = await services.access.createWorkspace(owner, 'north');
      const unreachable = (name: string) => ({
        name,
        url: `postgres://nobody@127.0.0.1:1/${name}`,
        skipCheck: true,
        verifyAfterBackup: false,
      });
      await platform.ops.addDatabase(unreachable('south-db'));
      await platform.ops.addDatabase(unreachable('north-db'));
      await platform.runtime.catalog.access.setDatabaseWorkspace('north-db', north.id);
      // Read again: the actor carries the memberships it had when it was read, and now owns north too.
      const northOwner = await services.access.actorForEmail(OWNER.email, '127.0.0.1');
      const { secret } = await services.tokens.create(northOwner, {
        name: 'scrape',
        workspace: 'north',
        role: 'viewer',
      });
      const scoped = await fetch(url, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal(scoped.status, 200);
      const samples = (await scoped.text()).split('\n').filter((l) => l && !l.startsWith('#'));
      assert.ok(samples.length > 0);
      for (const line of samples) assert.match(line, /database="north-db"/, 'only its workspace’s series');
      const open = await fetch(`${server.url}/metrics`);
      assert.equal(open.status, 200, 'open when served on loopback only');
      const full = await open.text();
      assert.match(full, /database="south-db"/);
      assert.match(full, /hindsight_http_requests_total/);
    } finally {
      await exposed.close();
    }
  });
});
