import { readFile } from 'node:fs/promises';
import type { NotifierRecord } from '../lib/catalog/notifiers.ts';
import type { Actor } from '../services/authz.ts';
import type { NotifierService } from '../services/notifiers/service.ts';
import { printJson, printTable, UsageError } from './output.ts';
import { readChange, workspaceResolver, type WithSession } from './session.ts';

interface Context {
  json: boolean;
  flags: {
    type?: string | undefined;
    config?: string | undefined;
    'config-file'?: string | undefined;
    events?: string | undefined;
    workspace?: string | undefined;
  };
  withSession: WithSession;
}

const list = (value: string | undefined, what: string): string[] => {
  if (value === undefined || value === '') throw new UsageError(`${what} is required`);
  return value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
};

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${what} is required`);
  return value;
}

/** A configuration given inline as JSON or, to keep tokens out of shell history, as @file. */
async function readJson(value: string): Promise<Record<string, unknown>> {
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`--config is not a JSON object: ${(error as Error).message}`);
  }
}

function health(n: NotifierRecord): string {
  if (n.consecutiveFailures > 0) return `failing (${n.consecutiveFailures} in a row): ${n.lastError ?? ''}`;
  return n.lastSuccessAt ? `ok (last sent ${n.lastSuccessAt.toISOString()})` : 'ok (nothing sent yet)';
}

type Work<T> = (notifiers: NotifierService, actor: Actor, workspaceId: (name: string) => Promise<number>) => Promise<T>;
const withOps = <T>(ctx: Context, work: Work<T>) =>
  ctx.withSession((s) => work(s.services.notifiers, s.actor, workspaceResolver(s)));

const out = (text: string) => process.stdout.write(`${text}\n`);

async function notifierAdd(args: string[], ctx: Context): Promise<void> {
  const name = need(args[0], 'notifier name');
  const config = ctx.flags.config !== undefined ? await readJson(ctx.flags.config) : {};
  if (ctx.flags.type) {
    if (config.type !== undefined && config.type !== ctx.flags.type)
      throw new UsageError(`--type ${ctx.flags.type} contradicts "type": "${String(config.type)}" in --config`);
    config.type = ctx.flags.type;
  }
  if (config.type === undefined) throw new UsageError(`--type is required`);
  const record = await withOps(ctx, async (ops, actor, workspaceId) =>
    ops.save(actor, name, config, undefined, ctx.flags.workspace ? await workspaceId(ctx.flags.workspace) : undefined),
  );
  if (ctx.json) printJson(record);
  else
    out(
      `notifier "${record.name}" saved (${record.type}: ${record.summary}; events ${record.events.join(', ')}); try it with hindsight notifier test ${record.name}`,
    );
}

async function notifierUpdate(args: string[], ctx: Context): Promise<void> {
  const name = need(args[0], 'notifier name');
  const { flags } = ctx;
  const noConfig = flags.config === undefined && flags['config-file'] === undefined;
  if (noConfig && flags.events === undefined)
    throw new UsageError('notifier update needs --config <json | @file.json>, --config-file <file> or --events');
  const config = noConfig ? undefined : await readChange(flags, 'notifier update');
  const events = flags.events === undefined ? undefined : list(flags.events, '--events');
  const record = await withOps(ctx, (ops, actor) => ops.update(actor, name, { config, events }));
  if (ctx.json) printJson(record);
  else out(`notifier "${record.name}" changed (${record.type}: ${record.summary}; events ${record.events.join(', ')})`);
}

async function notifierList(_args: string[], ctx: Context): Promise<void> {
  const notifiers = await withOps(ctx, (ops, actor) => ops.list(actor));
  if (ctx.json) printJson(notifiers);
  else if (notifiers.length === 0)
    out('no notifiers: add one with hindsight notifier add <name> --type slack --config @slack.json');
  else
    printTable(
      notifiers.map((n) => ({
        name: n.name,
        type: n.type,
        sends_to: n.summary,
        events: n.events.join(','),
        databases: n.databases.join(',') || '-',
        health: health(n),
      })),
    );
}

async function notifierTest(args: string[], ctx: Context): Promise<void> {
  const name = need(args[0], 'notifier name');
  const result = await withOps(ctx, (ops, actor) => ops.test(actor, name));
  if (ctx.json) printJson(result);
  else
    out(
      result.ok
        ? `notifier "${name}": test message delivered in ${result.elapsedMs} ms (${result.detail})`
        : `notifier "${name}": test message not delivered: ${result.detail}`,
    );
  if (!result.ok) process.exitCode = 1;
}

async function notifierRemove(args: string[], ctx: Context): Promise<void> {
  const name = need(args[0], 'notifier name');
  await withOps(ctx, (ops, actor) => ops.remove(actor, name));
  if (ctx.json) printJson({ removed: name });
  else out(`notifier "${name}" removed`);
}

async function notifierAttach(args: string[], ctx: Context): Promise<void> {
  const database = need(args[0], 'database name');
  const names = list(args[1], 'notifier names, comma-separated (or "none")');
  const attached = await withOps(ctx, (ops, actor) =>
    ops.attach(actor, database, names.length === 1 && names[0] === 'none' ? [] : names),
  );
  if (ctx.json) printJson({ database, notifiers: attached });
  else
    out(
      attached.length
        ? `database "${database}" notifies ${attached.join(', ')}`
        : `database "${database}" notifies no one`,
    );
}

async function notifierEvents(args: string[], ctx: Context): Promise<void> {
  const name = need(args[0], 'notifier name');
  const record = await withOps(ctx, (ops, actor) =>
    ops.setEvents(actor, name, list(args[1], 'events, comma-separated')),
  );
  if (ctx.json) printJson(record);
  else out(`notifier "${name}" hears of ${record.events.join(', ')}`);
}

async function notifierDeliveries(args: string[], ctx: Context): Promise<void> {
  const deliveries = await withOps(ctx, (ops, actor) =>
    ops.deliveries(actor, { ...(args[0] ? { notifier: args[0] } : {}), limit: 50 }),
  );
  if (ctx.json) printJson(deliveries);
  else if (deliveries.length === 0) out('no deliveries yet');
  else
    printTable(
      deliveries.map((d) => ({
        id: String(d.id),
        at: d.createdAt.toISOString(),
        notifier: d.notifierName,
        event: d.event,
        database: d.database ?? '-',
        status: d.status,
        attempts: String(d.attempts),
        error: d.status === 'sent' ? '' : (d.lastError ?? ''),
      })),
    );
}

const notifierSubcommands: Record<string, (args: string[], ctx: Context) => Promise<void>> = {
  add: notifierAdd,
  update: notifierUpdate,
  list: notifierList,
  test: notifierTest,
  remove: notifierRemove,
  attach: notifierAttach,
  events: notifierEvents,
  deliveries: notifierDeliveries,
};

/** `hindsight notifier …` */
export async function runNotifierCommand(sub: string | undefined, args: string[], ctx: Context): Promise<void> {
  const handler = sub !== undefined && Object.hasOwn(notifierSubcommands, sub) ? notifierSubcommands[sub] : undefined;
  if (!handler) throw new UsageError(`unknown command: notifier ${sub ?? ''}`);
  return handler(args, ctx);
}

/** `hindsight db overdue <db> <hours|off>` */
export async function runDbOverdue(args: string[], ctx: Context): Promise<void> {
  const database = need(args[0], 'database name');
  const value = need(args[1], 'hours (e.g. 26) or "off"');
  const hours = value === 'off' ? null : Number(value);
  if (hours !== null && !Number.isFinite(hours))
    throw new UsageError(`db overdue: "${value}" is not a number of hours or "off"`);
  const result = await withOps(ctx, (ops, actor) => ops.setBackupOverdue(actor, database, hours));
  if (ctx.json) printJson(result);
  else
    process.stdout.write(
      result.backupOverdueHours === null
        ? `database "${database}": no overdue alert\n`
        : `database "${database}": backup_overdue is sent when no backup completed in ${result.backupOverdueHours} h (checked every 10 minutes)\n`,
    );
}
