import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { hbaConfigReferences, serverConfigReferences } from '../../lib/pitr/config-references.ts';
import { parseControlData } from '../../lib/pitr/control-data.ts';
import { confineRestoreDirectory } from '../../lib/pitr/restore-root.ts';
import { listenFor } from '../../lib/pitr/restored-server.ts';
import { RESTORED_HBA, confQuote, renderServerConfig, serverSettings } from '../../lib/pitr/server-config.ts';
import { readNoFollow, writeServerFile } from '../../lib/pitr/server-files.ts';
import { SOURCE_CONFIG_DIR, setSourceConfigAside } from '../../lib/pitr/source-config.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempDir = async (prefix: string) => {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

/** pg_controldata 15's output (LC_ALL=C), abridged to the lines around the settings. */
const CONTROLDATA = `pg_control version number:            1300
Database system identifier:           7716146213071516447
Database cluster state:               in production
Backup start location:                0/0
wal_level setting:                    logical
wal_log_hints setting:                off
max_connections setting:              250
max_worker_processes setting:         16
max_wal_senders setting:              10
max_prepared_xacts setting:           5
max_locks_per_xact setting:           128
track_commit_timestamp setting:       off
Bytes per WAL segment:                16777216
`;

const control = {
  wal_level: 'replica',
  max_connections: 100,
  max_worker_processes: 8,
  max_wal_senders: 10,
  max_prepared_transactions: 0,
  max_locks_per_transaction: 64,
} as const;

describe("restored server configuration: pg_control, the allow-list, the source's files", () => {
  it('reads the settings recovery must match from pg_controldata, and fails naming a missing one', () => {
    assert.deepEqual(parseControlData(CONTROLDATA), {
      wal_level: 'logical',
      max_connections: 250,
      max_worker_processes: 16,
      max_wal_senders: 10,
      max_prepared_transactions: 5,
      max_locks_per_transaction: 128,
    });
    assert.throws(
      () => parseControlData(CONTROLDATA.replace(/max_locks_per_xact setting:.*\n/, '')),
      /max_locks_per_xact setting: missing.*global\/pg_control is damaged/,
    );
    assert.throws(
      () =>
        parseControlData(
          CONTROLDATA.replace(
            'max_connections setting:              250',
            'max_connections setting:              lots',
          ),
        ),
      /max_connections setting: lots/,
    );
  });

  it("writes only allow-listed settings: pg_control's limits, loopback or a private socket, no archiving, no event triggers on 17+, syncfs on Linux 14+", () => {
    const sandbox = serverSettings({
      dataDir: '/r/data',
      major: 15,
      port: 5440,
      listen: { kind: 'socket', socketDir: '/r' },
      control: { ...control, max_connections: 2 },
      linux: true,
    });
    assert.equal(sandbox.recovery_init_sync_method, 'syncfs', 'one syncfs instead of an fsync per extracted file');
    assert.equal(sandbox.listen_addresses, "''", 'a sandbox has no TCP');
    assert.equal(sandbox.unix_socket_directories, "'/r'");
    assert.equal(sandbox.unix_socket_permissions, '0700');
    assert.equal(sandbox.hba_file, "'/r/data/pg_hba.conf'");
    assert.equal(sandbox.ident_file, "'/r/data/pg_ident.conf'");
    assert.equal(sandbox.archive_mode, 'off');
    assert.equal(sandbox.max_connections, '2');
    assert.equal(sandbox.superuser_reserved_connections, '1', 'kept below max_connections');
    assert.equal(sandbox.event_triggers, undefined, 'no such setting before 17');
    const kept = serverSettings({
      dataDir: '/srv/r',
      major: 17,
      port: 5441,
      listen: { kind: 'loopback', socketDir: null },
      control,
    });
    assert.equal(kept.listen_addresses, "'127.0.0.1'");
    assert.equal(kept.unix_socket_directories, "''");
    assert.equal(kept.event_triggers, 'off');
    const old = serverSettings({
      dataDir: '/r/data',
      major: 13,
      port: 5442,
      listen: { kind: 'socket', socketDir: '/r' },
      control,
      linux: true,
    });
    assert.equal(old.recovery_init_sync_method, undefined, 'no such setting before 14');
    const elsewhere = serverSettings({
      dataDir: '/r/data',
      major: 17,
      port: 5443,
      listen: { kind: 'socket', socketDir: '/r' },
      control,
      linux: false,
    });
    assert.equal(elsewhere.recovery_init_sync_method, undefined, 'syncfs is Linux only');
    assert.equal(kept.wal_level, 'replica');
    const text = renderServerConfig(kept);
    assert.match(text, /\nmax_locks_per_transaction = 64\n/);
    assert.doesNotMatch(text, /include|preload|_command|trust/);
    assert.throws(
      () => renderServerConfig({ ...kept, shared_preload_libraries: "'evil'" }),
      /setting shared_preload_libraries is not on the restored server's allow-list/,
    );
    assert.throws(
      () => renderServerConfig({ ...kept, restore_command: "'x'\ninclude '/etc/evil'" }),
      /cannot be written safely/,
    );
    assert.throws(() => renderServerConfig({ ...kept, port: '5432 include' }), /cannot be written safely/);
    // The parser reads backslash escapes inside quotes: a shell-quoted quote survives as written.
    assert.equal(confQuote(String.raw`'it'\''s'`), String.raw`'''it''\\''''s'''`);
    assert.throws(() => renderServerConfig({ restore_command: String.raw`'a\'` }), /cannot be written safely/);
  });

  it('authenticates every local connection with a password, never trust', () => {
    const rules = RESTORED_HBA.split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(rules, [
      ['local', 'all', 'all', 'md5'],
      ['host', 'all', 'all', '127.0.0.1/32', 'md5'],
      ['host', 'all', 'all', '::1/128', 'md5'],
      ['local', 'replication', 'all', 'md5'],
      ['host', 'replication', 'all', '127.0.0.1/32', 'md5'],
      ['host', 'replication', 'all', '::1/128', 'md5'],
    ]);
  });

  it("puts a sandbox's socket in its own directory, and a kept directory's in the data directory when the path fits", () => {
    assert.deepEqual(listenFor({ sandboxDir: '/tmp/s/pitr-1', dataDir: '/tmp/s/pitr-1/data', port: 5432 }), {
      kind: 'socket',
      socketDir: '/tmp/s/pitr-1',
    });
    assert.deepEqual(listenFor({ sandboxDir: null, dataDir: '/srv/r', port: 5432 }), {
      kind: 'loopback',
      socketDir: '/srv/r',
    });
    const deep = `/${'d'.repeat(100)}`;
    assert.deepEqual(listenFor({ sandboxDir: null, dataDir: deep, port: 5432 }), { kind: 'loopback', socketDir: null });
    assert.throws(
      () => listenFor({ sandboxDir: deep, dataDir: `${deep}/data`, port: 5432 }),
      /too deep for a unix socket path/,
    );
  });

  it('finds what configuration files include', () => {
    const server = serverConfigReferences(
      [
        "include 'a.conf'",
        "include_if_exists = '/etc/b.conf'  # comment",
        "INCLUDE_DIR 'conf.d'",
        'include plain.conf',
        "hba_file = '/srv/hba.conf'",
        "# include 'commented.conf'",
        "work_mem = '4MB'",
        "include 'it''s.conf'",
      ].join('\n'),
    );
    assert.deepEqual(
      server.map((r) => [r.path, r.directory, r.kind]),
      [
        ['a.conf', false, 'server'],
        ['/etc/b.conf', false, 'server'],
        ['conf.d', true, 'server'],
        ['plain.conf', false, 'server'],
        ['/srv/hba.conf', false, 'hba'],
        ["it's.conf", false, 'server'],
      ],
    );
    const hba = hbaConfigReferences(
      ['include_dir hba.d', 'host all @admins,@"more users" 10.0.0.0/8 md5', '# @ignored', 'local all all peer'].join(
        '\n',
      ),
    );
    assert.deepEqual(
      hba.map((r) => [r.path, r.directory]),
      [
        ['hba.d', true],
        ['admins', false],
      ],
    );
  });

  it("moves the source's files and what they include aside, without reading through links or leaving the data directory", async () => {
    const root = await tempDir('pitr-aside-');
    const dataDir = path.join(root, 'data');
    await mkdir(path.join(dataDir, 'global'), { recursive: true });
    await mkdir(path.join(dataDir, 'conf.d'));
    await writeFile(path.join(dataDir, 'global', 'pg_control'), 'control');
    await writeFile(path.join(root, 'outside.conf'), "archive_command = 'outside'\n");
    await writeFile(
      path.join(dataDir, 'postgresql.conf'),
      [
        "include 'extra.conf'",
        "include_dir 'conf.d'",
        "include '../outside.conf'",
        "include_if_exists 'global/pg_control'",
        "include 'linked.conf'",
      ].join('\n'),
    );
    await writeFile(path.join(dataDir, 'extra.conf'), "include 'nested.conf'\n");
    await writeFile(path.join(dataDir, 'nested.conf'), "recovery_end_command = 'x'\n");
    await writeFile(path.join(dataDir, 'conf.d', 'a.conf'), "shared_preload_libraries = 'x'\n");
    // A link in the archive: moved as a link, never read (its target may be any file of the host).
    await symlink(path.join(root, 'outside.conf'), path.join(dataDir, 'linked.conf'));
    await symlink('/etc/shadow', path.join(dataDir, 'postgresql.auto.conf'));
    await writeFile(path.join(dataDir, 'pg_hba.conf'), 'local all all trust\n');
    // A source that was itself restored by Hindsight.
    await mkdir(path.join(dataDir, SOURCE_CONFIG_DIR));
    await writeFile(path.join(dataDir, SOURCE_CONFIG_DIR, 'postgresql.conf'), 'older\n');

    const aside = await setSourceConfigAside(dataDir);
    assert.deepEqual(aside.kept.sort(), [
      'conf.d',
      'extra.conf',
      `${SOURCE_CONFIG_DIR} (kept by an earlier restore of the source itself)`,
      'linked.conf',
      'nested.conf',
      'pg_hba.conf',
      'postgresql.auto.conf',
      'postgresql.conf',
    ]);
    assert.deepEqual((await readdir(dataDir)).sort(), ['global', SOURCE_CONFIG_DIR]);
    const kept = path.join(dataDir, SOURCE_CONFIG_DIR);
    assert.equal(await readlink(path.join(kept, 'postgresql.auto.conf')), '/etc/shadow', 'the link itself moved');
    assert.equal(await readFile(path.join(kept, 'conf.d', 'a.conf'), 'utf8'), "shared_preload_libraries = 'x'\n");
    assert.equal(await readFile(path.join(kept, SOURCE_CONFIG_DIR, 'postgresql.conf'), 'utf8'), 'older\n');
    assert.equal(
      await readFile(path.join(dataDir, 'global', 'pg_control'), 'utf8'),
      'control',
      'a part of the cluster stays',
    );
    assert.equal(
      await readFile(path.join(root, 'outside.conf'), 'utf8'),
      "archive_command = 'outside'\n",
      'a file outside stays where it is',
    );
    const readme = await readFile(path.join(kept, 'HINDSIGHT-README.txt'), 'utf8');
    assert.match(readme, /\.\.\/outside\.conf \(named in postgresql\.conf\): outside the data directory, not copied/);
    assert.match(readme, /global\/pg_control .*part of the cluster itself/);
  });

  it('never reads or writes through a link left in the data directory', async () => {
    const root = await tempDir('pitr-links-');
    await writeFile(path.join(root, 'secret'), 'secret');
    await symlink(path.join(root, 'secret'), path.join(root, 'link'));
    assert.equal(await readNoFollow(path.join(root, 'link')), undefined);
    await writeServerFile(path.join(root, 'link'), 'mine');
    assert.equal(await readFile(path.join(root, 'secret'), 'utf8'), 'secret', "the link's target is untouched");
    assert.ok((await lstat(path.join(root, 'link'))).isFile(), 'a new file replaced the link');
  });

  it('confines restore directories to the restore roots, through links and ..', async () => {
    const root = await tempDir('pitr-root-');
    const allowed = path.join(root, 'restores');
    await mkdir(allowed);
    await mkdir(path.join(root, 'elsewhere'));
    await symlink(path.join(root, 'elsewhere'), path.join(allowed, 'escape'));
    assert.equal(
      await confineRestoreDirectory(path.join(allowed, 'new', 'dir'), [allowed]),
      path.join(allowed, 'new', 'dir'),
    );
    await assert.rejects(
      confineRestoreDirectory('/etc/cron.d/x', [allowed]),
      /restore directory \/etc\/cron\.d\/x is outside the restore root of this worker \(.*restores\): choose a directory under it, or set HINDSIGHT_RESTORE_ROOT/,
    );
    await assert.rejects(
      confineRestoreDirectory(path.join(allowed, 'escape', 'x'), [allowed]),
      /\(really .*elsewhere\/x\) is outside the restore root/,
    );
    await assert.rejects(
      confineRestoreDirectory(path.join(allowed, '..', 'elsewhere', 'x'), [allowed]),
      /is outside the restore root/,
    );
    await assert.rejects(
      confineRestoreDirectory(allowed, [allowed]),
      /is outside the restore root/,
      'the root itself is not a restore directory',
    );
    assert.equal(
      await confineRestoreDirectory(path.join(root, 'elsewhere', 'x'), [allowed, path.join(root, 'elsewhere')]),
      path.join(root, 'elsewhere', 'x'),
    );
  });
});
