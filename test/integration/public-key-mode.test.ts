/**
 * Public-key mode end to end: a database whose backups, WAL and base backups are encrypted for an
 * X25519 recipient, by its own setting or by its workspace's default (set in the console for a
 * database already registered). The worker that writes them holds only the public key, cannot
 * read them back (tried, message checked), and skips their verification saying why; the storage
 * plus the identity file restore the database table for table, with Hindsight and with the Python
 * reference decryptor. The workspace page and the API say who can decrypt each database.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { decodeHeader } from '../../lib/crypto/backup-header.ts';
import { generateIdentity } from '../../lib/crypto/wrap/x25519-keys.ts';
import { operatorActor } from '../../services/authz.ts';
import { connect, serverInfo, targetUrl } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import type { WalArchiverInput } from '../../temporal/contracts/pitr.ts';
import { startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { tableHashes, type TableHashes } from '../support/guide-platform.ts';
import { startPlatform, createDatabase, type Platform } from '../support/platform.ts';
import {
  startPitrSource,
  stopPitrPlatform,
  takeBaseBackup,
  waitUntilArchived,
  type PitrSource,
} from '../support/pitr-fixture.ts';
import { extractReferenceDecryptor, pythonWithCryptography } from '../support/reference-decryptor.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');
const DATABASE = 'vault';

const refusalOf = (command: string, args: string[]) =>
  run(command, args).then(
    () => '',
    (error: { stderr: string }) => error.stderr,
  );

/** Every file below `dir`, as paths relative to it. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** `database`: the database's own setting; `workspace`: its workspace's default, set once it is registered. */
type Variant = 'database' | 'workspace';

for (const variant of ['database', 'workspace'] as const satisfies Variant[])
  describe(`public-key mode (${variant}): backups and WAL the worker writes but cannot read`, () => {
    let platform: Platform;
    let web: SignedInConsole | undefined;
    let source: PitrSource;
    let backupId: string;
    let atBackup: TableHashes;
    let identityFile: string;
    const { recipient, fileText } = generateIdentity();
    const dumpFile = () => path.join(platform.backupsDir, DATABASE, `${backupId}.dump.hsb`);

    before(async () => {
      platform = await startPlatform();
      source = await startPitrSource(platform, DATABASE);
      await source.query(
        'create table accounts (id int primary key, owner text); insert into accounts select g, md5(g::text) from generate_series(1, 2000) g',
      );
      await source.query("insert into events (at, note) select now(), 'row ' || g from generate_series(1, 50) g");
      identityFile = path.join(platform.dir, 'vault.identity');
      await writeFile(identityFile, fileText, { mode: 0o600 });
      await platform.startWorker();
      await platform.ops.addDatabase({
        name: DATABASE,
        url: targetUrl(source.target),
        ...(variant === 'database' ? { encryption: { mode: 'public-key', recipient } as const } : {}),
      });
      if (variant === 'workspace') {
        web = await startSignedInConsole(platform);
        const answer = await web.action('/workspaces/default?/encryption', { mode: 'public-key', value: recipient });
        assert.equal(answer.type, 'success', JSON.stringify(answer));
      }
      await platform.runtime.catalog.wal.updateSettings(DATABASE, { enabled: true, partialIntervalMs: 500 });
      const args: WalArchiverInput = { database: DATABASE };
      await platform.client.workflow.start('walArchiver', {
        taskQueue: platform.config.taskQueue,
        workflowId: `wal/${DATABASE}`,
        args: [args],
      });
      await takeBaseBackup(platform, DATABASE, 'first');
      atBackup = await tableHashes(source.target);
      backupId = (await (await platform.ops.startBackup(DATABASE)).result()).backupId;
      await waitUntilArchived(platform, source, 60_000);
    });

    after(async () => {
      await web?.close();
      if (platform) await stopPitrPlatform({ platform, source, database: DATABASE });
    });

    it('writes every object for the recipient: the dump, its roles, WAL and the base backup', async () => {
      const files = (await filesBelow(platform.backupsDir)).filter((f) => f.endsWith('.hsb'));
      const wal = files.filter((f) => /^pitr\/\d+\/wal\//.test(f));
      const base = files.filter((f) => /^pitr\/\d+\/base\//.test(f));
      assert.ok(wal.length > 0 && base.length > 0, `WAL and base backup objects in storage: ${files.join(', ')}`);
      for (const file of [`${DATABASE}/${backupId}.dump.hsb`, `${DATABASE}/${backupId}.roles.hsb`, ...wal, ...base]) {
        const header = decodeHeader(await readFile(path.join(platform.backupsDir, file)));
        assert.deepEqual(
          { version: header.version, kind: header.wrappedKey?.kind, keyRef: header.wrappedKey?.keyRef },
          { version: 3, kind: 'x25519', keyRef: recipient },
          file,
        );
      }
      const manifest = JSON.parse(await readFile(path.join(platform.backupsDir, DATABASE, `${backupId}.json`), 'utf8'));
      assert.equal(manifest.encryption.keyId, recipient);
    });

    it('the worker cannot decrypt them with the keys it holds, and is told what to do', async () => {
      const refused = await refusalOf(process.execPath, [
        cli,
        'decrypt',
        dumpFile(),
        '--key',
        platform.config.secretKeyFile,
        '-o',
        path.join(platform.dir, 'refused.dump'),
      ]);
      assert.match(
        refused,
        new RegExp(
          `encrypted for recipient ${recipient} \\(public-key mode\\) and no identity is at hand: only the private key can decrypt it; run again with --identity <file>`,
        ),
      );
      const verification = await waitFor(
        'the verification after the backup',
        async () =>
          (await platform.ops.listVerifications(DATABASE)).find(
            (v) => v.status !== 'pending' && v.status !== 'running',
          ),
        120_000,
      );
      assert.equal(verification.status, 'skipped');
      assert.match(verification.reason ?? '', new RegExp(`no agent holds the private key for recipient ${recipient}`));
    });

    it('the storage and the identity file restore the database table for table', async () => {
      const archive = path.join(platform.dir, 'vault.dump');
      await run(process.execPath, [cli, 'decrypt', dumpFile(), '--identity', identityFile, '-o', archive]);
      const restored = await createDatabase(platform.cluster, 'vault_restored');
      const client = await connect('restored', restored);
      const { major } = await serverInfo(client).finally(() => client.end());
      await run((await toolFor('pg_restore', major)).path, [
        '--dbname',
        targetUrl(restored),
        '--no-owner',
        '--no-privileges',
        '--exit-on-error',
        '--single-transaction',
        archive,
      ]);
      assert.deepEqual(await tableHashes(restored), atBackup);
    });

    it('the Python reference decryptor decrypts the dump and a WAL segment with the identity file', async (t) => {
      const python = await pythonWithCryptography();
      if (!python)
        return t.skip('no Python with the cryptography package (neither .venv/bin/python nor python3 has it)');
      const script = await extractReferenceDecryptor(platform.dir);
      const manifest = JSON.parse(await readFile(path.join(platform.backupsDir, DATABASE, `${backupId}.json`), 'utf8'));
      const out = path.join(platform.dir, 'python.dump');
      const { stderr } = await run(python, [script, dumpFile(), identityFile, out, `${DATABASE}/${backupId}`]);
      assert.match(stderr, new RegExp(`decrypted SHA-256 ${manifest.dump.sha256}\n`));
      const segment = (await filesBelow(platform.backupsDir)).find((f) =>
        /^pitr\/\d+\/wal\/[0-9A-F]{24}\.zst\.hsb$/.test(f),
      )!;
      const [byPython, byHindsight] = [path.join(platform.dir, 'seg.py'), path.join(platform.dir, 'seg.cli')];
      await run(python, [script, path.join(platform.backupsDir, segment), identityFile, byPython, segment]);
      await run(process.execPath, [
        cli,
        'decrypt',
        path.join(platform.backupsDir, segment),
        '--identity',
        identityFile,
        '--expect',
        segment,
        '-o',
        byHindsight,
      ]);
      const [a, b] = [await readFile(byPython), await readFile(byHindsight)];
      assert.equal(a.length, 16 * 1024 * 1024, 'a whole WAL segment');
      assert.ok(a.equals(b), 'Python and Hindsight decrypt the segment to the same bytes');
    });

    it('the workspace page and the API say what each database is encrypted with, and who can decrypt it', async (t) => {
      if (!web) return t.skip('the database has its own setting: the workspace default is tried in the other variant');
      const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
      const page = text(await web.page('/workspaces/default'));
      assert.match(page, new RegExp(`Default: public-key mode, recipient ${recipient}`));
      assert.match(
        page,
        new RegExp(
          `${DATABASE} recipient ${recipient} workspace default decryptable by the holder of identity ${recipient}; no agent reports holding it, so its verifications are skipped`,
        ),
      );
      assert.match(page, /started with an identity file in HINDSIGHT_IDENTITY_FILES reports the recipient it holds/);
      const api = await web.fetch(`${web.url}/api/v1/workspaces/default/encryption`);
      const view = (await api.json()) as { databases: Array<Record<string, unknown>> };
      assert.deepEqual(view.databases, [
        {
          database: DATABASE,
          mode: 'public-key',
          source: 'workspace',
          recipient,
          kmsKey: null,
          decryptableBy: `the holder of the identity of recipient ${recipient}; no agent reports holding it, so its verifications are skipped`,
          agents: [],
        },
      ]);
      // An agent that reports holding the identity is named, on the page and in the API.
      await platform.runtime.catalog.agentRecipients.advertise('keyholder', [recipient]);
      assert.match(
        text(await web.page('/workspaces/default')),
        new RegExp(`decryptable by the holder of identity ${recipient}; agents holding it: keyholder`),
      );
      const held = (await (await web.fetch(`${web.url}/api/v1/workspaces/default/encryption`)).json()) as {
        databases: Array<{ agents: string[] }>;
      };
      assert.deepEqual(held.databases[0]?.agents, ['keyholder']);
      await platform.runtime.catalog.agentRecipients.advertise('keyholder', []);
      const [audited] = await platform.runtime.catalog.access.listAudit({ action: 'workspace.encryption' });
      assert.deepEqual([audited?.outcome, audited?.after], ['ok', { mode: 'public-key', recipient }]);
      // The database's own setting wins over the workspace's default.
      await platform.services.databases.update(operatorActor('test'), DATABASE, { encryption: { mode: 'secret-key' } });
      assert.deepEqual((await platform.runtime.catalog.getDatabase(DATABASE)).encryption, {
        source: 'database',
        recipient: null,
        kms: null,
      });
      assert.match(
        text(await web.page('/workspaces/default')),
        new RegExp(`${DATABASE} secret key its own the installation's secret key`),
      );
    });
  });
