/** The PATCH endpoints of /api/v1: a partial change merged over a stored storage or notifier. */
import assert from 'node:assert/strict';
import type { Answer } from './api-v1-client.ts';
import type { Platform } from './platform.ts';

type Call = (method: string, path: string, auth: { cookie: string }, json?: unknown) => Promise<Answer>;

/**
 * With the webhook notifier `ops-hook` saved: an owner changes its URL and events and the `local`
 * storage's settings; a type change is refused naming the fix; an editor may change neither.
 */
export async function assertPatchUpdates(platform: Platform, call: Call, owner: string, editor: string) {
  const changed = await call(
    'PATCH',
    '/notifiers/ops-hook',
    { cookie: owner },
    { config: { url: 'http://127.0.0.1:9/changed' }, events: ['backup_failed', 'database_down'] },
  );
  assert.equal(changed.status, 200, changed.text);
  assert.deepEqual(changed.body.events, ['backup_failed', 'database_down']);
  assert.match(JSON.stringify(await platform.runtime.catalog.notifiers.config('ops-hook')), /:9\/changed/);

  const { path: localPath } = (await platform.runtime.catalog.storageConfig('local')) as { path: string };
  const kept = await call('PATCH', '/storages/local', { cookie: owner }, { config: { path: localPath } });
  assert.equal(kept.status, 200, kept.text);
  const refused = await call('PATCH', '/storages/local', { cookie: owner }, { config: { type: 's3', bucket: 'b' } });
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.body.error?.message ?? '', /type cannot change to s3: add a new storage/);

  for (const [path, body] of [
    ['/notifiers/ops-hook', { events: ['backup_failed'] }],
    ['/storages/local', { config: { path: localPath } }],
  ] as const)
    assert.equal((await call('PATCH', path, { cookie: editor }, body)).status, 403, `editors do not PATCH ${path}`);
}
