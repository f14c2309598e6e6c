/**
 * Invitations by link instead of passwords chosen by admins: accepted with one's own password or
 * through single sign-on (a real OpenID Connect provider, a real browser), refused once used or
 * expired; `member add` reaches only accounts that accepted an invitation to the workspace, so an
 * admin of one workspace cannot take a user of another; the link mailed through the workspace's
 * email notifier (a real SMTP server); and "SSO only" with its break-glass owner, refused before
 * the password is checked.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { invitationTokenHash } from '../../lib/catalog/invitations.ts';
import { operatorActor } from '../../services/authz.ts';
import { createNotifierOperations } from '../../services/notifiers/work.ts';
import { httpRequest, loginAt } from '../support/access-fixture.ts';
import { afterSignIn, gotoHydrated, shown } from '../support/browser.ts';
import { hindsightCli } from '../support/hindsight-cli.ts';
import { startSmtpServer, type ReceivedMail } from '../support/notify-receivers.ts';
import { signInAtProvider } from '../support/oidc-provider.ts';
import { OWNER, startSsoWorld, stopSsoWorld, type SsoWorld } from '../support/sso-fixture.ts';

const PASSWORD = 'my own long password';

describe('invitations, the reach of member add, and SSO only', () => {
  const starting: Partial<SsoWorld> = {};
  let world: SsoWorld;

  before(async () => {
    world = await startSsoWorld(starting);
  });

  after(async () => {
    await stopSsoWorld(starting);
  });

  const invite = async (email: string, workspace: string, role: string, by = world.owner) =>
    (await world.services.access.invite(by, { email, workspace, role })).token;
  const accept = (token: string, password = PASSWORD) =>
    world.services.access.acceptWithPassword({ token, password, ip: '127.0.0.1', userAgent: null });
  const actorOf = (email: string) => world.services.access.actorForEmail(email, 'test');

  it('an owner invites from the users page; the person chooses a password through the link, once', async () => {
    const { context, page } = await world.freshPage();
    await gotoHydrated(page, `${world.baseUrl}/login`);
    await page.fill('input[name="email"]', OWNER.email);
    await page.fill('input[name="password"]', OWNER.password);
    await page.click('button[type="submit"]');
    await afterSignIn(page, `${world.baseUrl}/users`);
    const form = page.locator('form[action="?/invite"]');
    await form.locator('input[name="email"]').fill('dave@example.org');
    await form.locator('select[name="workspace"]').selectOption('blue');
    await form.locator('select[name="role"]').selectOption('viewer');
    await form.locator('button[type="submit"]').click();
    const linkField = page.getByLabel('Invitation link');
    await shown(page, linkField, 'the invitation link');
    const link = await linkField.inputValue();
    assert.match(link, /\/login\/invite\/[A-Za-z0-9_-]{43}$/);
    const token = link.split('/').at(-1)!;
    const { rows } = await world.platform.runtime.catalog.pool.query('select token_sha256 from invitations');
    assert.deepEqual(
      rows.map((r: { token_sha256: string }) => r.token_sha256),
      [invitationTokenHash(token)],
      'only the hash is stored',
    );
    await context.close();

    const invited = await world.freshPage();
    await invited.page.goto(`${world.baseUrl}/login/invite/${token}`);
    assert.match(
      await invited.page.locator('main').innerText(),
      /dave@example\.org is invited as viewer of workspace blue/,
    );
    await invited.page.fill('input[name="password"]', PASSWORD);
    await invited.page.fill('input[name="confirm"]', PASSWORD);
    await invited.page.getByRole('button', { name: 'Accept the invitation' }).click();
    // Signed in: the header names the person (hidden on narrow screens, hence attached rather than visible).
    await afterSignIn(invited.page, `${world.baseUrl}/`);
    assert.equal(await invited.page.locator('header .who').textContent(), 'dave@example.org');
    assert.deepEqual(await world.rolesOf('dave@example.org'), ['blue:viewer']);
    assert.equal((await loginAt(world.baseUrl, 'dave@example.org', PASSWORD)).status, 200);

    await invited.page.goto(`${world.baseUrl}/login/invite/${token}`);
    assert.match(await invited.page.locator('main').innerText(), /This invitation link was already used/);
    await assert.rejects(accept(token, 'another long password'), /this invitation link was already used/);
    await invited.context.close();
  });

  it('refuses an expired link', async () => {
    const token = await invite('frank@example.org', 'blue', 'editor');
    await world.platform.runtime.catalog.pool.query(
      `update invitations set expires_at = now() - interval '1 second' where token_sha256 = $1`,
      [invitationTokenHash(token)],
    );
    await assert.rejects(accept(token), /this invitation link expired: ask an admin of workspace "blue" for a new one/);
    const { context, page } = await world.freshPage();
    await page.goto(`${world.baseUrl}/login/invite/${token}`);
    assert.match(await page.locator('main').innerText(), /This invitation link expired/);
    assert.equal(await world.platform.runtime.catalog.access.findUserByEmail('frank@example.org'), undefined);
    await context.close();
  });

  it('accepts through single sign-on a person the mapping alone gives nothing, and only for the invited address', async () => {
    const wrongToken = await invite('someone@else.example', 'blue', 'viewer');
    const wrong = await world.freshPage();
    await wrong.page.goto(`${world.baseUrl}/login/invite/${wrongToken}`);
    await wrong.page.getByRole('link', { name: 'Sign in with Corp ID' }).click();
    await signInAtProvider(wrong.page, world.provider.issuer, 'carol');
    await wrong.page.waitForURL((url) => url.pathname === '/login/sso/callback');
    assert.match(
      await wrong.page.locator('main').innerText(),
      /this invitation is for someone@else\.example, and the provider signed you in as carol@corp\.example/,
    );
    await wrong.context.close();

    const token = await invite('erin@corp.example', 'blue', 'editor');
    const { context, page } = await world.freshPage();
    await page.goto(`${world.baseUrl}/login/invite/${token}`);
    await page.getByRole('link', { name: 'Sign in with Corp ID' }).click();
    await signInAtProvider(page, world.provider.issuer, 'erin');
    await page.waitForURL(`${world.baseUrl}/`);
    assert.deepEqual(await world.rolesOf('erin@corp.example'), ['blue:editor']);
    await assert.rejects(accept(token), /already used/);
    await context.close();
  });

  it("emails the link through the workspace's email notifier; the mailed link accepts in the browser", async () => {
    // Without an email notifier the link is handed over, with the reason it was not mailed.
    const unmailed = await world.services.access.invite(world.owner, {
      email: 'ivy@example.org',
      workspace: 'blue',
      role: 'viewer',
    });
    assert.equal(unmailed.mail.emailed, false);
    assert.match(JSON.stringify(unmailed.mail), /workspace \\"blue\\" has no email notifier to send it through/);

    const mails: ReceivedMail[] = [];
    const smtp = await startSmtpServer('invitations', { disabledCommands: ['STARTTLS'], authOptional: true }, mails);
    const config = world.platform.runtime.config as { publicUrl: string };
    const publicUrl = config.publicUrl;
    config.publicUrl = world.baseUrl;
    try {
      const blue = (await world.platform.runtime.catalog.access.findWorkspace('blue'))!;
      const mailSettings = { type: 'email', host: '127.0.0.1', port: smtp.port, starttls: 'off' };
      await createNotifierOperations(world.platform.runtime, world.platform.client).saveNotifier(
        'blue-mail',
        { ...mailSettings, from: 'hindsight@example.com', to: ['dba@example.com'] },
        ['backup_failed'],
        blue.id,
      );
      const owner = await loginAt(world.baseUrl, OWNER.email, OWNER.password);
      const answer = await httpRequest(world.baseUrl, 'POST', '/api/v1/users', {
        cookie: owner.cookie,
        json: { email: 'ivy@example.org', workspace: 'blue', role: 'editor' },
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const body = answer.body as { link: string; emailed: boolean; emailedVia: string };
      assert.deepEqual([body.emailed, body.emailedVia], [true, 'blue-mail']);
      const mail = mails.find((m) => m.to.includes('ivy@example.org'));
      assert.ok(mail, `no mail to ivy@example.org among ${mails.length}`);
      assert.equal(mail.subject, '[Hindsight] You are invited to workspace blue');
      const link = /(http:\/\/\S+\/login\/invite\/[A-Za-z0-9_-]{43})\s/.exec(mail.text)?.[1];
      assert.equal(link, body.link, mail.text);

      const { context, page } = await world.freshPage();
      await page.goto(link);
      assert.match(await page.locator('main').innerText(), /ivy@example\.org is invited as editor of workspace blue/);
      await page.fill('input[name="password"]', PASSWORD);
      await page.fill('input[name="confirm"]', PASSWORD);
      await page.getByRole('button', { name: 'Accept the invitation' }).click();
      await afterSignIn(page, `${world.baseUrl}/`);
      assert.equal(await page.locator('header .who').textContent(), 'ivy@example.org');
      await context.close();
      assert.deepEqual(await world.rolesOf('ivy@example.org'), ['blue:editor']);
      // The link is a secret: the audit log says it was mailed, never what it was.
      const audit = JSON.stringify(await world.platform.runtime.catalog.access.listAudit({ action: 'invitation' }));
      assert.match(audit, /"emailedVia":"blue-mail"/);
      assert.ok(!audit.includes(link.split('/').at(-1)!), 'the token is in no audit entry');
    } finally {
      config.publicUrl = publicUrl;
      await smtp.close();
    }
  });

  it('member add reaches only accounts that accepted an invitation to the workspace', async () => {
    await accept(await invite('ann@example.org', 'default', 'viewer'));
    await accept(await invite('bluey@example.org', 'blue', 'admin'));
    const bluey = await actorOf('bluey@example.org');
    // Blue's admin cannot take default's user into blue, nor reach default at all.
    await assert.rejects(
      world.services.access.setMember(bluey, 'ann@example.org', 'blue', 'admin'),
      /no account "ann@example\.org" accepted an invitation to workspace "blue": invite them first/,
    );
    await assert.rejects(
      world.services.access.setMember(bluey, 'ann@example.org', 'default', 'viewer'),
      /workspace "default" does not exist/,
    );
    await assert.rejects(invite('ann@example.org', 'default', 'admin', bluey), /workspace "default" does not exist/);
    const refused = await world.services.access
      .setMember(world.owner, 'dave@example.org', 'default', 'viewer')
      .catch((e: Error) => e);
    assert.match(String(refused), /no account "dave@example\.org" accepted an invitation to workspace "default"/);
    assert.deepEqual(await world.rolesOf('ann@example.org'), ['default:viewer']);
    assert.deepEqual(await world.rolesOf('dave@example.org'), ['blue:viewer']);

    // Once ann accepts blue's invitation (with her own password), blue's admin may change her role there.
    await assert.rejects(
      accept(await invite('ann@example.org', 'blue', 'viewer', bluey), 'not her password'),
      /confirm with its current password/,
    );
    await accept(await invite('ann@example.org', 'blue', 'viewer', bluey));
    await world.services.access.setMember(bluey, 'ann@example.org', 'blue', 'editor');
    await world.services.access.setMember(world.owner, 'dave@example.org', 'blue', 'editor');
    assert.deepEqual(await world.rolesOf('ann@example.org'), ['blue:editor', 'default:viewer']);
    assert.deepEqual(await world.rolesOf('dave@example.org'), ['blue:editor']);
  });

  it('from the CLI: sso list shows no secret, user invite prints a working link', async () => {
    const hindsight = hindsightCli(world.platform.configEnv);
    const listed = await hindsight(['sso', 'list']);
    assert.match(
      listed.stdout,
      /corp\s+Corp ID\s+http:\/\/127\.0\.0\.1:\d+\s+hindsight-console\s+groups\s+dba=default:admin readers=default:viewer blue-team=blue:editor/,
    );
    assert.ok(!listed.stdout.includes(world.provider.clientSecret));
    const invited = await hindsight(['user', 'invite', 'gina@example.org', '--workspace', 'blue', '--role', 'viewer']);
    const token = /\/login\/invite\/([A-Za-z0-9_-]+)\n$/.exec(invited.stdout)?.[1];
    assert.ok(token, invited.stdout);
    await accept(token);
    assert.deepEqual(await world.rolesOf('gina@example.org'), ['blue:viewer']);
    await assert.rejects(
      hindsight(['user', 'invite', 'x@example.org', '--role', 'viewer'], 'bluey@example.org'),
      /workspace "default" does not exist/,
    );
    const secretFile = path.join(world.platform.dir, 'client-secret');
    await writeFile(secretFile, `${world.provider.clientSecret}\n`);
    await assert.rejects(
      hindsight(
        [
          'sso',
          'add',
          'again',
          '--issuer',
          world.provider.issuer,
          '--client-id',
          'x',
          '--client-secret-file',
          secretFile,
        ],
        'bluey@example.org',
      ),
      /only the instance owner/,
    );
  });

  it('SSO only refuses passwords except for the break-glass owner marked from the CLI', async () => {
    const operator = operatorActor('test');
    await assert.rejects(world.services.access.setSsoOnly(operator, true), /no break-glass account would be left/);
    await assert.rejects(
      world.services.access.setBreakGlass(world.owner, OWNER.email, true),
      /from the CLI on the server only/,
    );
    await assert.rejects(world.services.access.setBreakGlass(operator, 'erin@corp.example', true), /has no password/);
    await world.services.access.setBreakGlass(operator, OWNER.email, true);
    await world.services.access.setSsoOnly(operator, true);
    const dave = await loginAt(world.baseUrl, 'dave@example.org', PASSWORD);
    assert.equal(dave.status, 401);
    assert.match(JSON.stringify(dave.body), /this installation signs in through single sign-on only/);
    // Refused before the password is checked: a wrong one gets the very same answer.
    const guess = await loginAt(world.baseUrl, 'dave@example.org', 'not the password of dave');
    assert.deepEqual([guess.status, guess.body], [dave.status, dave.body]);
    assert.equal((await loginAt(world.baseUrl, OWNER.email, OWNER.password)).status, 200, 'the break-glass owner');
    await assert.rejects(accept(await invite('hal@example.org', 'blue', 'viewer')), /single sign-on only/);
    await world.services.access.setSsoOnly(operator, false);
    assert.equal((await loginAt(world.baseUrl, 'dave@example.org', PASSWORD)).status, 200);
  });
});
