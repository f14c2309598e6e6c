/** GET /api/v1/databases one page at a time: the pages in turn are the whole list, in name order. */
import assert from 'node:assert/strict';
import { operatorActor } from '../../services/authz.ts';
import { actorOps } from './actor-ops.ts';
import type { Answer } from './api-v1-client.ts';
import type { Platform } from './platform.ts';

type Call = (method: string, path: string, auth: { cookie: string }) => Promise<Answer>;

const namesIn = (body: unknown) => (body as Array<{ name: string }>).map((d) => d.name);

/** Five more databases registered at `url`, then the list read by pages of two until a short one. */
export async function assertDatabasePaging(
  platform: Platform,
  url: string,
  call: Call,
  cookies: { owner: () => Promise<string>; editor: () => string },
) {
  const operator = actorOps(platform.services, operatorActor('test'));
  const names = ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'];
  for (const name of names) await operator.addDatabase({ name, url, storages: 'local', verifyAfterBackup: false });
  const owner = { cookie: await cookies.owner() };
  const all = namesIn((await call('GET', '/databases', owner)).body);
  const paged: string[] = [];
  const sizes: number[] = [];
  for (let after: string | undefined; ;) {
    const answer = await call('GET', `/databases?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`, owner);
    assert.equal(answer.status, 200, answer.text);
    const page = namesIn(answer.body);
    sizes.push(page.length);
    paged.push(...page);
    if (page.length < 2) break;
    after = page.at(-1);
  }
  assert.deepEqual(paged, all, 'the pages, in turn, are the whole list');
  assert.deepEqual(paged, [...paged].sort(), 'in name order');
  assert.ok(names.every((n) => paged.includes(n)));
  assert.ok(
    sizes.slice(0, -1).every((n) => n === 2),
    `pages of ${sizes.join(', ')}`,
  );
  const refused = await call('GET', '/databases?limit=0', owner);
  assert.equal(refused.status, 400, refused.text);
  const editor = await call('GET', '/databases?limit=1000', { cookie: cookies.editor() });
  assert.deepEqual(namesIn(editor.body), all, 'an editor of the same workspace reads the same');
}
