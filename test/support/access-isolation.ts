/** What each workspace's owner sees of the other workspace in lists and overviews: nothing. */
import assert from 'node:assert/strict';
import type { Answer, RequestOptions } from './access-fixture.ts';

type Request = (method: string, url: string, options?: RequestOptions) => Promise<Answer>;

/**
 * `owner` (of `default`) and `blue` (owner of `blue`) each list, page and overview only their own
 * workspace's databases, storages and backups.
 */
export async function assertListingsStayInWorkspace(
  request: Request,
  cookies: Map<string, string>,
  backups: { shopBackup: string; hrBackup: string },
): Promise<void> {
  const { shopBackup, hrBackup } = backups;
  const owner = cookies.get('owner');
  const names = async (url: string, cookie = owner) =>
    ((await request('GET', url, { cookie })).body as Array<{ name: string }>).map((x) => x.name);
  assert.ok(!(await names('/api/v1/databases')).includes('secret-hr'));
  assert.ok(!(await names('/api/v1/storages')).includes('bluestore'));
  assert.deepEqual(
    await names('/api/v1/databases', cookies.get('blue')),
    ['blue-cli', 'secret-hr'],
    'workspace blue: its two databases and nothing of default',
  );
  assert.deepEqual(await names('/api/v1/storages', cookies.get('blue')), ['bluestore']);
  const page = await request('GET', '/', { cookie: owner });
  assert.equal(page.status, 200);
  assert.ok(!String(page.body).includes('secret-hr') && !String(page.body).includes(hrBackup));
  const overview = await request('GET', '/api/v1/overview', { cookie: owner });
  assert.ok(!JSON.stringify(overview.body).includes('secret-hr'));
  assert.ok((overview.body as { backups: Array<{ id: string }> }).backups.some((b) => b.id === shopBackup));
  const blueOverview = await request('GET', '/api/v1/overview', { cookie: cookies.get('blue') });
  assert.deepEqual(
    [
      ...new Set(
        (blueOverview.body as { backups: Array<{ databaseName: string }> }).backups.map((b) => b.databaseName),
      ),
    ],
    ['secret-hr'],
  );
}
