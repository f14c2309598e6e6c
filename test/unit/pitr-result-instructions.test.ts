import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { pitrInputFromFlags } from '../../cli/pitr-restore.ts';
import {
  describeInstructions,
  pitrInstructions,
  type RestoredServerFacts,
} from '../../lib/pitr/result-instructions.ts';

const facts: RestoredServerFacts = {
  host: '127.0.0.1',
  port: 54321,
  dataDirectory: '/srv/restores/shop at 10:00',
  postgresVersion: 17,
  pgCtl: '/usr/lib/postgresql/17/bin/pg_ctl',
  osUser: null,
  user: 'app owner',
  dbname: 'shop',
  running: true,
  clientTools: {
    psql: '/usr/lib/postgresql/17/bin/psql',
    pgDump: '/usr/lib/postgresql/17/bin/pg_dump',
    pgRestore: '/usr/lib/postgresql/17/bin/pg_restore',
  },
};

/** The words a POSIX shell makes of a command line (printed, one a line, by the shell itself). */
const shellWords = (line: string): string[] =>
  execFileSync('sh', ['-c', `for w in ${line}; do printf '%s\\n' "$w"; done`], { encoding: 'utf8' })
    .split('\n')
    .slice(0, -1);

describe('the instructions of a kept point-in-time restore', () => {
  it('a running server: where it listens, a password-less URL, and the pg_ctl stop of its own version and directory', () => {
    const i = pitrInstructions(facts);
    assert.deepEqual(i.listening, {
      host: '127.0.0.1',
      port: 54321,
      dataDirectory: '/srv/restores/shop at 10:00',
      postgresVersion: 17,
    });
    assert.equal(i.connectionUrl, 'postgresql://app%20owner@127.0.0.1:54321/shop?sslmode=disable');
    assert.equal(new URL(i.connectionUrl).password, '');
    assert.deepEqual(shellWords(i.psql), ['/usr/lib/postgresql/17/bin/psql', i.connectionUrl]);
    assert.deepEqual(shellWords(i.stop!), [
      '/usr/lib/postgresql/17/bin/pg_ctl',
      'stop',
      '-D',
      '/srv/restores/shop at 10:00',
      '-m',
      'fast',
    ]);
    assert.equal(i.start, null);
    assert.match(i.password, /role "app owner" on the source database/);
  });

  it('the copy into production dumps with the pg_dump found for the server’s version and restores into the placeholder URL', () => {
    const [dump, restore] = pitrInstructions(facts).copyToProduction.split(' | ');
    assert.deepEqual(shellWords(dump!), [
      '/usr/lib/postgresql/17/bin/pg_dump',
      '--format=custom',
      'postgresql://app%20owner@127.0.0.1:54321/shop?sslmode=disable',
    ]);
    assert.deepEqual(shellWords(restore!), [
      '/usr/lib/postgresql/17/bin/pg_restore',
      '--no-owner',
      '--no-privileges',
      '--dbname=<production-url>',
    ]);
  });

  it('a stopped server run by another OS user: the start command runs pg_ctl as that user, with the log in the directory', () => {
    const i = pitrInstructions({ ...facts, running: false, osUser: 'hindsight-sandbox', dataDirectory: '/srv/r' });
    assert.equal(i.stop, null);
    assert.deepEqual(shellWords(i.start!), [
      'runuser',
      '-u',
      'hindsight-sandbox',
      '--',
      '/usr/lib/postgresql/17/bin/pg_ctl',
      'start',
      '-D',
      '/srv/r',
      '-l',
      '/srv/r/hindsight-restore.log',
    ]);
    assert.ok(!i.psql.startsWith('runuser'), 'any user may connect');
  });

  it('the text names each command once, with stop or start by the server’s state', () => {
    const running = describeInstructions(pitrInstructions(facts));
    assert.match(
      running,
      /^PostgreSQL 17 listens on 127\.0\.0\.1:54321, data directory \/srv\/restores\/shop at 10:00$/m,
    );
    assert.ok(running.includes(`stop:       ${pitrInstructions(facts).stop}`));
    assert.ok(!running.includes('start:'));
    const stopped = describeInstructions(pitrInstructions({ ...facts, running: false }));
    assert.match(stopped, /^PostgreSQL 17 is stopped/m);
    assert.ok(stopped.includes(`start:      ${pitrInstructions({ ...facts, running: false }).start}`));
    assert.ok(!stopped.includes('stop:'));
  });
});

describe('hindsight restore --then-stop', () => {
  it('rides in the directory destination, and is refused for a sandbox', () => {
    assert.deepEqual(pitrInputFromFlags('shop', { latest: true, to: '/srv/r', 'then-stop': true }).to, {
      directory: '/srv/r',
      thenStop: true,
    });
    assert.deepEqual(pitrInputFromFlags('shop', { latest: true, to: '/srv/r' }).to, { directory: '/srv/r' });
    assert.throws(
      () => pitrInputFromFlags('shop', { latest: true, 'to-sandbox': true, 'then-stop': true }),
      /--then-stop applies to a restore into a directory/,
    );
  });
});
