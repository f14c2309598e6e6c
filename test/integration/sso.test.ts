/**
 * Single sign-on against a real OpenID Connect provider (`oidc-provider`, in this process) through
 * a real browser: people in different groups land with exactly the roles the mapping gives, roles
 * follow the groups at each sign-in, an unmapped person sees the "no access" page, signing out ends
 * the session at the provider too; and a tampered state or nonce, a wrong issuer, a reused code
 * and an expired code are each refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { operatorActor } from '../../services/authz.ts';
import { afterSignIn, gotoHydrated, shown } from '../support/browser.ts';
import { signInAtProvider } from '../support/oidc-provider.ts';
import { MAPPINGS, OWNER, startSsoWorld, stopSsoWorld, type SsoWorld } from '../support/sso-fixture.ts';

const STATE_COOKIE = 'hindsight_sso_state';

describe('single sign-on through OpenID Connect', () => {
  const starting: Partial<SsoWorld> = {};
  let world: SsoWorld;

  before(async () => {
    world = await startSsoWorld(starting);
  });

  after(async () => {
    await stopSsoWorld(starting);
  });

  /** Clicks the provider's button on the login page and signs in there as `login`. */
  async function signIn(login: string): Promise<{ context: BrowserContext; page: Page; callbacks: string[] }> {
    const { context, page } = await world.freshPage();
    // Every callback URL the browser opens (the provider redirects there: a request event, not a route).
    const callbacks: string[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`${world.baseUrl}/login/sso/callback`)) callbacks.push(r.url());
    });
    await page.goto(`${world.baseUrl}/login`);
    await page.getByRole('link', { name: 'Sign in with Corp ID' }).click();
    await signInAtProvider(page, world.provider.issuer, login);
    await page.waitForURL((url) => url.origin === world.baseUrl && !url.pathname.startsWith('/login/sso/callback'));
    return { context, page, callbacks };
  }

  /** GET on the console with the given state cookie, not following redirects. */
  async function callback(url: string, state: string | undefined) {
    const response = await fetch(url, {
      headers: state === undefined ? {} : { cookie: `${STATE_COOKIE}=${state}` },
      redirect: 'manual',
    });
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }

  /** Starts a sign-in from the context without following the redirect: the provider URL, and the state cookie set. */
  async function startFrom(context: BrowserContext): Promise<{ providerUrl: URL; state: string }> {
    const response = await context.request.get(`${world.baseUrl}/login/sso/start/corp`, { maxRedirects: 0 });
    assert.equal(response.status(), 303, await response.text());
    const state = (await context.cookies()).find((c) => c.name === STATE_COOKIE)?.value;
    assert.ok(state, 'the start sets the state cookie');
    return { providerUrl: new URL(response.headers().location!), state };
  }

  it('offers the provider by its display name, and each person lands with exactly the mapped roles', async () => {
    const alice = await signIn('alice');
    assert.equal(new URL(alice.page.url()).pathname, '/');
    assert.equal(await alice.page.locator('header .who').textContent(), 'alice@corp.example');
    assert.deepEqual(await world.rolesOf('alice@corp.example'), ['blue:editor', 'default:admin']);
    const bob = await signIn('bob');
    assert.equal(new URL(bob.page.url()).pathname, '/');
    assert.deepEqual(await world.rolesOf('bob@corp.example'), ['default:viewer']);
    const user = await world.platform.runtime.catalog.access.findUserByEmail('bob@corp.example');
    assert.equal(user?.passwordHash, null, 'an account made by single sign-on has no password');
    const login = await fetch(`${world.baseUrl}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bob@corp.example', password: 'a guess at a password' }),
    });
    assert.equal(login.status, 401, 'nor can anyone log in to it with a password');
    await alice.context.close();
    await bob.context.close();
  });

  it('syncs the roles from the groups at every sign-in, down to "no access"', async () => {
    world.provider.people.get('bob')!.groups = ['dba', 'blue-team'];
    const promoted = await signIn('bob');
    assert.deepEqual(await world.rolesOf('bob@corp.example'), ['blue:editor', 'default:admin']);
    world.provider.people.get('bob')!.groups = ['readers'];
    const demoted = await signIn('bob');
    assert.deepEqual(await world.rolesOf('bob@corp.example'), ['default:viewer']);
    world.provider.people.get('bob')!.groups = [];
    const gone = await signIn('bob');
    assert.equal(new URL(gone.page.url()).pathname, '/login/sso/no-access');
    assert.deepEqual(await world.rolesOf('bob@corp.example'), []);
    for (const s of [promoted, demoted, gone]) await s.context.close();
  });

  it('shows the "no access" page to a person the mapping gives nothing, and makes no account', async () => {
    const carol = await signIn('carol');
    assert.equal(new URL(carol.page.url()).pathname, '/login/sso/no-access');
    const text = await carol.page.locator('main').innerText();
    assert.match(text, /No access/);
    assert.match(text, /Corp ID signed you in as carol@corp\.example, but none of your groups gives a role/);
    assert.equal(await world.platform.runtime.catalog.access.findUserByEmail('carol@corp.example'), undefined);
    const home = await carol.page.goto(`${world.baseUrl}/`);
    assert.equal(new URL(home!.url()).pathname, '/login', 'no session was opened');
    await carol.context.close();
  });

  it('signs out of Hindsight and at the provider through its end-session endpoint', async () => {
    const alice = await signIn('alice');
    const token = (await alice.context.cookies()).find((c) => c.name === 'hindsight_session')!.value;
    const open = async () => (await world.services.access.sessionActor(token, 'test')) !== undefined;
    assert.equal(await open(), true);
    await alice.page.getByRole('button', { name: 'Log out' }).click();
    await alice.page.waitForURL((url) => url.href.startsWith(`${world.provider.issuer}/session/end`));
    assert.equal(await open(), false, 'the Hindsight session ended before the provider was asked');
    await alice.page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await alice.page.waitForURL(`${world.baseUrl}/login`);
    // Signed out at the provider too: the next sign-in asks for the login again.
    await alice.page.getByRole('link', { name: 'Sign in with Corp ID' }).click();
    await alice.page.waitForURL((url) => url.href.startsWith(world.provider.issuer));
    await shown(alice.page, alice.page.locator('input[name="login"]'), "the provider's login form");
    await alice.context.close();
  });

  it('refuses a tampered state, a replayed callback and a reused code', async () => {
    const alice = await signIn('alice');
    const used = new URL(alice.callbacks.at(-1)!);
    const usedCode = used.searchParams.get('code')!;
    const replay = await callback(used.href, used.searchParams.get('state')!);
    assert.match(replay.text, /this sign-in expired or was already used: start again from the login page/);

    const { state } = await startFrom(alice.context);
    const tampered = new URL(used);
    tampered.searchParams.set('state', `${state.slice(0, -2)}xx`);
    const otherBrowser = await callback(tampered.href, state);
    assert.match(otherBrowser.text, /the sign-in does not belong to this browser \(its state does not match\)/);
    const forged = await callback(tampered.href, tampered.searchParams.get('state')!);
    assert.match(forged.text, /this sign-in expired or was already used/);
    const noCookie = await callback(tampered.href, undefined);
    assert.match(noCookie.text, /does not belong to this browser/);

    // The state is right and fresh, the code was already redeemed: the provider refuses it.
    const reused = new URL(used);
    reused.searchParams.set('state', state);
    reused.searchParams.set('code', usedCode);
    const answer = await callback(reused.href, state);
    assert.match(answer.text, /Corp ID sign-in refused: invalid_grant/);
    assert.equal(answer.status, 200);
    assert.doesNotMatch(answer.text, /set-cookie/i);
    await alice.context.close();
  });

  it('refuses an authorization code that expired before it was redeemed, and opens no session', async () => {
    const { context, page } = await world.freshPage();
    world.provider.expireNextCode();
    await page.goto(`${world.baseUrl}/login`);
    await page.getByRole('link', { name: 'Sign in with Corp ID' }).click();
    await signInAtProvider(page, world.provider.issuer, 'alice');
    await page.waitForURL((url) => url.pathname === '/login/sso/callback');
    const text = await page.locator('main').innerText();
    assert.match(text, /Sign-in refused/);
    assert.match(text, /Corp ID sign-in refused: invalid_grant/);
    assert.match(text, /the provider's sign-in code expired or was already used: start again from the login page/);
    const cookies = (await context.cookies(world.baseUrl)).map((c) => c.name);
    assert.ok(!cookies.includes('hindsight_session'), `no session cookie was set: ${cookies.join(', ')}`);
    const home = await page.goto(`${world.baseUrl}/`);
    assert.equal(new URL(home!.url()).pathname, '/login', 'no session was opened');
    await context.close();
  });

  it('refuses an ID token whose nonce is not the one the sign-in sent', async () => {
    const { context, page } = await world.freshPage();
    const { providerUrl } = await startFrom(context);
    providerUrl.searchParams.set('nonce', 'a-nonce-of-somebody-else');
    await page.goto(providerUrl.href);
    await signInAtProvider(page, world.provider.issuer, 'alice');
    await page.waitForURL((url) => url.pathname === '/login/sso/callback');
    const text = await page.locator('main').innerText();
    assert.match(text, /Sign-in refused/);
    assert.match(text, /Corp ID sign-in refused: .*"nonce"/);
    const home = await page.goto(`${world.baseUrl}/`);
    assert.equal(new URL(home!.url()).pathname, '/login', 'no session was opened');
    await context.close();
  });

  it('refuses a provider whose metadata names another issuer', async () => {
    const wrong = {
      name: 'wrong',
      displayName: 'Wrong issuer',
      // The same provider reached under another name: its metadata says 127.0.0.1.
      issuer: world.provider.issuer.replace('127.0.0.1', 'localhost'),
      clientId: world.provider.clientId,
      clientSecret: world.provider.clientSecret,
      mappings: MAPPINGS,
    };
    await assert.rejects(
      world.services.access.addProvider(operatorActor('test'), wrong),
      /could not be used: .*issuer/,
    );
    await world.services.access.addProvider(operatorActor('test'), wrong, { check: false });
    const start = await fetch(`${world.baseUrl}/login/sso/start/wrong`, { redirect: 'manual' });
    assert.equal(start.status, 502);
    assert.match(await start.text(), /the identity provider at http:\/\/localhost:\d+\/? could not be used: .*issuer/);
    await world.services.access.removeProvider(operatorActor('test'), 'wrong');
  });

  it("shows the providers and their mapping on an owner's settings page, and not on a viewer's", async () => {
    const { context, page } = await world.freshPage();
    await gotoHydrated(page, `${world.baseUrl}/login`);
    await page.fill('input[name="email"]', OWNER.email);
    await page.fill('input[name="password"]', OWNER.password);
    await page.click('button[type="submit"]');
    await afterSignIn(page, `${world.baseUrl}/settings`);
    const panel = page.getByRole('region', { name: 'Single sign-on' });
    await shown(page, panel, 'the single sign-on panel');
    const text = await panel.innerText();
    assert.match(text, /Corp ID \(corp\)/);
    assert.match(text, /dba → default: admin/);
    assert.match(text, /blue-team → blue: editor/);
    assert.ok(!(await page.content()).includes(world.provider.clientSecret), 'the page holds no secret');
    await context.close();
    world.provider.people.get('bob')!.groups = ['readers'];
    const bob = await signIn('bob');
    await bob.page.goto(`${world.baseUrl}/settings`);
    assert.equal(await bob.page.getByRole('region', { name: 'Single sign-on' }).count(), 0);
    await bob.context.close();
  });

  it("keeps a workspace's last owner when the mapping would take the role away, and audits why", async () => {
    const { pool } = world.platform.runtime.catalog;
    const mappings = (await pool.query(`select mappings from identity_providers where name = 'corp'`)).rows[0].mappings;
    const owners = [...mappings, { value: 'blue-owners', workspace: 'blue', role: 'owner' }];
    await pool.query(`update identity_providers set mappings = $1 where name = 'corp'`, [JSON.stringify(owners)]);
    world.provider.people.get('erin')!.groups = ['blue-owners'];
    await (await signIn('erin')).context.close();
    assert.deepEqual(await world.rolesOf('erin@corp.example'), ['blue:owner']);
    // The workspace's creator hands it over: erin is now its only owner.
    const { id: ownerId } = (await world.platform.runtime.catalog.access.findUserByEmail(OWNER.email))!;
    await pool.query(
      `delete from memberships where user_id = $1 and workspace_id = (select id from workspaces where name = 'blue')`,
      [ownerId],
    );
    world.provider.people.get('erin')!.groups = [];
    const later = await signIn('erin');
    assert.deepEqual(await world.rolesOf('erin@corp.example'), ['blue:owner'], 'the last owner stays owner');
    assert.equal(new URL(later.page.url()).pathname, '/', 'and reaches the console');
    await later.context.close();
    const audit = await world.platform.runtime.catalog.access.listAudit({ action: 'membership.set' });
    assert.ok(
      audit.some((e) => e.outcome === 'denied' && /maps the last owner to no role; kept as owner/.test(e.detail ?? '')),
      JSON.stringify(audit),
    );
    await pool.query(`update identity_providers set mappings = $1 where name = 'corp'`, [JSON.stringify(mappings)]);
    await pool.query(
      `insert into memberships (user_id, workspace_id, role) select $1, id, 'owner' from workspaces where name = 'blue'`,
      [ownerId],
    );
  });

  it('lets only the instance owner configure providers, and never shows the client secret', async () => {
    const alice = await world.services.access.actorForEmail('alice@corp.example', 'test');
    await assert.rejects(world.services.access.removeProvider(alice, 'corp'), /only the instance owner/);
    await assert.rejects(world.services.access.listProviders(alice), /only owners see/);
    const listed = JSON.stringify(await world.services.access.listProviders(world.owner));
    assert.match(listed, /"issuer":"http:\/\/127\.0\.0\.1/);
    assert.ok(!listed.includes(world.provider.clientSecret), 'the list holds no secret');
    const audit = JSON.stringify(await world.platform.runtime.catalog.access.listAudit({ action: 'sso' }));
    assert.ok(!audit.includes(world.provider.clientSecret), 'the audit log holds no secret');
    const { rows } = await world.platform.runtime.catalog.pool.query<{ sealed: string }>(
      'select sealed_client_secret as sealed from identity_providers',
    );
    assert.ok(rows.length > 0 && rows.every((r) => !r.sealed.includes(world.provider.clientSecret)), 'sealed');
  });
});
