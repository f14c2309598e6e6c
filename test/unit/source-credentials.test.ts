/**
 * A database gets the credentials stored for it and nothing of the connecting process's own: no
 * PGPASSWORD, no password or service file, no PG* setting (test/integration/db-update.test.ts
 * proves it against a server that asks for a password).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { clientConfig, libpqChildEnv, type PgTarget } from '../../lib/pg/connection.ts';

const target: PgTarget = { host: 'db.internal', port: 5432, database: 'shop', user: 'reader' };
const ambient = {
  PATH: '/usr/bin:/bin',
  HOME: '/root',
  PGPASSWORD: 'someone-elses',
  PGPASSFILE: '/root/.pgpass',
  PGSERVICE: 'prod',
  PGSSLMODE: 'disable',
  PGOPTIONS: '-c search_path=evil',
};

describe('connections to a database use its stored credentials only', () => {
  it('gives a libpq tool no PG* variable of this process, and a password file that cannot exist', () => {
    const env = libpqChildEnv(target, ambient);
    assert.equal(env.PGPASSWORD, undefined);
    assert.equal(env.PGSERVICE, undefined);
    assert.equal(env.PGSSLMODE, undefined);
    assert.equal(env.PGOPTIONS, undefined);
    assert.ok(env.PGPASSFILE && !existsSync(env.PGPASSFILE), env.PGPASSFILE);
    assert.deepEqual([env.PATH, env.HOME, env.PGHOST, env.PGUSER], ['/usr/bin:/bin', '/root', 'db.internal', 'reader']);
    assert.equal(libpqChildEnv({ ...target, password: 'stored' }, ambient).PGPASSWORD, 'stored');
  });

  it('answers a password request with the stored password, or a refusal instead of PGPASSWORD or ~/.pgpass', async () => {
    assert.equal(clientConfig({ ...target, password: 'stored' }).password, 'stored');
    const password = clientConfig(target).password;
    assert.equal(typeof password, 'function', 'node-postgres calls it instead of reading the environment');
    await assert.rejects(async () => (password as () => Promise<string>)(), /none is stored/);
    assert.equal(clientConfig(target).ssl, false, 'PGSSLMODE of this process is not read either');
  });
});
