/** `hindsight storage …`: where backups are written. */
import { printJson, printTable, UsageError } from '../output.ts';
import { readConfigArgument, sessionAs } from '../session.ts';
import type { Command, Invocation } from './types.ts';

function describeStorage(settings: Record<string, unknown>): string {
  const s = settings as Record<string, string | number | undefined>;
  if (s.path && !s.host) return String(s.path);
  if (s.bucket) return `${s.endpoint ?? 's3'}/${s.bucket}/${s.prefix ?? ''}`;
  if (s.container) return `${s.endpoint ?? s.accountName ?? 'azure'}/${s.container}/${s.prefix ?? ''}`;
  if (s.host) return `${s.host}:${s.port ?? ''}${s.path ?? ''}`;
  if (s.remote) return String(s.remote);
  return '-';
}

async function addStorage({ args: [name], flags }: Invocation): Promise<void> {
  const config =
    flags.config !== undefined ? await readConfigArgument(flags.config) : { type: need(flags.type), path: flags.path };
  const record = await sessionAs(flags.as)(async ({ services, access, actor }) =>
    services.storages.save(actor, name!, config, {
      skipCheck: flags['no-check'],
      workspaceId: flags.workspace ? (await access.workspaceFor(actor, flags.workspace)).id : undefined,
    }),
  );
  if (flags.json) printJson(record);
  else process.stdout.write(`storage "${record.name}" saved${flags['no-check'] ? '' : ' (connection test passed)'}\n`);
}

function need(type: string | undefined): string {
  if (type === undefined || type === '')
    throw new UsageError('storage add needs --type local --path <directory> or --config <json | @file.json>');
  return type;
}

async function testStorage({ args: [name], flags }: Invocation): Promise<void> {
  const result = await sessionAs(flags.as)(({ services, actor }) => services.storages.test(actor, name!));
  if (flags.json) printJson(result);
  else if (result.ok)
    process.stdout.write(`storage "${name}": write, read back and delete passed in ${result.elapsedMs} ms\n`);
  else process.stdout.write(`storage "${name}": failed at ${result.stage} (${result.kind}): ${result.message}\n`);
  if (!result.ok) process.exitCode = 1;
}

async function listStorages({ flags }: Invocation): Promise<void> {
  const list = await sessionAs(flags.as)(({ services, actor }) => services.storages.list(actor));
  if (flags.json) printJson(list);
  else printTable(list.map((s) => ({ name: s.name, type: s.type, where: describeStorage(s.settings) })));
}

async function removeStorage({ args: [name], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(({ services, actor }) => services.storages.remove(actor, name!));
  if (flags.json) printJson({ removed: name });
  else process.stdout.write(`storage "${name}" removed from the catalog (its objects are untouched)\n`);
}

const storage = { name: 'name' };

export const storageCommands: Command[] = [
  {
    words: ['storage', 'add'],
    args: [storage],
    summary: 'saves a storage after writing, reading back and deleting a small object',
    details: ['--type local --path <directory>, or --config for any type: s3, azure, sftp, ftp, rclone, local'],
    flags: [
      { name: 'type', description: 'local (other types through --config)' },
      'path',
      {
        name: 'config',
        description: "the storage's configuration as JSON (any type), or @file to keep secrets out of shell history",
      },
      { name: 'no-check', description: 'save without the connection test' },
      { name: 'workspace', description: 'the workspace it belongs to' },
    ],
    handler: addStorage,
  },
  {
    words: ['storage', 'test'],
    args: [storage],
    flags: [],
    summary: 'writes, reads back and deletes a small object (exit 1 on failure)',
    handler: testStorage,
  },
  {
    words: ['storage', 'list'],
    args: [],
    flags: [],
    summary: 'the storages: name, type, where',
    handler: listStorages,
  },
  {
    words: ['storage', 'remove'],
    args: [storage],
    flags: [],
    summary: 'removes the storage from the catalog (its objects are untouched)',
    handler: removeStorage,
  },
];
