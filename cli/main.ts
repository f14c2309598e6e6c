import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { decryptCommand } from './decrypt.ts';
import { readSecretKey } from '../lib/crypto/secret-key.ts';
import { loadConfig, type Config } from '../lib/config.ts';
import { openKeyring } from '../lib/crypto/keyring.ts';
import { connectTemporalClient } from '../temporal/client.ts';
import { createOperations } from '../services/operations.ts';
import { createActorOperations, type ActorOperations } from '../services/actor-operations.ts';
import { createAccessService, type AccessService } from '../services/access.ts';
import { createAuthz, type Actor } from '../services/authz.ts';
import { cliActor, runAccessCommand } from './access.ts';
import { runDoctor } from '../services/doctor.ts';
import { openRuntime, type Runtime } from '../services/runtime.ts';
import { formatVerification } from './verification-report.ts';
import { formatBytes, printJson, printTable, reportFailure, UsageError } from './output.ts';
import { backupRoleCommand, hookCommand, hookUsage, printBackupRoleOffer } from './hooks.ts';
import { notifierUsage, runDbOverdue, runNotifierCommand } from './notifiers.ts';
import { pitrInputFromFlags, startPitrRestore, wantsPitrRestore } from './pitr-restore.ts';
import { walFetchCommand } from './wal-fetch.ts';
import { keyUsage, runKeyCommand } from './key.ts';
import { pitrUsage, runPitrCommand } from './pitr.ts';
import { createActorPitr } from '../services/actor-pitr.ts';
import { createPitrOperations } from '../services/pitr.ts';

const usage = `usage: hindsight <command> [options] [--json]

  db add <name> --url <postgres-url> [--storage <name>[,<name>...]] [--schedule <cron>] [--timezone <tz>] [--no-check] [--workspace <name>]
  db list
  db storages <name> <storage>[,<storage>...]  where its backups go (every backup is written to each)
  db schedule <name> (<cron> | off) [--timezone <tz>]
  db remove <name>
  storage add <name> --type local --path <directory> [--no-check] [--workspace <name>]
  storage add <name> --config <json | @file.json> [--no-check] [--workspace <name>]   any type: s3, azure, sftp, ftp, rclone, local
  storage test <name>                         writes, reads back and deletes a small object
  storage list
  storage remove <name>
  backup <db> [--wait]                        prints the backup id
  backups <db>                                id, time, size, status, copies, verification
  verify <db> [--backup <id>] [--wait]        restores a backup into a throwaway server and checks every table
  verifications <db>                          status, backup, reason of each verification
  verify-schedule <db> (<cron> | off)         verify the newest backup on a cron too
  retention <db> [--policy <json>]            dry run: what the policy keeps and deletes, and why
  retention <db> --policy <json> --save       saves the policy; it runs daily (retention/<db>)
  retention <db> --run [--wait]               runs retention now
  download <backup-id> -o <file> [--encrypted]  the pg_dump archive (or the stored object), checksum-verified
  backup-copy <backup-id> [--wait]            copies a partial backup into the storages it missed
  restore <db> [--backup <id>] (--to <postgres-url> | --to-database <name>) [--wait]
  restore <db> (--time <RFC 3339> | --lsn <X/Y> | --xid <n> | --name <restore point> | --latest | --immediate)
               (--to <empty directory> [--agent <name>] | --to-sandbox) [--wait]   point-in-time restore from the WAL archive
  wal-fetch <wal file> <path> [--socket <path> | --database <name>]   restore_command (exit 1: not archived)
  doctor                                      checks the catalog, Temporal, workers, storages, tools and databases
  decrypt <file> [--key <secret.key>] [--expect <db>/<backup-id>] [-o <out>]
                                              the pg_dump archive; names the backup the file is, refuses another with --expect;
                                              without --key, the key the file names, from the keyring
  user create <email> (--owner | --role <role>) [--workspace <name>] [--name <display name>] [--password-file <file>]
                                              --owner: owner of the workspace and of the installation
  user list | user disable <email> | user enable <email>
  user instance-owner <email> [off]           grants (or with "off" takes) ownership of the installation
  member add <email> <workspace> <owner|admin|editor|viewer>
  member remove <email> <workspace>
  workspace create <name> | workspace list
  audit [--workspace <name>] [--actor <email|cli:user>] [--action <action or prefix>] [--since <date | 24h | 7d>]

  The CLI acts as the local operator (every right, audited as cli:<os user>); --as <email> or
  HINDSIGHT_AS=<email> makes it act with that user's roles.
${keyUsage}${hookUsage}${notifierUsage}${pitrUsage}`;

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        url: { type: 'string' },
        storage: { type: 'string' },
        schedule: { type: 'string' },
        timezone: { type: 'string' },
        'no-check': { type: 'boolean', default: false },
        type: { type: 'string' },
        path: { type: 'string' },
        config: { type: 'string' },
        encrypted: { type: 'boolean', default: false },
        policy: { type: 'string' },
        save: { type: 'boolean', default: false },
        run: { type: 'boolean', default: false },
        wait: { type: 'boolean', default: false },
        backup: { type: 'string' },
        to: { type: 'string' },
        'to-database': { type: 'string' },
        time: { type: 'string' },
        lsn: { type: 'string' },
        xid: { type: 'string' },
        name: { type: 'string' },
        latest: { type: 'boolean' },
        immediate: { type: 'boolean' },
        'to-sandbox': { type: 'boolean' },
        socket: { type: 'string' },
        database: { type: 'string' },
        key: { type: 'string' },
        expect: { type: 'string' },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h', default: false },
        as: { type: 'string' },
        workspace: { type: 'string' },
        owner: { type: 'boolean', default: false },
        role: { type: 'string' },
        'password-file': { type: 'string' },
        actor: { type: 'string' },
        action: { type: 'string' },
        since: { type: 'string' },
        file: { type: 'string' },
        script: { type: 'string' },
        timeout: { type: 'string' },
        pitr: { type: 'boolean', default: false },
        'admin-url': { type: 'string' },
        'slot-max-mb': { type: 'string' },
        'base-schedule': { type: 'string' },
        'base-full-every': { type: 'string' },
        agent: { type: 'string' },
        standby: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`hindsight: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
})();

const json = flags.json;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '') throw new UsageError(`${what} is required\n${usage}`);
  return value;
}

interface Session { runtime: Runtime; temporal: Client; ops: ActorOperations; access: AccessService; actor: Actor }

/** The services as the CLI's actor may use them (services/authz.ts decides; cli/access.ts says who). */
const actorPitr = (runtime: Runtime, temporal: Client, actor: Actor) =>
  createActorPitr({ runtime, pitr: createPitrOperations(runtime, temporal), authz: createAuthz(runtime.catalog.access) }, actor);

async function withSession<T>(work: (s: Session) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const runtime = await openRuntime(config);
  try {
    const authz = createAuthz(runtime.catalog.access);
    const access = createAccessService(runtime, authz);
    const actor = await cliActor(access, flags.as);
    const temporal = await connectTemporalClient(config, runtime);
    try {
      const ops = createActorOperations({ runtime, ops: createOperations(runtime, temporal), authz }, actor);
      return await work({ runtime, temporal, ops, access, actor });
    } finally {
      await temporal.connection.close();
    }
  } finally {
    await runtime.close();
  }
}

/** Every key of the installation, without the catalog: a backup file names the one it needs. */
const keyringOf = (config: Config) => openKeyring({ currentFile: config.secretKeyFile, keysDir: config.keysDir, previousFiles: config.previousSecretKeyFiles });

/** A storage configuration given inline as JSON or, to keep secrets out of shell history, as @file. */
async function readConfigArgument(value: string, flag = '--config'): Promise<unknown> {
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
}

function describeStorage(settings: Record<string, unknown>): string {
  const s = settings as Record<string, string | number | undefined>;
  if (s.path && !s.host) return String(s.path);
  if (s.bucket) return `${s.endpoint ?? 's3'}/${s.bucket}/${s.prefix ?? ''}`;
  if (s.container) return `${s.endpoint ?? s.accountName ?? 'azure'}/${s.container}/${s.prefix ?? ''}`;
  if (s.host) return `${s.host}:${s.port ?? ''}${s.path ?? ''}`;
  if (s.remote) return String(s.remote);
  return '-';
}

async function run(): Promise<void> {
  const [command, sub, arg] = positionals;
  if (flags.help || !command) {
    process.stdout.write(usage);
    return;
  }
  switch (command) {
    case 'db': {
      if (sub === 'pitr') return runPitrCommand('db pitr', positionals.slice(2), flags, (work) => withSession(({ runtime, temporal, actor }) => work(actorPitr(runtime, temporal, actor))));
      if (sub === 'add') {
        const name = need(arg, 'database name');
        const record = await withSession(async ({ ops, access, actor }) => ops.addDatabase({
          workspaceId: (await access.workspaceFor(actor, flags.workspace ?? 'default')).id,
          name, url: need(flags.url, '--url'), storages: (flags.storage ?? 'local').split(',').map((x) => x.trim()).filter(Boolean),
          schedule: flags.schedule ?? null, timezone: flags.timezone ?? 'UTC', skipCheck: flags['no-check'],
        }));
        if (json) printJson(record);
        else process.stdout.write(`database "${record.name}" added (storage ${record.storageNames.join(', ')}${record.schedule ? `, schedule "${record.schedule}" ${record.timezone}` : ''})\n`);
        if (!json && !flags['no-check']) await printBackupRoleOffer(name, (work) => withSession(({ ops, access, actor }) => work(ops, async (name) => (await access.workspaceFor(actor, name)).id)));
        return;
      }
      if (sub === 'list') {
        const dbs = await withSession(({ ops }) => ops.listDatabases());
        if (json) printJson(dbs);
        else if (dbs.length === 0) process.stdout.write('no databases: add one with hindsight db add <name> --url postgres://…\n');
        else printTable(dbs.map((d) => ({ name: d.name, connection: `${d.username}@${d.host}:${d.port}/${d.dbname}`, storage: d.storageNames.join(', '), schedule: d.schedule ? `${d.schedule} (${d.timezone})` : '-' })));
        return;
      }
      if (sub === 'schedule') {
        const name = need(arg, 'database name');
        const cron = need(positionals[3], 'a cron expression (five fields) or "off"');
        const schedule = cron === 'off' ? null : cron;
        await withSession(({ ops }) => ops.setSchedule(name, schedule, flags.timezone ?? 'UTC'));
        if (json) printJson({ database: name, schedule, timezone: flags.timezone ?? 'UTC' });
        else process.stdout.write(schedule ? `database "${name}" is backed up at "${schedule}" (${flags.timezone ?? 'UTC'})\n` : `database "${name}" has no schedule now\n`);
        return;
      }
      if (sub === 'storages') {
        const name = need(arg, 'database name');
        const storages = need(positionals[3], 'storage names, comma-separated').split(',').map((x) => x.trim()).filter(Boolean);
        const record = await withSession(({ ops }) => ops.setDestinations(name, storages));
        if (json) printJson(record);
        else process.stdout.write(`database "${name}" backs up to ${record.storageNames.join(', ')}\n`);
        return;
      }
      if (sub === 'role-check' || sub === 'create-backup-role') return backupRoleCommand(sub, positionals.slice(2), flags, json, (work) => withSession(({ ops, access, actor }) => work(ops, async (name) => (await access.workspaceFor(actor, name)).id)));
      if (sub === 'overdue') return runDbOverdue(positionals.slice(2), { json, flags, withSession });
      if (sub === 'remove') {
        const name = need(arg, 'database name');
        await withSession(({ ops }) => ops.removeDatabase(name));
        if (json) printJson({ removed: name });
        else process.stdout.write(`database "${name}" removed (its backups stay in storage)\n`);
        return;
      }
      throw new UsageError(`unknown command: db ${sub ?? ''}\n${usage}`);
    }
    case 'storage': {
      if (sub === 'add') {
        const name = need(arg, 'storage name');
        const config = flags.config !== undefined ? await readConfigArgument(flags.config) : { type: need(flags.type, '--type or --config'), path: flags.path };
        const record = await withSession(async ({ ops, access, actor }) => ops.saveStorage(name, config, {
          skipCheck: flags['no-check'], workspaceId: flags.workspace ? (await access.workspaceFor(actor, flags.workspace)).id : undefined,
        }));
        if (json) printJson(record);
        else process.stdout.write(`storage "${record.name}" saved${flags['no-check'] ? '' : ' (connection test passed)'}\n`);
        return;
      }
      if (sub === 'test') {
        const name = need(arg, 'storage name');
        const result = await withSession(({ ops }) => ops.testStorage(name));
        if (json) printJson(result);
        else if (result.ok) process.stdout.write(`storage "${name}": write, read back and delete passed in ${result.elapsedMs} ms\n`);
        else process.stdout.write(`storage "${name}": failed at ${result.stage} (${result.kind}): ${result.message}\n`);
        if (!result.ok) process.exitCode = 1;
        return;
      }
      if (sub === 'list') {
        const list = await withSession(({ ops }) => ops.listStorages());
        if (json) printJson(list);
        else printTable(list.map((s) => ({ name: s.name, type: s.type, where: describeStorage(s.settings) })));
        return;
      }
      if (sub === 'remove') {
        const name = need(arg, 'storage name');
        await withSession(({ ops }) => ops.removeStorage(name));
        if (json) printJson({ removed: name });
        else process.stdout.write(`storage "${name}" removed from the catalog (its objects are untouched)\n`);
        return;
      }
      throw new UsageError(`unknown command: storage ${sub ?? ''}\n${usage}`);
    }
    case 'backup': {
      const database = need(sub, 'database name');
      await withSession(async ({ ops }) => {
        const started = await ops.startBackup(database, 'manual');
        if (!flags.wait) {
          if (json) printJson({ backupId: started.backupId, workflowId: started.workflowId });
          else process.stdout.write(`${started.backupId}\n`);
          return;
        }
        const outcome = await started.result();
        if (json) printJson({ ...outcome, workflowId: started.workflowId });
        else process.stdout.write(`${outcome.backupId}\n`);
      });
      return;
    }
    case 'verify': {
      const database = need(sub, 'database name');
      await withSession(async ({ ops }) => {
        const requested = await ops.requestVerification(database, { backupId: flags.backup });
        if (!flags.wait) {
          if (json) printJson({ verificationId: requested.verificationId, backupId: requested.backupId, workflowId: requested.workflowId });
          else process.stdout.write(`${requested.verificationId}\n`);
          return;
        }
        const summary = await requested.finished();
        if (json) printJson(summary);
        else process.stdout.write(formatVerification(summary));
        if (summary.status !== 'successful') process.exitCode = 1;
      });
      return;
    }
    case 'verifications': {
      const database = need(sub, 'database name');
      const list = await withSession(({ ops }) => ops.listVerifications(database));
      if (json) printJson(list);
      else if (list.length === 0) process.stdout.write(`no verifications of "${database}" yet: hindsight verify ${database}\n`);
      else printTable(list.map((v) => ({ id: v.id, requested: v.requestedAt, backup: v.backupId ?? '-', trigger: v.trigger, status: v.status, reason: v.reason ?? '' })));
      return;
    }
    case 'verify-schedule': {
      const database = need(sub, 'database name');
      const cron = need(arg, 'a cron expression or "off"');
      const record = await withSession(({ ops }) => ops.setVerifySchedule(database, cron === 'off' ? null : cron));
      if (json) printJson(record);
      else process.stdout.write(record.verifySchedule ? `database "${database}": newest backup verified at "${record.verifySchedule}" (${record.timezone})\n` : `database "${database}": verified after each backup only\n`);
      return;
    }
    case 'retention': {
      const database = need(sub, 'database name');
      const policy = flags.policy !== undefined ? await readConfigArgument(flags.policy, '--policy') : undefined;
      await withSession(async ({ ops }) => {
        if (flags.run) {
          const started = await ops.startRetention(database);
          if (!flags.wait) return void process.stdout.write(`${started.workflowId}\n`);
          const outcome = await started.result();
          if (json) printJson(outcome);
          else process.stdout.write(`retention of "${database}": ${outcome.deleted.length} deleted, ${outcome.kept} kept${outcome.skipped.length ? `, ${outcome.skipped.length} skipped` : ''}\n`);
          return;
        }
        if (flags.save) {
          const record = await ops.setRetentionPolicy(database, policy ?? null);
          if (!json) process.stdout.write(record.retentionPolicy ? `retention policy of "${database}" saved; it runs daily (schedule retention/${database})\n` : `retention of "${database}" is off\n`);
        }
        const { plan } = await ops.retentionPlan(database, policy);
        if (json) return printJson(plan);
        process.stdout.write(`${plan.summary}\n`);
        printTable([
          ...plan.delete.map((d) => ({ backup: d.id, decision: 'delete', why: d.reason })),
          ...plan.keep.map((k) => ({ backup: k.id, decision: 'keep', why: k.reasons.join('; ') })),
        ]);
      });
      return;
    }
    case 'download': {
      const backupId = need(sub, 'backup id');
      const output = need(flags.output, '-o <file>');
      const partial = `${output}.partial-${process.pid}`;
      await withSession(async ({ ops }) => {
        const download = await ops.openDownload(backupId, {
          decrypt: !flags.encrypted,
          onFallback: (storage, reason) => process.stderr.write(`hindsight: storage "${storage}" could not serve backup ${backupId} (${reason}); trying the next one\n`),
        });
        try {
          await pipeline(download.stream, createWriteStream(partial, { mode: 0o600 }));
          await rename(partial, output);
        } catch (error) {
          await rm(partial, { force: true });
          throw error;
        }
        if (json) printJson({ backupId, file: output, storage: download.storageName, bytes: download.sizeBytes });
        else process.stdout.write(`wrote ${output} (${formatBytes(download.sizeBytes)}, from storage "${download.storageName}", checksums verified)\n`);
      });
      return;
    }
    case 'backup-copy': {
      const backupId = need(sub, 'backup id');
      await withSession(async ({ ops }) => {
        const started = await ops.startReplicate(backupId);
        if (!flags.wait) {
          if (json) printJson({ workflowId: started.workflowId });
          else process.stdout.write(`${started.workflowId}\n`);
          return;
        }
        const outcome = await started.result();
        if (json) printJson(outcome);
        else process.stdout.write(`backup ${backupId} is ${outcome.status}: ${outcome.copies.map((c) => `${c.storageName} ${c.status}${c.error ? ` (${c.error})` : ''}`).join(', ')}\n`);
        if (outcome.status !== 'complete') process.exitCode = 1;
      });
      return;
    }
    case 'backups': {
      const database = need(sub, 'database name');
      const backups = await withSession(({ ops }) => ops.listBackups(database));
      if (json) printJson(backups);
      else if (backups.length === 0) process.stdout.write(`no backups of "${database}" yet: hindsight backup ${database}\n`);
      else printTable(backups.map((b) => ({
        id: b.id, started: b.startedAt.toISOString(), status: b.status, size: formatBytes(b.sizeBytes),
        rows: b.rowCounts ? String(b.rowCounts.reduce((s, t) => s + t.rows, 0)) : '-',
        copies: b.copies.map((c) => `${c.storageName}:${c.status}`).join(' '),
        verification: b.lastRestore ? b.lastRestore.status : '-',
        warnings: b.warnings.length > 0 ? b.warnings.map((w) => w.message.split('\n')[0]!.slice(0, 80)).join(' | ') : '',
      })));
      return;
    }
    case 'restore': {
      const database = need(sub, 'database name');
      if (wantsPitrRestore(flags)) {
        const input = pitrInputFromFlags(database, flags);
        await withSession(({ temporal, runtime, actor }) => actorPitr(runtime, temporal, actor)
          .restore(database, input.to, () => startPitrRestore(temporal, runtime.config, input, { wait: flags.wait, json })));
        return;
      }
      if (Boolean(flags.to) === Boolean(flags['to-database'])) throw new UsageError(`restore needs exactly one of --to <postgres-url> or --to-database <name>\n${usage}`);
      const to = flags.to ? { url: flags.to } : { database: flags['to-database']! };
      await withSession(async ({ ops }) => {
        const started = await ops.startRestore({ database, backupId: flags.backup, to });
        if (!flags.wait) {
          if (json) printJson({ workflowId: started.workflowId });
          else process.stdout.write(`${started.workflowId}\n`);
          return;
        }
        const outcome = await started.result();
        if (json) printJson(outcome);
        else process.stdout.write(`restored backup ${outcome.backupId} into ${outcome.target}: ${outcome.tablesChecked} tables, ${outcome.rowsChecked} rows, every row count matches\n`);
      });
      return;
    }
    case 'hook':
      return hookCommand(positionals.slice(1), flags, json, (work) => withSession(({ ops, access, actor }) => work(ops, async (name) => (await access.workspaceFor(actor, name)).id)));
    case 'notifier':
      return runNotifierCommand(sub, positionals.slice(2), { json, flags, withSession });
    case 'base-backup':
    case 'wal-status':
      return runPitrCommand(command, positionals.slice(1), flags, (work) => withSession(({ runtime, temporal, actor }) => work(actorPitr(runtime, temporal, actor))));
    case 'wal-fetch': {
      process.exitCode = await walFetchCommand(sub, arg, { socket: flags.socket, database: flags.database });
      return;
    }
    case 'doctor': {
      const checks = await runDoctor(loadConfig());
      if (json) printJson(checks);
      else for (const c of checks) process.stdout.write(`${c.status === 'ok' ? '✓' : c.status === 'warn' ? '!' : '✗'} ${c.name.padEnd(28)} ${c.detail}\n`);
      if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
      return;
    }
    case 'key':
      return runKeyCommand(sub, { json, as: flags.as });
    case 'decrypt': {
      const key = flags.key ? await readSecretKey(flags.key) : keyringOf(loadConfig()).resolve;
      return decryptCommand(need(sub, 'backup file'), { key, output: flags.output, expect: flags.expect, json });
    }
    case 'user':
    case 'member':
    case 'workspace':
    case 'audit':
      await withSession(({ access, actor }) => runAccessCommand(positionals, flags, access, actor, usage));
      return;
    default:
      throw new UsageError(`unknown command: ${command}\n${usage}`);
  }
}

run().then(
  () => process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0),
  (error: unknown) => process.exit(reportFailure(error, json)),
);
