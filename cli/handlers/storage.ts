/** What the commands of cli/commands/storage.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { printJson, printList, UsageError } from '../output.ts';
import { readChange, readConfigArgument, sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

function describeStorage(settings: Record<string, unknown>): string {
  const s = settings as Record<string, string | number | undefined>;
  if (s.path && !s.host) return String(s.path);
  if (s.bucket) return `${s.endpoint ?? 's3'}/${s.bucket}/${s.prefix ?? ''}`;
  if (s.container) return `${s.endpoint ?? s.accountName ?? 'azure'}/${s.container}/${s.prefix ?? ''}`;
  if (s.host) return `${s.host}:${s.port ?? ''}${s.path ?? ''}`;
  if (s.remote) return String(s.remote);
  return '-';
}

export async function addStorage({ args: [name], flags }: Invocation): Promise<void> {
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

export async function updateStorage({ args: [name], flags }: Invocation): Promise<void> {
  const change = await readChange(flags, 'storage update');
  const record = await sessionAs(flags.as)(({ services, actor }) => services.storages.update(actor, name!, change));
  if (flags.json) printJson(record);
  else process.stdout.write(`storage "${record.name}" changed (connection test passed)\n`);
}

function need(type: string | undefined): string {
  if (type === undefined || type === '')
    throw new UsageError('storage add needs --type local --path <directory> or --config <json | @file.json>');
  return type;
}

export async function testStorage({ args: [name], flags }: Invocation): Promise<void> {
  const result = await sessionAs(flags.as)(({ services, actor }) => services.storages.test(actor, name!));
  if (flags.json) printJson(result);
  else if (result.ok)
    process.stdout.write(`storage "${name}": write, read back and delete passed in ${result.elapsedMs} ms\n`);
  else process.stdout.write(`storage "${name}": failed at ${result.stage} (${result.kind}): ${result.message}\n`);
  if (!result.ok) process.exitCode = 1;
}

export async function listStorages({ flags }: Invocation): Promise<void> {
  const list = await sessionAs(flags.as, { temporal: false })(({ services, actor }) => services.storages.list(actor));
  printList(flags.json, list, (s) => ({ name: s.name, type: s.type, where: describeStorage(s.settings) }));
}

export async function removeStorage({ args: [name], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(({ services, actor }) => services.storages.remove(actor, name!));
  if (flags.json) printJson({ removed: name });
  else process.stdout.write(`storage "${name}" removed from the catalog (its objects are untouched)\n`);
}
