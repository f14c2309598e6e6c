import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { addAccount } from '../support/accounts.ts';
import { actorOps } from '../support/actor-ops.ts';
import { operatorActor } from '../../services/authz.ts';
import { endpoints } from '../../web/api-v1-routes.ts';
import {
  callApi,
  loginCookie,
  PASSWORD,
  SECRET_PATTERN,
  LATER_OPERATIONS,
  settledVerification,
  wrongTypedBody,
  type OpenApiDoc,
  type Json,
} from '../support/api-v1-client.ts';
import { assertTokensKeptAsHashes } from '../support/api-v1-tokens.ts';
import { assertDatabasePaging } from '../support/api-v1-paging.ts';
import { assertPatchUpdates } from '../support/api-v1-updates.ts';
import { postForm } from '../support/console-forms.ts';
import { startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { workflowsEnded, type Platform } from '../support/platform.ts';
import { itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';

describe('/api/v1: the OpenAPI document, bodies checked against it, personal API tokens, the settings page', () => {
  let platform: Platform;
  let consoleApp: SignedInConsole;
  let source: PgTarget;
  let editorCookie: string;
  const workflows: string[] = [];

  const call = (...args: Parameters<typeof callApi> extends [string, ...infer Rest] ? Rest : never) =>
    callApi(consoleApp.url, ...args);
  const login = (email: string) => loginCookie(consoleApp.url, email);
  const openApi = async () => (await call('GET', '/openapi.json')).body as unknown as OpenApiDoc;
  const ownerCookie = () => login('owner@example.org');

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(200)));
    consoleApp = await startSignedInConsole(platform);
    const operator = actorOps(platform.services, operatorActor('test'));
    await operator.addDatabase({ name: 'shop', url: targetUrl(source), storages: 'local', verifyAfterBackup: false });
    const owner = await consoleApp.services.access.actorForEmail('owner@example.org', 'test');
    for (const email of ['editor@example.org', 'leaver@example.org'])
      await addAccount(consoleApp.services.access, owner, { email, password: PASSWORD, role: 'editor' });
    editorCookie = await login('editor@example.org');
  });

  after(async () => {
    await workflowsEnded(platform, workflows);
    await consoleApp?.close();
    await platform?.stop();
  });

  it('serves an OpenAPI 3.1 document without a session, and it validates', async () => {
    const answer = await call('GET', '/openapi.json');
    assert.equal(answer.status, 200);
    const doc = answer.body as unknown as OpenApiDoc;
    const result = await new Validator().validate(doc as never);
    // The validator held the console's event loop: its keep-alive timer closes the idle socket before the next call.
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(result.valid, true, String(JSON.stringify(result.errors)).slice(0, 2000));
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearerToken', 'sessionCookie']);
    for (const [path, method] of LATER_OPERATIONS) {
      assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
    }
  });

  it('every endpoint with a body, read from the document, refuses a wrong-typed field with a 400 naming it', async () => {
    const doc = await openApi();
    const owner = await ownerCookie();
    let checked = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const schema = operation.requestBody?.content['application/json']?.schema;
        if (!schema) continue;
        const { body, expected } = wrongTypedBody(schema, `${method} ${path}`);
        const url = path.replace(/\{[^}]+\}/g, '1');
        const answer = await call(method.toUpperCase(), url, { cookie: owner }, body);
        assert.equal(
          answer.status,
          400,
          `${method.toUpperCase()} ${url} ${JSON.stringify(body)} → ${answer.status} ${answer.text.slice(0, 300)}`,
        );
        assert.equal(answer.body.error?.kind, 'bad_input');
        assert.equal(answer.body.error?.field, expected, `${method.toUpperCase()} ${path}: ${answer.text}`);
        assert.ok(answer.body.error?.message.startsWith(`${expected}:`), answer.body.error?.message);
        checked += 1;
      }
    }
    assert.ok(checked >= 14, `only ${checked} endpoints with a body`);
    const malformed = await call('POST', '/tokens', { cookie: owner }, undefined, '{"name": ');
    assert.equal(malformed.status, 400);
    assert.deepEqual([malformed.body.error?.kind, malformed.body.error?.field], ['bad_input', 'body']);
  });

  it('tokens act as their user in one workspace with the lower role; revoked, removed or expired they get 401', async () => {
    const create = (cookie: string, body: Json) => call('POST', '/tokens', { cookie }, body);
    const tooHigh = await create(editorCookie, { name: 'greedy', workspace: 'default', role: 'admin' });
    assert.equal(tooHigh.status, 403, tooHigh.text);
    assert.match(tooHigh.body.error!.message, /^role: .*you are editor/);

    const viewer = await create(editorCookie, { name: 'read-only', workspace: 'default', role: 'viewer' });
    assert.equal(viewer.status, 201, viewer.text);
    const viewerSecret = viewer.body.secret as string;
    assert.match(viewerSecret, new RegExp(`^${SECRET_PATTERN.source}$`));
    const editor = await create(editorCookie, {
      name: 'deploys',
      workspace: 'default',
      role: 'editor',
      expiresInDays: 30,
    });
    assert.equal(editor.status, 201, editor.text);
    const editorSecret = editor.body.secret as string;
    // The answer has the shape the document promises.
    const doc = await openApi();
    const promised = doc.paths['/tokens']!.post!.responses['201']!.content!['application/json']!.schema!;
    assert.deepEqual(Object.keys(editor.body).sort(), [...promised.required!].sort());
    assert.deepEqual(Object.keys(editor.body.token as Json).sort(), [...promised.properties!.token!.required!].sort());

    const listed = await call('GET', '/databases', { bearer: viewerSecret });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(
      (listed.body as unknown as Array<{ name: string }>).map((d) => d.name),
      ['shop'],
    );
    const refused = await call('POST', '/databases/shop/backups', { bearer: viewerSecret }, {});
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.body.error!.message, /needs the editor role in workspace "default"; you are viewer/);

    const started = await call('POST', '/databases/shop/backups', { bearer: editorSecret }, {});
    assert.equal(started.status, 202, started.text);
    workflows.push(started.body.workflowId as string);
    const outcome = (await platform.client.workflow.getHandle(started.body.workflowId as string).result()) as {
      status: string;
      rows: number;
    };
    assert.deepEqual([outcome.status, outcome.rows], ['complete', 200]);
    const audited = await platform.runtime.catalog.access.listAudit({ action: 'backup.start' });
    assert.ok(
      audited.some(
        (e) =>
          e.actor === 'editor@example.org' &&
          e.outcome === 'ok' &&
          e.source?.startsWith(`token ${editorSecret.slice(0, 10)}`),
      ),
      JSON.stringify(audited),
    );
    const backups = await call('GET', '/backups?database=shop', { bearer: viewerSecret });
    assert.deepEqual(
      (backups.body as unknown as Array<{ id: string }>).map((b) => b.id),
      [started.body.backupId],
    );

    // A token cannot mint tokens; the list never shows a secret.
    assert.equal(
      (await call('POST', '/tokens', { bearer: editorSecret }, { name: 'child', workspace: 'default', role: 'viewer' }))
        .status,
      403,
    );
    const mine = await call('GET', '/tokens', { bearer: editorSecret });
    assert.deepEqual(
      (mine.body as unknown as Array<{ name: string; state: string }>).map((t) => `${t.name}:${t.state}`),
      ['deploys:active', 'read-only:active'],
    );
    assert.ok(!mine.text.includes(viewerSecret.slice(10)) && !mine.text.includes(editorSecret.slice(10)));
    const used = mine.body as unknown as Array<{ name: string; lastUsedAt: string | null }>;
    assert.ok(
      used.every((t) => t.lastUsedAt !== null && Date.now() - Date.parse(t.lastUsedAt) < 60_000),
      'both tokens were used just now',
    );

    const viewerId = (viewer.body.token as { id: number }).id;
    const revoked = await call('DELETE', `/tokens/${viewerId}`, { cookie: editorCookie });
    assert.equal(revoked.status, 200, revoked.text);
    const afterRevoke = await call('GET', '/databases', { bearer: viewerSecret });
    assert.equal(afterRevoke.status, 401);
    assert.equal(afterRevoke.body.error?.kind, 'unauthenticated');
    assert.equal((await call('GET', '/databases', { bearer: 'hs_' + 'A'.repeat(43) })).status, 401, 'an unknown token');
    assert.equal(
      (await call('GET', '/databases', { bearer: editorSecret })).status,
      200,
      'the other token still works',
    );

    await assertTokensKeptAsHashes(platform, [viewerSecret, editorSecret]);

    // Lowering the user's role lowers the token's; removing them from the workspace ends it; so does expiry.
    const leaverCookie = await login('leaver@example.org');
    const leaver = await create(leaverCookie, { name: 'leaver', workspace: 'default', role: 'editor' });
    const leaverSecret = leaver.body.secret as string;
    const owner = await ownerCookie();
    assert.equal(
      (await call('PUT', '/workspaces/default/members/leaver@example.org', { cookie: owner }, { role: 'viewer' }))
        .status,
      200,
    );
    assert.equal((await call('POST', '/databases/shop/backups', { bearer: leaverSecret }, {})).status, 403);
    assert.equal(
      (await call('DELETE', '/workspaces/default/members/leaver@example.org', { cookie: owner })).status,
      200,
    );
    assert.equal((await call('GET', '/databases', { bearer: leaverSecret })).status, 401);
    await platform.runtime.catalog.pool.query(
      `update api_tokens set expires_at = now() - interval '1 second' where name = 'deploys'`,
    );
    assert.equal((await call('GET', '/databases', { bearer: editorSecret })).status, 401, 'an expired token');
  });

  it('notifiers, retention, verifications, restores and PITR status through the same services', async () => {
    const owner = await ownerCookie();
    const saved = await call(
      'PUT',
      '/notifiers/ops-hook',
      { cookie: owner },
      { config: { type: 'webhook', url: 'http://127.0.0.1:9/hook' }, events: ['backup_failed'] },
    );
    assert.equal(saved.status, 200, saved.text);
    const notifiers = await call('GET', '/notifiers', { cookie: editorCookie });
    assert.deepEqual(
      (notifiers.body as unknown as Array<{ name: string; events: string[] }>).map(
        (n) => `${n.name}:${n.events.join(',')}`,
      ),
      ['ops-hook:backup_failed'],
    );
    assert.equal(
      (
        await call(
          'PUT',
          '/notifiers/ops-hook',
          { cookie: editorCookie },
          { config: { type: 'webhook', url: 'http://127.0.0.1:9/x' } },
        )
      ).status,
      403,
      'editors do not change notifiers',
    );
    await assertPatchUpdates(platform, call, owner, editorCookie);
    const tested = await call('POST', '/notifiers/ops-hook/test', { cookie: owner });
    assert.equal(tested.status, 200);
    assert.equal(tested.body.ok, false, 'nothing listens on port 9');
    assert.equal((await call('DELETE', '/notifiers/ops-hook', { cookie: owner })).status, 200);
    assert.deepEqual((await call('GET', '/notifiers', { cookie: owner })).body, []);

    const backupId = (await platform.runtime.catalog.listBackups('shop'))[0]!.id;
    const dryRun = await call(
      'GET',
      `/databases/shop/retention?policy=${encodeURIComponent(JSON.stringify({ kind: 'count', keepLast: 1 }))}`,
      { cookie: editorCookie },
    );
    assert.equal(dryRun.status, 200, dryRun.text);
    assert.ok(dryRun.text.includes(backupId), dryRun.text.slice(0, 500));
    const badPolicy = await call('GET', '/databases/shop/retention?policy=%7Bnope', { cookie: editorCookie });
    assert.deepEqual([badPolicy.status, badPolicy.body.error?.field], [400, 'policy']);
    const put = await call(
      'PUT',
      '/databases/shop/retention',
      { cookie: editorCookie },
      { policy: { kind: 'count', keepLast: 5 } },
    );
    assert.equal(put.status, 200, put.text);
    assert.deepEqual((await platform.runtime.catalog.getDatabase('shop')).retentionPolicy, {
      kind: 'count',
      keepLast: 5,
    });
    assert.ok(
      (await platform.runtime.catalog.access.listAudit({ action: 'retention.save' })).some(
        (e) => e.actor === 'editor@example.org' && e.outcome === 'ok',
      ),
    );

    const verification = await call('POST', '/databases/shop/verifications', { cookie: editorCookie }, { backupId });
    assert.equal(verification.status, 202, verification.text);
    const verificationId = verification.body.verificationId as string;
    const report = await settledVerification(call, verificationId, editorCookie);
    assert.equal(report!.body.status, 'successful', report!.text.slice(0, 500));
    const listedVerifications = await call('GET', '/databases/shop/verifications', { cookie: editorCookie });
    assert.ok((listedVerifications.body as unknown as Array<{ id: string }>).some((v) => v.id === verificationId));

    const restore = await call(
      'POST',
      '/restores',
      { cookie: editorCookie },
      { database: 'shop', backupId, to: { database: 'shop_copy' } },
    );
    assert.equal(restore.status, 202, restore.text);
    const workflowId = restore.body.workflowId as string;
    workflows.push(workflowId);
    await platform.client.workflow.getHandle(workflowId).result();
    const progress = await call('GET', `/restores/${encodeURIComponent(workflowId)}`, { cookie: editorCookie });
    assert.equal(progress.status, 200, progress.text);
    assert.equal(progress.body.status, 'COMPLETED');
    assert.equal((progress.body.progress as { stage: string }).stage, 'verified');
    assert.equal(
      (await call('GET', `/restores/${encodeURIComponent('backup/shop/x')}`, { cookie: editorCookie })).status,
      404,
    );

    const pitr = await call('GET', '/databases/shop/pitr', { cookie: editorCookie });
    assert.equal(pitr.status, 200, pitr.text);
    assert.equal(pitr.body.enabled, false);
  });

  it('the settings page shows the installation and creates and revokes a token through its form actions', async () => {
    const page = await consoleApp.fetch(`${consoleApp.url}/settings`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(
      html.includes('API tokens') &&
        html.includes(platform.runtime.key.id) &&
        html.includes(platform.config.temporalNamespace),
    );
    assert.ok(
      !html.includes(platform.runtime.key.bytes.toString('hex')) &&
        !html.includes(platform.runtime.key.bytes.toString('base64')),
      'never the key itself',
    );

    const headers = { origin: consoleApp.url, 'x-sveltekit-action': 'true' };
    const action = (name: string, fields: Record<string, string>) =>
      postForm(consoleApp.url, `/settings?/${name}`, fields, headers, consoleApp.fetch);
    const created = await action('createToken', {
      name: 'from-the-page',
      workspace: 'default',
      role: 'admin',
      expiresInDays: '7',
    });
    const answer = (await created.json()) as { type: string; data: string };
    assert.equal(answer.type, 'success', JSON.stringify(answer));
    const secret = SECRET_PATTERN.exec(answer.data)?.[0];
    assert.ok(secret, answer.data);
    const me = await call('GET', '/me', { bearer: secret });
    assert.equal(me.body.email, 'owner@example.org');
    const token = (
      (await call('GET', '/tokens', { bearer: secret })).body as unknown as Array<{
        id: number;
        name: string;
        role: string;
        expiresAt: string;
      }>
    ).find((t) => t.name === 'from-the-page')!;
    assert.equal(token.role, 'admin');
    assert.ok(Math.abs(Date.parse(token.expiresAt) - Date.now() - 7 * 86_400_000) < 60_000);
    const listedPage = await (await consoleApp.fetch(`${consoleApp.url}/settings`)).text();
    assert.ok(
      listedPage.includes('from-the-page') && !listedPage.includes(secret),
      'listed, the secret not shown again',
    );

    const bad = await action('createToken', { name: '', workspace: 'default', role: 'viewer' });
    assert.equal(((await bad.json()) as { type: string }).type, 'failure');
    const revoked = await action('revokeToken', { id: String(token.id) });
    assert.equal(((await revoked.json()) as { type: string }).type, 'success');
    assert.equal((await call('GET', '/me', { bearer: secret })).status, 401);
  });

  it('answers the read endpoints in the shapes the document gives them', async () => {
    const owner = await ownerCookie();
    const backupId = (await platform.runtime.catalog.listBackups('shop'))[0]!.id;
    const doc = await openApi();
    const fill: Record<string, string> = { name: 'shop', id: backupId };
    const checked: string[] = [];
    for (const endpoint of endpoints) {
      if (endpoint.method !== 'get' || !endpoint.responseSchema) continue;
      const names = [...endpoint.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      if (names.some((n) => !(n in fill))) continue;
      const path = endpoint.path.replace(/:(\w+)/g, (_, n: string) => encodeURIComponent(fill[n]!));
      const answer = await call('GET', path, { cookie: owner });
      assert.equal(answer.status, endpoint.status, `${path}: ${answer.text.slice(0, 200)}`);
      const parsed = endpoint.responseSchema.safeParse(answer.body);
      assert.ok(
        parsed.success,
        `${path} answers as documented: ${parsed.success ? '' : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
      const documented =
        doc.paths[endpoint.path.replace(/:(\w+)/g, '{$1}')]?.get?.responses[String(endpoint.status)]?.content?.[
          'application/json'
        ]?.schema ?? {};
      assert.ok(Object.keys(documented).length > 0, `${endpoint.path} has its response shape in the document`);
      checked.push(endpoint.path);
    }
    for (const path of ['/databases', '/storages', '/backups', '/databases/:name/backups', '/backups/:id', '/tokens'])
      assert.ok(checked.includes(path), `${path} was checked`);
    const backupSchema = endpoints.find((e) => e.operationId === 'getBackup')!.responseSchema!;
    const real = (await call('GET', `/backups/${backupId}`, { cookie: owner })).body;
    assert.equal(
      backupSchema.safeParse({ ...real, status: 'bogus' }).success,
      false,
      'the shape can fail: an unknown status is refused',
    );
  });

  it("pages through the databases by name with limit and after, each page only of the caller's workspaces", () =>
    assertDatabasePaging(platform, targetUrl(source), call, { owner: ownerCookie, editor: () => editorCookie }));
});
