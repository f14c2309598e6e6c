/**
 * The life of a console password against a real catalog, the built console over HTTP and the
 * `hindsight` CLI as a child process: changing one's own password, a reset link issued by the local
 * operator, and hashes made with weaker scrypt parameters upgraded at the next sign-in.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { httpRequest, loginAt } from '../support/access-fixture.ts';
import { postForm } from '../support/console-forms.ts';
import { hindsightCli, type HindsightCli } from '../support/hindsight-cli.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';

const EMAIL = 'pat@example.org';
const FIRST = 'the first passphrase';
const SECOND = 'the second passphrase';
const THIRD = 'the third passphrase';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the password lifecycle', () => {
  let platform: Platform;
  let services: HostServices;
  let server: WebServer;
  let hindsight: HindsightCli;

  before(async () => {
    platform = await startPlatform();
    services = createConsoleServices(platform.services);
    server = await startWebServer({ services, host: '127.0.0.1', port: await freePort(), log: () => undefined });
    hindsight = hindsightCli({ ...platform.configEnv, HINDSIGHT_PUBLIC_URL: server.url });
    await services.access.createFirstOwner({ email: EMAIL, password: FIRST }, '127.0.0.1');
  });

  after(async () => {
    await server?.close();
    await platform?.stop();
  });

  const me = (cookie: string) => httpRequest(server.url, 'GET', '/api/v1/me', { cookie });
  const storedHash = async () =>
    (
      await platform.runtime.catalog.pool.query<{ h: string }>(
        'select password_hash as h from users where email = $1',
        [EMAIL],
      )
    ).rows[0]!.h;
  const audited = async (action: string) =>
    (await platform.runtime.catalog.access.listAudit({ action, limit: 100 })).filter((e) => e.action === action);
  const page = (url: string, fields: Record<string, string>, cookie = '') =>
    postForm(server.url, url, fields, { origin: server.url, accept: 'text/html', ...(cookie && { cookie }) });

  it('lets a user change their own password with the current one, and signs out their other sessions', async () => {
    const here = await loginAt(server.url, EMAIL, FIRST);
    const elsewhere = await loginAt(server.url, EMAIL, FIRST);
    const before = await storedHash();
    const change = (current: string, next: string, confirm = next) =>
      page('/settings?/changePassword', { current, next, confirm }, here.cookie);

    const wrong = await change('not the passphrase', SECOND);
    assert.equal(wrong.status, 403);
    assert.match(await wrong.text(), /the current password is wrong/);
    assert.equal(await storedHash(), before, 'a refused change changes nothing');
    const short = await change(FIRST, 'short');
    assert.equal(short.status, 400);
    assert.match(await short.text(), /at least 10 characters/);

    const done = await change(FIRST, SECOND);
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Your password is changed/);
    assert.equal((await me(here.cookie)).status, 200, 'the session that changed it stays');
    assert.equal((await me(elsewhere.cookie)).status, 401, 'every other session ends');
    assert.equal((await loginAt(server.url, EMAIL, FIRST)).status, 401);
    assert.equal((await loginAt(server.url, EMAIL, SECOND)).status, 200);
    const entries = await audited('auth.password.change');
    assert.deepEqual(entries.map((e) => e.outcome).sort(), ['failed', 'ok']);
    assert.ok(!JSON.stringify(entries).includes(SECOND) && !JSON.stringify(entries).includes(FIRST));
  });

  it('sets a password once through an expiring link the local operator prints', async () => {
    const session = await loginAt(server.url, EMAIL, SECOND);
    const { stdout } = await hindsight(['user', 'reset-password', EMAIL]);
    const url = /^(http\S+)$/m.exec(stdout)?.[1] ?? '';
    assert.ok(url.startsWith(`${server.url}/reset-password?token=`), stdout);
    const token = new URL(url).searchParams.get('token')!;
    const { rows } = await platform.runtime.catalog.pool.query<{ t: string }>(
      'select token_sha256 as t from password_resets',
    );
    assert.deepEqual(
      rows.map((r) => r.t),
      [sha256(token)],
      'only the hash is stored',
    );

    const shown = await (await fetch(url)).text();
    assert.match(shown, new RegExp(`For <strong>${EMAIL}</strong>`));
    const reset = (t: string) => page('/reset-password', { token: t, password: THIRD, confirm: THIRD });
    const done = await reset(token);
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Your password is set/);
    assert.equal((await me(session.cookie)).status, 401, 'the account’s sessions end');
    assert.equal((await loginAt(server.url, EMAIL, THIRD)).status, 200);

    const again = await reset(token);
    assert.equal(again.status, 403, 'a link works once');
    assert.match(await again.text(), /wrong, used or expired/);
    const later = /^(http\S+)$/m.exec((await hindsight(['user', 'reset-password', EMAIL])).stdout)![1]!;
    const laterToken = new URL(later).searchParams.get('token')!;
    await platform.runtime.catalog.pool.query(
      `update password_resets set expires_at = now() - interval '1 second' where token_sha256 = $1`,
      [sha256(laterToken)],
    );
    assert.equal((await reset(laterToken)).status, 403, 'an expired link is refused');
    assert.equal((await loginAt(server.url, EMAIL, THIRD)).status, 200, 'refused links changed nothing');

    await assert.rejects(hindsight(['user', 'reset-password', EMAIL], EMAIL), /only the local operator/);
    assert.equal((await audited('auth.password.resetIssued')).length, 2);
    const uses = await audited('auth.password.reset');
    assert.deepEqual(uses.map((e) => e.outcome).sort(), ['denied', 'denied', 'ok']);
  });

  it('upgrades a hash made with weaker scrypt parameters at the next sign-in, and only then', async () => {
    const salt = randomBytes(16);
    const weakKey = scryptSync(THIRD.normalize('NFKC'), salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const weak = `scrypt$16384$8$1$${salt.toString('base64')}$${weakKey.toString('base64')}`;
    await platform.runtime.catalog.pool.query('update users set password_hash = $2 where email = $1', [EMAIL, weak]);

    assert.equal((await loginAt(server.url, EMAIL, 'not the passphrase')).status, 401);
    assert.equal(await storedHash(), weak, 'a failed sign-in upgrades nothing');
    assert.equal((await loginAt(server.url, EMAIL, THIRD)).status, 200);
    const upgraded = await storedHash();
    assert.match(upgraded, /^scrypt\$32768\$8\$1\$/);
    assert.equal((await loginAt(server.url, EMAIL, THIRD)).status, 200, 'the upgraded hash verifies');
  });
});
