/**
 * A second factor in a real browser against the built console: an authenticator app enrolled from
 * the QR page's secret, sign-in with its codes (a wrong and a replayed one refused), recovery codes
 * that serve once, passkeys registered and used with Chrome's virtual authenticator, a workspace
 * that requires a second factor, and the operator's reset from the CLI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { totpStep } from '../../lib/access/totp.ts';
import { emailOf, httpRequest, PASSWORD, ROLE_LIST } from '../support/access-fixture.ts';
import { postAction } from '../support/console-forms.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import { scan } from '../support/secret-scan.ts';
import {
  alertText,
  browserPage,
  codeAt,
  logOut,
  passwordStep,
  request,
  sessionCookie,
  startSecondFactorWorld,
  stopSecondFactorWorld,
  wrongCode,
  type SecondFactorWorld,
} from '../support/second-factor-fixture.ts';
import { shown } from '../support/browser.ts';

describe('a second factor: TOTP, recovery codes and passkeys', () => {
  const started: Partial<SecondFactorWorld> = {};
  let world: SecondFactorWorld;
  let secret = '';
  let recoveryCodes: string[] = [];
  const cliOutput: string[] = [];
  const sql = <R extends Record<string, unknown>>(text: string, values: unknown[] = []) =>
    world.platform.runtime.catalog.pool.query<R>(text, values).then((r) => r.rows);

  before(async () => {
    world = await startSecondFactorWorld(started);
  });

  after(async () => {
    await stopSecondFactorWorld(started);
  });

  it('enrols an authenticator app from the QR page and shows ten recovery codes once', async () => {
    const { context, page } = await browserPage(world);
    await passwordStep(page, 'owner');
    await page.waitForURL(`${world.url}/`);
    await page.goto('/settings/security');
    await shown(page, page.getByTestId('totp-qr').locator('svg'), 'the QR code');
    secret = (await page.getByTestId('totp-secret').innerText()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await page.getByLabel('Code from the app').fill(wrongCode(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.match(await alertText(page, 'the refused first code'), /the code is wrong/);
    await page.getByLabel('Code from the app').fill(codeAt(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    const shownCodes = page.getByTestId('recovery-codes').locator('li');
    await shown(page, shownCodes.first(), 'the recovery codes');
    recoveryCodes = await shownCodes.allInnerTexts();
    assert.equal(recoveryCodes.length, 10);
    assert.equal(new Set(recoveryCodes).size, 10);
    await page.reload();
    assert.equal(await page.getByTestId('recovery-codes').count(), 0, 'the codes are shown once');
    await shown(page, page.getByText('10 recovery codes left'), 'the count of codes left');
    await context.close();

    // The catalog keeps the secret sealed and the codes hashed.
    const [totp] = await sql<{ sealed_secret: string; confirmed: boolean }>(
      `select sealed_secret, confirmed_at is not null as confirmed from totp_factors t join users u on u.id = t.user_id where u.email = $1`,
      [emailOf('owner')],
    );
    assert.ok(totp?.confirmed);
    assert.match(totp.sealed_secret, /^v1\.[0-9a-f]{16}\./);
    const codes = await sql<{ code_sha256: string }>('select code_sha256 from recovery_codes');
    assert.equal(codes.length, 10);
    const stored = JSON.stringify({ totp, codes });
    assert.deepEqual(scan({ catalog: [stored] }, { secret, ...Object.fromEntries(recoveryCodes.entries()) }), []);
  });

  it('asks for the code after the password; the pending step grants nothing; wrong and replayed codes are refused', async () => {
    const { context, page } = await browserPage(world);
    await passwordStep(page, 'owner');
    await page.waitForURL(/\/login\/second-factor/);
    const pending = (await context.cookies()).find((c) => c.name === 'hindsight_second_factor');
    assert.ok(pending, 'the password step leaves only the pending cookie');
    assert.equal((await context.cookies()).filter((c) => c.name === 'hindsight_session').length, 0);
    // Its token opens nothing, whatever cookie it is sent as.
    for (const name of ['hindsight_session', 'hindsight_second_factor']) {
      const cookie: string = `${name}=${pending.value}`;
      assert.equal((await request(world, 'GET', '/', cookie)).status, 303);
      assert.equal((await request(world, 'GET', '/api/v1/me', cookie)).status, 401);
    }

    await page.getByLabel('Code from your authenticator app').fill(wrongCode(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    assert.match(await alertText(page, 'the wrong code'), /the authenticator code is wrong/);
    // The next step's code (an app a little ahead): the enrolment used this step's.
    const next = codeAt(secret, 1);
    await page.getByLabel('Code from your authenticator app').fill(next);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${world.url}/`);
    await logOut(page);

    await passwordStep(page, 'owner');
    await page.waitForURL(/\/login\/second-factor/);
    await page.getByLabel('Code from your authenticator app').fill(next);
    await page.getByRole('button', { name: 'Verify' }).click();
    assert.match(await alertText(page, 'the replayed code'), /this authenticator code was already used/);
    assert.match(page.url(), /\/login\/second-factor/);
    await context.close();

    const audit = await sql<{ outcome: string; detail: string }>(
      `select outcome, detail from audit_log where action = 'auth.second_factor' order by id`,
    );
    assert.deepEqual(
      audit.map((a) => `${a.outcome} ${a.detail.replace(/ \(\d+ failure.*$/, '')}`),
      [
        'failed the authenticator code is wrong',
        'failed this authenticator code was already used: wait for the next one',
      ],
    );
  });

  it('a recovery code signs in once; its second use is refused', async () => {
    const { context, page } = await browserPage(world);
    const code = recoveryCodes[3]!;
    for (const attempt of ['first', 'second']) {
      await passwordStep(page, 'owner');
      await page.waitForURL(/\/login\/second-factor/);
      await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
      await page.getByLabel('Recovery code').fill(code.toUpperCase());
      await page.getByRole('button', { name: 'Use recovery code' }).click();
      if (attempt === 'first') {
        await page.waitForURL(`${world.url}/`);
        await logOut(page);
      } else {
        assert.match(await alertText(page, 'the used code'), /the recovery code is wrong or was already used/);
      }
    }
    const [left] = await sql<{ n: number }>('select count(*)::int as n from recovery_codes where used_at is null');
    assert.equal(left?.n, 9);
    await context.close();
  });

  it('registers a passkey, signs in with it alone and as the second step, and removes it', async () => {
    const { context, page } = await browserPage(world, { authenticator: true });
    await passwordStep(page, 'editor');
    await page.waitForURL(`${world.url}/`);
    await page.goto('/settings/security');
    await page.getByLabel('Name').fill('test laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await shown(page, page.getByTestId('passkey-list').getByText('test laptop'), 'the new passkey');
    const [row] = await sql<{ n: number }>(
      'select count(*)::int as n from passkeys p join users u on u.id = p.user_id where u.email = $1',
      [emailOf('editor')],
    );
    assert.equal(row?.n, 1);
    await logOut(page);

    // Passwordless: the passkey names the account.
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${world.url}/`);
    assert.equal((await page.context().cookies()).filter((c) => c.name === 'hindsight_session').length, 1);
    await logOut(page);

    // As the second step after the password.
    await passwordStep(page, 'editor');
    await page.waitForURL(/\/login\/second-factor/);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(`${world.url}/`);

    // An account with a second factor cannot open a session with its password over the API.
    const api = await request(world, 'POST', '/api/v1/session');
    assert.equal(api.status, 400, 'no body: refused before any login');
    const refused = await (
      await fetch(`${world.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: emailOf('editor'), password: PASSWORD }),
      })
    ).json();
    assert.match(JSON.stringify(refused), /this account has a second factor/);

    await page.goto('/settings/security');
    await page.getByRole('button', { name: 'Remove passkey test laptop' }).click();
    await shown(page, page.getByText('No passkey yet.'), 'the emptied list');
    await logOut(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    assert.match(await alertText(page, 'the removed passkey'), /not registered here/);
    await context.close();

    const details = await sql<{ detail: string }>(
      `select detail from audit_log where action = 'auth.login' and outcome = 'ok' and actor = $1 order by id`,
      [emailOf('editor')],
    );
    assert.deepEqual(
      details.map((d) => d.detail),
      [null, 'passkey', 'password and passkey'],
    );
  });

  it('only an owner can require a second factor; members without one are then sent to enrol', async () => {
    const cookies = new Map<string, string>();
    for (const role of ['viewer', 'editor', 'admin'] as const) cookies.set(role, await sessionCookie(world, role));
    assert.equal((await request(world, 'GET', '/', cookies.get('viewer'))).status, 200);
    // A token made before the requirement: tokens are made after signing in, so they stay usable.
    const made = await httpRequest(world.url, 'POST', '/api/v1/tokens', {
      cookie: cookies.get('viewer'),
      json: { name: 'script', workspace: 'default', role: 'viewer' },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const bearer = { authorization: `Bearer ${(made.body as { secret: string }).secret}` };
    for (const role of ROLE_LIST.filter((r) => r !== 'owner')) {
      const answer = await postAction(world.url, '/workspaces?/secondFactor', cookies.get(role) ?? '', {
        workspace: 'default',
        required: 'yes',
      });
      assert.deepEqual([answer.type, answer.status], ['failure', 403], `${role}: ${JSON.stringify(answer)}`);
      assert.match(String(answer.data), /workspace\.secondFactor .*needs the owner role/);
    }
    const [before] = await sql<{ required: boolean }>(
      'select require_second_factor as required from workspaces where id = 1',
    );
    assert.equal(before?.required, false, 'a refused change changed nothing');

    // The owner signs in with a recovery code and requires it.
    const { context, page } = await browserPage(world);
    await passwordStep(page, 'owner');
    await page.waitForURL(/\/login\/second-factor/);
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[5]!);
    await page.getByRole('button', { name: 'Use recovery code' }).click();
    await page.waitForURL(`${world.url}/`).catch(async (error: unknown) => {
      throw new Error(`the owner is not signed in; ${page.url()} shows: ${await page.locator('main').innerText()}`, {
        cause: error,
      });
    });
    await page.goto('/workspaces');
    await page.getByRole('button', { name: 'Require' }).click();
    await shown(page, page.getByText('requires a second factor: members without one'), 'the confirmation');
    await context.close();

    const sent = await request(world, 'GET', '/databases/new', cookies.get('viewer'));
    assert.deepEqual([sent.status, sent.headers.get('location')], [303, '/settings/security']);
    const enrol = await request(world, 'GET', '/settings/security', cookies.get('viewer'));
    assert.equal(enrol.status, 200);
    assert.match(String(enrol.body), /requires a second factor/);

    // The API refuses the same session cookie, except to say who is signed in; the token still works.
    const api = await request(world, 'GET', '/api/v1/databases', cookies.get('viewer'));
    assert.equal(api.status, 403, JSON.stringify(api.body));
    assert.match(
      JSON.stringify(api.body),
      /requires a second factor: add an authenticator app or a passkey on \/settings\/security/,
    );
    assert.equal((await request(world, 'GET', '/api/v1/me', cookies.get('viewer'))).status, 200);
    const byToken = await httpRequest(world.url, 'GET', '/api/v1/databases', { headers: bearer });
    assert.equal(byToken.status, 200, JSON.stringify(byToken.body));
  });

  it('hindsight user reset-2fa removes every factor of the user, audited; a user cannot run it', async () => {
    const asUser = await hindsightResult({ ...world.platform.configEnv, HINDSIGHT_AS: emailOf('owner') }, [
      'user',
      'reset-2fa',
      emailOf('owner'),
    ]);
    assert.notEqual(asUser.code, 0);
    assert.match(asUser.stderr, /only the local operator/);
    const reset = await hindsightResult(world.platform.configEnv, ['user', 'reset-2fa', emailOf('owner')]);
    assert.equal(reset.code, 0, reset.stderr);
    cliOutput.push(asUser.stdout, asUser.stderr, reset.stdout, reset.stderr);
    assert.match(reset.stdout, /authenticator app, 10 recovery code\(s\), 0 passkey\(s\)/);
    const left = await sql<{ n: number }>(
      `select (select count(*) from totp_factors where user_id = u.id)::int
            + (select count(*) from recovery_codes where user_id = u.id)::int
            + (select count(*) from passkeys where user_id = u.id)::int as n
         from users u where u.email = $1`,
      [emailOf('owner')],
    );
    assert.equal(left[0]?.n, 0);
    const [audit] = await sql<{ actor: string; target_name: string; outcome: string }>(
      `select actor, target_name, outcome from audit_log where action = 'auth.second_factor.reset'`,
    );
    assert.match(audit?.actor ?? '', /^cli:/);
    assert.deepEqual([audit?.target_name, audit?.outcome], [emailOf('owner'), 'ok']);
    // The password alone opens a session again.
    await sessionCookie(world, 'owner');
  });

  it('no TOTP secret or recovery code in the web log, the audit log or the CLI output', async () => {
    const audit = await sql<{ entry: string }>('select a::text as entry from audit_log a order by id');
    const wanted = {
      'totp secret': secret,
      ...Object.fromEntries(recoveryCodes.map((c, i) => [`recovery code ${i}`, c])),
    };
    assert.ok(totpStep(secret, codeAt(secret)) !== undefined, 'the scanned secret is the real one');
    assert.deepEqual(scan({ 'web log': world.webLog, audit: audit.map((a) => a.entry), cli: cliOutput }, wanted), []);
  });
});
