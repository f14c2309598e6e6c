import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PgTarget } from '../../lib/pg/connection.ts';
import { updateDatabaseInput } from '../../services/databases/input.ts';
import { changedTarget } from '../../services/databases/update.ts';

const storedTarget: PgTarget = { host: 'db.internal', port: 5432, database: 'shop', user: 'reader', password: 'old' };
const catalog = { databaseTarget: async () => ({ ...storedTarget }) };
const targetAfter = (raw: unknown) => changedTarget(catalog, 'shop', updateDatabaseInput.parse(raw));

describe('a database update', () => {
  it('refuses an empty change and fields it does not know', () => {
    const empty = updateDatabaseInput.safeParse({ skipCheck: true });
    assert.equal(empty.success, false);
    assert.match(empty.error!.issues[0]!.message, /^nothing to change/);
    assert.equal(updateDatabaseInput.safeParse({ host: 'other' }).success, false, 'a field it does not know');
    assert.equal(updateDatabaseInput.safeParse({ name: 'Not A Name' }).success, false, 'a new name follows the rule');
    assert.equal(updateDatabaseInput.safeParse({ name: 'other' }).success, true, 'a rename is a change');
  });

  it('reads one storage name as a list of one', () => {
    assert.deepEqual(updateDatabaseInput.parse({ storages: 's3' }).storages, ['s3']);
  });

  it('leaves the connection alone unless the URL or the password changes', async () => {
    assert.equal(await targetAfter({ verifyAfterBackup: false }), undefined);
  });

  it('replaces the password alone, or keeps the stored one for a URL to the same server', async () => {
    assert.deepEqual(await targetAfter({ password: 'new' }), { ...storedTarget, password: 'new' });
    const renamed = await targetAfter({ url: 'postgres://backup@db.internal:5432/shop2' });
    assert.deepEqual([renamed?.user, renamed?.database, renamed?.password], ['backup', 'shop2', 'old']);
    const moved = await targetAfter({ url: 'postgres://reader@db2.internal:6432/shop', password: 'given' });
    assert.deepEqual([moved?.host, moved?.port, moved?.password], ['db2.internal', 6432, 'given']);
    const both = await targetAfter({ url: 'postgres://reader:in-url@db2.internal/shop', password: 'given' });
    assert.equal(both?.password, 'given', 'an explicit password wins over the one in the URL');
  });

  it('never sends the stored password to another server: a URL to another host or port needs it again', async () => {
    for (const url of ['postgres://reader@attacker.example/shop', 'postgres://reader@db.internal:6543/shop'])
      await assert.rejects(
        targetAfter({ url }),
        /the connection moves from db\.internal:5432 to .*give its password again/,
      );
  });
});
