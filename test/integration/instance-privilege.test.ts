import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { actorOps } from '../support/actor-ops.ts';
import { apiCall, type ApiAuth } from '../support/api-client.ts';
import { operatorActor, type Actor } from '../../services/authz.ts';
import { CONSOLE_OWNER, type SignedInConsole } from '../support/console.ts';
import type { Platform } from '../support/platform.ts';
import { PRIVILEGE_PASSWORD, startPrivilegeFixture } from '../support/privilege-fixture.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');
const PASSWORD = PRIVILEGE_PASSWORD;
const VAULT_CONFIG = '[vault]\ntype = local\n';

/**
 * What runs code or reaches paths on the shared worker is the installation's, not a workspace's:
 * a workspace admin or owner is refused with 403 and a reason, the instance owner is not.
 */
describe('instance privileges: hook scripts, rclone programs and local paths', () => {
  let platform: Platform;
  let app: SignedInConsole;
  let blueRoot: string;
  let cookies: Map<string, string>;
  const marker = () => path.join(platform.dir, 'ran-on-the-worker');

  const call = (method: string, url: string, auth: ApiAuth, json?: unknown) =>
    apiCall(app.url, method, url, auth, json);

  const saveStorage = (
    who: string,
    name: string,
    config: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) => call('POST', '/storages', { cookie: cookies.get(who)! }, { name, config, ...extra });

  const actor = (email: string): Promise<Actor> => app.services.access.actorForEmail(email, 'test');
  const opsAs = (who: Actor) => actorOps(platform.services, who);

  /** The newest denied audit entry of an actor, as the workspace's admins read it. */
  async function lastDenial(email: string) {
    const entries = await platform.runtime.catalog.access.listAudit({ actor: email, limit: 20 });
    return entries.find((e) => e.outcome === 'denied');
  }

  before(async () => {
    ({ platform, app, blueRoot, cookies } = await startPrivilegeFixture());
  });

  after(async () => {
    await app?.close();
    await platform?.stop();
  });

  it('the first owner is the instance owner; a workspace owner may not make another, the operator may', async () => {
    assert.equal(((await actor(CONSOLE_OWNER.email)) as { instanceOwner: boolean }).instanceOwner, true);
    assert.equal(((await actor('blue-owner@example.org')) as { instanceOwner: boolean }).instanceOwner, false);
    // A workspace owner can neither make an account with a password nor make anyone an instance owner.
    await assert.rejects(
      app.services.access.createOwner(await actor('blue-owner@example.org'), {
        email: 'sneaky@example.org',
        password: PASSWORD,
        workspace: 'blue',
      }),
      (e: Error & { kind?: string }) =>
        e.kind === 'forbidden' &&
        /only the local operator on the server makes an account with a password/.test(e.message),
    );
    await assert.rejects(app.services.access.actorForEmail('sneaky@example.org', 'test'), /does not exist/);
    await assert.rejects(
      app.services.access.setInstanceOwner(await actor('blue-owner@example.org'), 'blue-owner@example.org', true),
      (e: Error & { kind?: string }) =>
        e.kind === 'forbidden' && /only the instance owner .* may grant or take it/.test(e.message),
    );
    const made = await app.services.access.createOwner(operatorActor('test'), {
      email: 'second@example.org',
      password: PASSWORD,
      workspace: 'blue',
    });
    assert.equal(made.instanceOwner, true);
  });

  it('a workspace admin or owner may not set a hook script: 403 naming why, a denied audit entry, nothing stored', async () => {
    const attempts: Array<[string, Parameters<ReturnType<typeof opsAs>['hooks']['setHook']>[0]]> = [
      ['admin@example.org', { target: { database: 'shop' }, kind: 'pre_backup', script: `touch ${marker()}` }],
      [
        'blue-owner@example.org',
        {
          target: { workspaceId: (await platform.runtime.catalog.access.findWorkspace('blue'))!.id },
          kind: 'post_backup',
          script: `touch ${marker()}`,
        },
      ],
    ];
    for (const [email, input] of attempts) {
      await assert.rejects(opsAs(await actor(email)).hooks.setHook(input), (e: Error & { kind?: string }) => {
        assert.equal(e.kind, 'forbidden');
        assert.equal(
          e.message,
          'hook scripts run programs on the shared worker: only the instance owner may set them (ask them, or the operator with the hindsight CLI on the server)',
        );
        return true;
      });
      const denial = await lastDenial(email);
      assert.equal(denial?.action, 'hook.edit');
      assert.match(denial?.detail ?? '', /^instance privilege hook\.script: hook scripts run programs/);
    }
    assert.deepEqual(await platform.runtime.catalog.hooks.forDatabase('shop'), []);
    // The console's page offers the editor to the instance owner only.
    assert.equal((await app.services.hooks.view(await actor('admin@example.org'), 'shop')).canSetScripts, false);
    assert.equal((await app.services.hooks.view(await actor(CONSOLE_OWNER.email), 'shop')).canSetScripts, true);
  });

  it('a workspace admin may restore --with-owners but not --with-privileged-roles: 403 naming why', async () => {
    const request = { database: 'shop', to: { database: 'shop_roles' }, withOwners: true, privilegedRoles: true };
    await assert.rejects(
      opsAs(await actor('admin@example.org')).startRestore(request),
      (e: Error & { kind?: string }) => e.kind === 'forbidden' && /only the instance owner may/.test(e.message),
    );
    const denial = await lastDenial('admin@example.org');
    assert.equal(denial?.action, 'restore.start');
    assert.match(denial?.detail ?? '', /^instance privilege restore\.privilegedRoles: /);
  });

  it('the instance owner sets a hook; a workspace admin may still remove it', async () => {
    await app.services.hooks.save(await actor(CONSOLE_OWNER.email), {
      database: 'shop',
      scope: 'database',
      kind: 'post_backup',
      script: 'echo done',
    });
    const [hook] = await platform.runtime.catalog.hooks.forDatabase('shop');
    assert.equal(hook?.script, 'echo done');
    assert.equal(hook?.updatedBy, CONSOLE_OWNER.email);
    await opsAs(await actor('admin@example.org')).hooks.removeHook({
      target: { database: 'shop' },
      kind: 'post_backup',
    });
    assert.deepEqual(await platform.runtime.catalog.hooks.forDatabase('shop'), []);
  });

  it('over the API, a workspace admin may not name an rclone binary, give config text or pass a flag off the allow-list', async () => {
    // Had the refusal not come first, the connection test would have run this program.
    const program = path.join(platform.dir, 'evil-rclone.sh');
    await writeFile(program, `#!/bin/sh\ntouch ${marker()}\nexec rclone "$@"\n`, { mode: 0o755 });
    const cases: Array<[Record<string, unknown>, RegExp, string]> = [
      [
        { remote: ':s3,provider=AWS:bucket', rcloneBinary: program },
        /^rcloneBinary names a program for the shared worker to run: only the instance owner may set it/,
        'storage.rcloneBinary',
      ],
      [
        { remote: 'vault:/tmp/x', configText: VAULT_CONFIG },
        /^an rclone config can define backends that run programs or read files on the shared worker: only the instance owner may set configText/,
        'storage.rcloneConfig',
      ],
      [
        { remote: ':s3,provider=AWS:bucket', extraFlags: ['--bwlimit=1M', `--password-command=touch ${marker()}`] },
        /^rclone flag "--password-command" is not on the allow-list for workspace admins .*: only the instance owner may pass it \(allowed: --bwlimit, /,
        'storage.rcloneFlag',
      ],
      [
        { remote: ':local:/etc' },
        /backend "local" reaches the shared worker's own files .*: only the instance owner may use it in a remote/,
        'storage.rcloneRemote',
      ],
    ];
    for (const [config, reason, privilege] of cases) {
      const answer = await saveStorage(
        'blue-admin@example.org',
        'blue-rclone',
        { type: 'rclone', ...config },
        { workspace: 'blue' },
      );
      assert.equal(answer.status, 403, JSON.stringify(answer.body));
      assert.match(answer.message, reason);
      assert.ok(!answer.message.includes(`touch ${marker()}`), "a flag's value is never repeated");
      assert.match(
        (await lastDenial('blue-admin@example.org'))?.detail ?? '',
        new RegExp(`^instance privilege ${privilege.replace('.', '\\.')}:`),
      );
    }
    assert.equal(existsSync(marker()), false, 'no program ran');
    assert.equal(await platform.runtime.catalog.access.storageWorkspace('blue-rclone'), undefined, 'nothing was saved');
    // What the allow-list admits still works for the admin: throughput flags on a network backend.
    const allowed = await saveStorage(
      'blue-admin@example.org',
      'blue-s3',
      {
        type: 'rclone',
        remote: ":s3,provider=Minio,endpoint='http://127.0.0.1:9':bucket",
        extraFlags: ['--bwlimit=10M', '--s3-chunk-size=8M'],
      },
      { workspace: 'blue', skipCheck: true },
    );
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
  });

  it("a workspace admin may not let an s3 storage sign in with the worker's own AWS credentials", async () => {
    const keyless = await saveStorage(
      'blue-admin@example.org',
      'blue-keyless',
      { type: 's3', bucket: 'other-tenant', region: 'us-east-1' },
      { workspace: 'blue', skipCheck: true },
    );
    assert.equal(keyless.status, 403, JSON.stringify(keyless.body));
    assert.match(
      keyless.message,
      /^an s3 storage without accessKeyId signs in with the shared worker's own AWS credentials, .*only the instance owner may use them/,
    );
    const keyed = await saveStorage(
      'blue-admin@example.org',
      'blue-keyed',
      {
        type: 's3',
        bucket: 'mine',
        region: 'us-east-1',
        accessKeyId: 'AKIAEXAMPLEBLUE',
        secretAccessKey: 'blue-secret-key-value',
      },
      { workspace: 'blue', skipCheck: true },
    );
    assert.equal(keyed.status, 201, JSON.stringify(keyed.body));
    const byOwner = await saveStorage(
      'instance',
      'instance-keyless',
      { type: 's3', bucket: 'instance-bucket', region: 'us-east-1' },
      { skipCheck: true },
    );
    assert.equal(byOwner.status, 201, JSON.stringify(byOwner.body));
  });

  it('the instance owner names the binary, gives config text and passes any flag; the connection test runs them', async () => {
    const program = path.join(platform.dir, 'owner-rclone.sh');
    const ranLog = path.join(platform.dir, 'owner-rclone.log');
    await writeFile(program, `#!/bin/sh\necho "$1" >> ${ranLog}\nexec rclone "$@"\n`, { mode: 0o755 });
    const dir = path.join(platform.dir, 'vault');
    const answer = await saveStorage('instance', 'owner-rclone', {
      type: 'rclone',
      remote: `vault:${dir}`,
      configText: VAULT_CONFIG,
      rcloneBinary: program,
      extraFlags: ['--no-check-certificate'],
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.ok(existsSync(ranLog), "the connection test ran the owner's program");
    // An admin of the workspace may edit the storage without touching what the owner chose.
    const edited = await saveStorage(
      'admin@example.org',
      'owner-rclone',
      {
        type: 'rclone',
        remote: `vault:${dir}`,
        configText: VAULT_CONFIG,
        rcloneBinary: program,
        extraFlags: ['--no-check-certificate', '--bwlimit=5M'],
      },
      { skipCheck: true },
    );
    assert.equal(edited.status, 201, JSON.stringify(edited.body));
  });

  it('a local path outside the workspace\'s root is refused after resolving ".." and symlinks; one inside is saved and written', async () => {
    const outside = path.join(platform.dir, 'outside');
    await mkdir(blueRoot, { recursive: true });
    await mkdir(outside, { recursive: true });
    await symlink(outside, path.join(blueRoot, 'link'));
    const escapes = [
      platform.backupsDir,
      `${blueRoot}/../default/x`,
      path.join(blueRoot, 'link', 'sub'),
      `${blueRoot}-twin`,
    ];
    for (const escape of escapes) {
      const answer = await saveStorage(
        'blue-admin@example.org',
        'blue-escape',
        { type: 'local', path: escape },
        { workspace: 'blue' },
      );
      assert.equal(answer.status, 403, `${escape}: ${JSON.stringify(answer.body)}`);
      assert.match(
        answer.message,
        new RegExp(
          `^local path ".*" is outside the storage root of workspace "blue" \\(${blueRoot}\\), after resolving "\\.\\." and symlinks: .*only the instance owner may choose it`,
        ),
      );
      assert.match(
        (await lastDenial('blue-admin@example.org'))?.detail ?? '',
        /^instance privilege storage\.localPath:/,
      );
    }
    assert.deepEqual(await readdir(outside), [], 'the connection test never wrote through the link');
    const inside = await saveStorage(
      'blue-admin@example.org',
      'blue-disk',
      { type: 'local', path: path.join(blueRoot, 'nightly') },
      { workspace: 'blue' },
    );
    assert.equal(inside.status, 201, JSON.stringify(inside.body));
    assert.ok(existsSync(path.join(blueRoot, 'nightly')), 'the connection test wrote inside the root');
    // The console's storages page tells the admin where, and the instance owner that anywhere will do.
    assert.deepEqual(
      (await app.services.setup.storages(await actor('blue-admin@example.org'))).workspaces.map((w) => [
        w.name,
        w.localRoot,
      ]),
      [['blue', blueRoot]],
    );
    assert.ok(
      (await app.services.setup.storages(await actor(CONSOLE_OWNER.email))).workspaces.every(
        (w) => w.localRoot === null,
      ),
    );
    // The console's "test before saving" is held to the same rule.
    await assert.rejects(
      app.services.setup.testStorageConfig(
        await actor('blue-admin@example.org'),
        'probe',
        { type: 'local', path: outside },
        (await platform.runtime.catalog.access.findWorkspace('blue'))!.id,
      ),
      (e: Error & { kind?: string }) => e.kind === 'forbidden' && /outside the storage root/.test(e.message),
    );
  });

  it('the instance owner may put a local storage anywhere, and an admin may edit it without moving it', async () => {
    const nas = path.join(platform.dir, 'nas');
    const answer = await saveStorage('instance', 'nas', { type: 'local', path: nas });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const kept = await saveStorage('admin@example.org', 'nas', { type: 'local', path: nas }, { skipCheck: true });
    assert.equal(kept.status, 201, JSON.stringify(kept.body));
    const moved = await saveStorage(
      'admin@example.org',
      'nas',
      { type: 'local', path: path.join(platform.dir, 'elsewhere') },
      { skipCheck: true },
    );
    assert.equal(moved.status, 403, JSON.stringify(moved.body));
  });

  it("the CLI's operator grants ownership of the installation; a workspace owner acting through the CLI may not", async () => {
    const env = { ...process.env, ...platform.configEnv };
    const hookSet = ['hook', 'set', '--workspace', 'blue', 'pre_backup', '--script', 'exit 0'];
    await assert.rejects(
      run(process.execPath, [cli, ...hookSet], { env: { ...env, HINDSIGHT_AS: 'blue-owner@example.org' } }),
      /only the instance owner may set them/,
    );
    await assert.rejects(
      run(process.execPath, [cli, 'user', 'instance-owner', 'blue-owner@example.org'], {
        env: { ...env, HINDSIGHT_AS: 'blue-owner@example.org' },
      }),
      /only the instance owner .* may grant or take it/,
    );
    await run(process.execPath, [cli, 'user', 'instance-owner', 'blue-owner@example.org'], { env });
    await run(process.execPath, [cli, ...hookSet], { env: { ...env, HINDSIGHT_AS: 'blue-owner@example.org' } });
    const blue = (await platform.runtime.catalog.access.findWorkspace('blue'))!;
    assert.deepEqual(
      (await platform.runtime.catalog.hooks.forWorkspace(blue.id)).map((h) => [h.kind, h.script, h.updatedBy]),
      [['pre_backup', 'exit 0', 'blue-owner@example.org']],
    );
    await run(process.execPath, [cli, 'user', 'instance-owner', 'blue-owner@example.org', 'off'], { env });
    assert.equal(((await actor('blue-owner@example.org')) as { instanceOwner: boolean }).instanceOwner, false);
  });

  it("an instance owner's API token holds the privilege only when made with the owner role", async () => {
    const token = async (role: string) => {
      const made = await call(
        'POST',
        '/tokens',
        { cookie: cookies.get('instance')! },
        { name: `t-${role}`, workspace: 'default', role },
      );
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.secret as string;
    };
    const config = { type: 'local', path: path.join(platform.dir, 'by-token') };
    // Saving a storage takes the instance privilege: refused to an admin token, allowed to an owner token.
    for (const [role, status] of [
      ['admin', 403],
      ['owner', 201],
    ] as const) {
      const saved = await call(
        'POST',
        '/storages',
        { bearer: await token(role) },
        { name: `by-${role}-token`, config, skipCheck: true },
      );
      assert.equal(saved.status, status, `${role} token: ${JSON.stringify(saved.body)}`);
    }
  });
});
