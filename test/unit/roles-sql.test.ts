import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseRolesDocument,
  rolesDocumentSchema,
  type RolesDocument,
  type StoredRole,
} from '../../lib/backup/roles.ts';
import { createRoleSql, grantMembershipSql, planRoles, roleSettingsSql } from '../../lib/backup/roles-sql.ts';
import { HindsightError } from '../../lib/errors.ts';
import { storedRole } from '../support/owners-fixture.ts';

const hostile = '"x"; drop table y; --"';

const role = storedRole;

const doc = (roles: StoredRole[], memberships: RolesDocument['memberships'] = []): RolesDocument => ({
  format: 'hindsight-roles',
  formatVersion: 1,
  roles,
  memberships,
});

describe('role SQL generated from a backup', () => {
  it('quotes a hostile role name as one identifier, doubling its quotes', () => {
    const sql = createRoleSql(role(hostile, { login: true }), { privileged: false });
    assert.equal(
      sql,
      'CREATE ROLE """x""; drop table y; --""" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1',
    );
    assert.equal(
      grantMembershipSql({ role: hostile, member: 'a"b', adminOption: true }),
      'GRANT """x""; drop table y; --""" TO "a""b" WITH ADMIN OPTION',
    );
  });

  it('quotes setting values and validity as literals, backslashes included', () => {
    const r = role('app', {
      validUntil: '2030-01-01T00:00:00.000000Z',
      settings: [
        { scope: 'database', name: 'search_path', value: "a'; drop role x; --" },
        { scope: 'all', name: 'app.mode', value: 'c:\\x' },
      ],
    });
    assert.match(createRoleSql(r, { privileged: false }), / VALID UNTIL '2030-01-01T00:00:00\.000000Z'$/);
    assert.deepEqual(roleSettingsSql(r, 'shop"copy'), [
      `ALTER ROLE "app" IN DATABASE "shop""copy" SET "search_path" TO 'a''; drop role x; --'`,
      `ALTER ROLE "app" SET "app.mode" TO  E'c:\\\\x'`,
    ]);
  });

  it('leaves out settings that would load a library on the target, unless privileged roles are allowed', () => {
    const app = role('app', {
      settings: [
        { scope: 'all', name: 'session_preload_libraries', value: '/tmp/evil.so' },
        { scope: 'all', name: 'work_mem', value: '64MB' },
      ],
    });
    const plan = planRoles(doc([app]), [], { privileged: false, targetDatabase: 'shop' });
    const settings = plan.statements.filter((st) => st.sql.startsWith('ALTER ROLE')).map((st) => st.sql);
    assert.deepEqual(settings, [`ALTER ROLE "app" SET "work_mem" TO '64MB'`]);
    assert.deepEqual(
      plan.skipped.map((sk) => sk.what),
      ['setting session_preload_libraries of role "app"'],
    );
    const privileged = planRoles(doc([app]), [], { privileged: true, targetDatabase: 'shop' });
    assert.equal(privileged.statements.filter((st) => st.sql.startsWith('ALTER ROLE')).length, 2);
  });

  it('keeps SUPERUSER, REPLICATION and BYPASSRLS only when privileged roles are allowed', () => {
    const boss = role('boss', { superuser: true, replication: true, bypassRls: true });
    assert.match(createRoleSql(boss, { privileged: false }), /NOSUPERUSER .*NOREPLICATION NOBYPASSRLS/);
    assert.match(createRoleSql(boss, { privileged: true }), /WITH SUPERUSER .* REPLICATION BYPASSRLS/);
    const plan = planRoles(doc([boss]), [], { privileged: false, targetDatabase: 'shop' });
    assert.deepEqual(plan.skipped, [
      {
        what: 'SUPERUSER, REPLICATION, BYPASSRLS of role "boss"',
        reason: 'privileged attributes are restored only with --with-privileged-roles',
      },
    ]);
  });

  it('leaves existing roles alone and grants memberships only to roles it creates, never into privileged ones', () => {
    const plan = planRoles(
      doc(
        [role('owner_a'), role('reader'), role('pg_monitor'), role('admin')],
        [
          { role: 'reader', member: 'owner_a', adminOption: true },
          { role: 'admin', member: 'owner_a', adminOption: false },
          { role: 'pg_monitor', member: 'owner_a', adminOption: false },
          { role: 'owner_a', member: 'admin', adminOption: false },
        ],
      ),
      [
        { name: 'admin', privileged: true },
        { name: 'pg_monitor', privileged: false },
      ],
      { privileged: false, targetDatabase: 'shop' },
    );
    assert.deepEqual(
      plan.create.map((r) => r.name),
      ['owner_a', 'reader'],
    );
    assert.deepEqual(plan.existing, ['pg_monitor', 'admin']);
    assert.deepEqual(
      plan.statements.map((s) => s.sql).filter((s) => s.startsWith('GRANT')),
      ['GRANT "reader" TO "owner_a" WITH ADMIN OPTION'],
    );
    assert.deepEqual(
      plan.skipped.map((s) => s.what),
      ['membership of "owner_a" in "admin"', 'membership of "owner_a" in "pg_monitor"'],
    );
  });
});

describe('the roles document read from storage', () => {
  const good = doc([role('app', { settings: [{ scope: 'all', name: 'work_mem', value: '64MB' }] })]);

  it('accepts what a backup writes', () => {
    assert.deepEqual(parseRolesDocument(JSON.stringify(good), 'x'), good);
  });

  it('refuses malformed input, naming where', () => {
    const cases: Array<[string, unknown]> = [
      ['not JSON', '{'],
      ['unknown field', { ...good, sql: 'drop table y' }],
      ['role with a field too many', doc([{ ...role('a'), password: 'x' } as StoredRole])],
      ['name over 63 bytes', doc([role('é'.repeat(32))])],
      ['empty name', doc([role('')])],
      ['setting name that needs quoting', doc([role('a', { settings: [{ scope: 'all', name: 'a"; x', value: '' }] })])],
      ['validity that is not a time', doc([role('a', { validUntil: "now'); drop" })])],
      ['role listed twice', doc([role('a'), role('a')])],
      ['attribute that is not a boolean', doc([{ ...role('a'), superuser: 'yes' } as unknown as StoredRole])],
      ['other format', { ...good, format: 'pg_dumpall' }],
    ];
    for (const [what, input] of cases) {
      assert.equal(rolesDocumentSchema.safeParse(input).success, false, what);
      const text = typeof input === 'string' ? input : JSON.stringify(input);
      assert.throws(
        () => parseRolesDocument(text, "'shop/r.roles.hsb'"),
        (e: unknown) => e instanceof HindsightError && e.kind === 'integrity' && /shop\/r\.roles\.hsb/.test(e.message),
        what,
      );
    }
  });
});
