import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extensionRequests, parseTocList, planLoad } from '../../lib/verify/archive-toc.ts';
import { classifyRestoreErrors, parseRestoreErrors } from '../../lib/verify/restore-errors.ts';

// As `pg_restore -l` prints it (PostgreSQL 15).
const LIST = `;
; Archive created at 2026-12-06 11:09:57 UTC
;     dbname: shop
;
8; 2615 16512 SCHEMA - ext postgres
2; 3079 16384 EXTENSION - hstore 
3500; 0 0 COMMENT - EXTENSION hstore 
3; 3079 16513 EXTENSION - pg_trgm 
220; 1255 16600 FUNCTION public payload(integer) attacker
217; 1259 16594 TABLE public t postgres
218; 1259 16599 MATERIALIZED VIEW public mv postgres
3491; 0 16594 TABLE DATA public t postgres
3492; 0 16599 MATERIALIZED VIEW DATA public mv postgres
3300; 1259 16700 INDEX public t_expr postgres
3400; 3466 16800 EVENT TRIGGER - note_ddl postgres
3401; 0 0 ACL - SCHEMA public pg_database_owner
`;

describe('loading a dump as a role without privileges: the plan', () => {
  it('reads every entry of the list, with multi-word types and owners stripped', () => {
    const entries = parseTocList(LIST);
    assert.equal(entries.length, 12);
    assert.deepEqual(entries.map((e) => [e.dumpId, e.type, e.schema, e.name]).slice(0, 5), [
      [8, 'SCHEMA', null, 'ext'],
      [2, 'EXTENSION', null, 'hstore'],
      [3500, 'COMMENT', null, 'EXTENSION hstore'],
      [3, 'EXTENSION', null, 'pg_trgm'],
      [220, 'FUNCTION', 'public', 'payload(integer)'],
    ]);
    assert.deepEqual(entries.find((e) => e.dumpId === 3492)!.type, 'MATERIALIZED VIEW DATA');
    assert.deepEqual(entries.find((e) => e.dumpId === 3400)!.type, 'EVENT TRIGGER');
  });

  it('leaves out extensions (made beforehand), their comments, schemas made for them, privileges, and superuser-only types by name', () => {
    const plan = planLoad(parseTocList(LIST), ['ext']);
    assert.deepEqual(plan.extensions, ['hstore', 'pg_trgm']);
    assert.deepEqual(
      plan.skipped.map((s) => [s.type, s.name]),
      [['EVENT TRIGGER', 'note_ddl']],
    );
    assert.deepEqual(
      plan.list
        .trim()
        .split('\n')
        .map((l) => Number(l.split(';')[0])),
      [220, 217, 218, 3491, 3492, 3300],
    );
  });

  it("takes only a name and a schema from the dump's CREATE EXTENSION lines", () => {
    const sql = `CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;\nCREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA "My Ext";\nCREATE EXTENSION IF NOT EXISTS x WITH SCHEMA public; DROP TABLE y;\n`;
    assert.deepEqual(extensionRequests(sql), [
      { name: 'hstore', schema: 'public' },
      { name: 'uuid-ossp', schema: 'My Ext' },
    ]);
  });

  it('ties each error to its entry: lost data fails, privilege refusals and what depends on them are refused, the rest fails', () => {
    const stderr = `pg_restore: creating FUNCTION "public.payload(integer)"
pg_restore: while PROCESSING TOC:
pg_restore: from TOC entry 220; 1255 16600 FUNCTION payload(integer) attacker
pg_restore: error: could not execute query: ERROR:  permission denied for language c
Command was: CREATE FUNCTION public.payload(integer) ...
pg_restore: from TOC entry 3491; 0 16594 TABLE DATA t postgres
pg_restore: error: COPY failed for table "t": ERROR:  permission denied for function pg_read_file
CONTEXT:  PL/pgSQL function ...
pg_restore: from TOC entry 3492; 0 16599 MATERIALIZED VIEW DATA mv postgres
pg_restore: error: could not execute query: ERROR:  function public.payload(integer) does not exist
pg_restore: from TOC entry 3300; 1259 16700 INDEX t_expr postgres
pg_restore: error: could not execute query: ERROR:  division by zero
pg_restore: warning: errors ignored on restore: 4
`;
    const errors = parseRestoreErrors(stderr);
    assert.deepEqual(
      errors.map((e) => e.dumpId),
      [220, 3491, 3492, 3300],
    );
    const { refused, failed } = classifyRestoreErrors(errors, parseTocList(LIST));
    assert.deepEqual(
      refused.map((r) => `${r.type} ${r.name}`),
      ['FUNCTION public.payload(integer)', 'MATERIALIZED VIEW DATA public.mv'],
    );
    assert.deepEqual(
      failed.map((r) => [`${r.type} ${r.name}`, r.reason]),
      [
        ['TABLE DATA public.t', 'COPY failed for table "t": ERROR: permission denied for function pg_read_file'],
        ['INDEX public.t_expr', 'ERROR: division by zero'],
      ],
    );
  });
});
