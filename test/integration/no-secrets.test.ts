import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { targetUrl } from '../../lib/pg/connection.ts';
import {
  CANARY,
  collectSources,
  OWNER,
  RecordingClient,
  ROLE,
  secrets,
  startNoSecretsWorld,
  stopNoSecretsWorld,
  type NoSecretsWorld,
} from '../support/no-secrets-fixture.ts';
import { cliRuns, enrolSecondFactor, pagesToRead, saveSecretNotifiers } from '../support/no-secrets-cases.ts';
import { waitForSent } from '../support/notifications-fixture.ts';
import { capturedLogger } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { expand, scan } from '../support/secret-scan.ts';
import { waitFor } from '../support/wait.ts';

// Debug lines too: a secret must not reach the log at any level.
process.env.HINDSIGHT_LOG_LEVEL = 'debug';

describe('no secret in any log line, API response, CLI output, audit entry or workflow history', () => {
  const starting: Partial<NoSecretsWorld> = {};
  let world: NoSecretsWorld;
  let client: RecordingClient;
  // The invitee's TOTP secret and recovery codes: made during the run, so not among the fixed secrets.
  let secondFactorSecrets: Record<string, string> = {};
  const request = (...args: Parameters<RecordingClient['request']>) => client.request(...args);
  const collect = () => collectSources(world);

  before(async () => {
    world = await startNoSecretsWorld(starting);
    client = new RecordingClient(world);
  });

  after(async () => {
    await stopNoSecretsWorld(starting);
  });

  it('does real work with every kind of secret: backups, restore, failures, verification, tests, API and CLI', async () => {
    const { platform, notifiers, moto, http, smtp, mails, source } = world;
    const { apiResponses, webLog, cliOutput } = world.recorded;
    const denied = await request('POST', '/api/v1/session', { email: OWNER, password: secrets['new user password'] });
    assert.equal(denied.status, 401, 'a wrong password is refused');
    const session = await request('POST', '/api/v1/session', { email: OWNER, password: secrets['console password'] });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    const setCookie = /set-cookie: ([^;\n]+)/.exec(apiResponses.at(-1)!)?.[1];
    assert.ok(setCookie, 'the login sets a session cookie');
    client.cookie = setCookie;

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
    await saveSecretNotifiers(notifiers, http.url, smtp.port);
    await notifiers.attach('shop', ['slack', 'mail', 'slack-wrong', 'mail-wrong']);
    await notifiers.attach('shop-wrong', ['slack', 'mail']);
    assert.equal((await notifiers.testNotifier('slack')).ok, true);
    assert.equal((await notifiers.testNotifier('slack-wrong')).ok, false, 'the receiver does not know the wrong token');
    assert.equal((await notifiers.testNotifier('mail-wrong')).ok, false, 'the SMTP server refuses the wrong password');

    // A backup to local and S3, with its verification, and its notifications delivered.
    const started = await request('POST', '/api/v1/databases/shop/backups', {});
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const { workflowId, backupId } = started.body as { workflowId: string; backupId: string };
    const outcome = (await platform.client.workflow.getHandle(workflowId).result()) as { status: string };
    assert.equal(outcome.status, 'complete');
    const backup = await platform.runtime.catalog.getBackup(backupId);
    assert.deepEqual(backup.copies.map((c) => `${c.storageName}:${c.status}`).sort(), [
      'local:complete',
      's3:complete',
    ]);
    await waitForSent(notifiers, 'backup_succeeded sent to slack and mail', ['shop', 'backup_succeeded', 2], 60_000);
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
    await waitForSent(notifiers, 'backup_failed sent', ['shop-wrong', 'backup_failed', 2], 60_000);

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

    // The rest of the API: an invited user choosing a password, storage test, every GET.
    const invited = await request('POST', '/api/v1/users', {
      email: 'invitee@example.org',
      role: 'viewer',
      workspace: 'default',
    });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    await world.services.access.acceptWithPassword({
      token: String((invited.body as { link: string }).link)
        .split('/')
        .at(-1)!,
      password: secrets['new user password'],
      ip: '127.0.0.1',
      userAgent: null,
    });
    secondFactorSecrets = await enrolSecondFactor(world.services, 'invitee@example.org', secrets['new user password']);
    assert.equal((await request('POST', '/api/v1/storages/s3/test')).status, 200);
    assert.equal((await request('POST', `/api/v1/backups/${backupId}/cancel`, {})).status, 409);
    for (const url of pagesToRead(backupId, failing.backupId)) {
      const answer = await request('GET', url);
      assert.equal(
        answer.status,
        200,
        `${url}: ${String(JSON.stringify(answer.body).match(/Could not[^\\<]*|error[^<]{0,400}/) ?? JSON.stringify(answer.body).slice(0, 300))}`,
      );
    }

    // The password lifecycle: a change in the console, and a reset link from the CLI used on its page.
    const change = { current: secrets['console password'], next: secrets['changed console password'] };
    const changed = await client.form('/settings?/changePassword', { ...change, confirm: change.next });
    assert.equal(changed.status, 200, changed.text.slice(0, 300));
    const link = await client.hindsight(['user', 'reset-password', 'invitee@example.org']);
    const token = /reset-password\?token=(\S+)/.exec(link.stdout)?.[1] ?? '';
    const reset = { token, password: secrets['reset password'], confirm: secrets['reset password'] };
    assert.equal((await client.form('/reset-password', reset)).status, 200, link.stdout);

    assert.equal((await request('DELETE', '/api/v1/session')).status, 200);
    assert.equal((await request('GET', '/api/v1/me')).status, 401, 'logged out');

    // The CLI, with --json where it has it.
    // A provider's client secret, given from a file as the CLI takes it.
    const ssoSecretFile = path.join(platform.dir, 'sso-client-secret');
    await writeFile(ssoSecretFile, `${secrets['sso client secret']}\n`);
    for (const [args, expected] of cliRuns(backupId, source, wrongUrl, ssoSecretFile)) {
      const result = await client.hindsight(args);
      assert.equal(result.code === 0 ? 0 : 1, expected, `hindsight ${args.join(' ')}:\n${cliOutput.at(-1)}`);
    }
  });

  it('the collector sees every source, and finds a secret that was placed in one', async () => {
    const { platform } = world;
    const { workerLog } = world.recorded;
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
    const { platform } = world;
    const sources = await collect();
    const wanted: Record<string, string> = {
      ...secrets,
      ...secondFactorSecrets,
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
