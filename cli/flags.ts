/**
 * Every flag of the `hindsight` command, declared once: whether it takes a value, and what it
 * means where a command does not say otherwise. Commands pick theirs by name (cli/commands/).
 */
import type { FlagDef } from './command-table.ts';

export const flagCatalog = {
  json: { type: 'boolean', description: 'machine output: the result, or {"error":{kind,message}}, as JSON on stdout' },
  help: { type: 'boolean', short: 'h', description: 'this usage' },
  as: {
    type: 'string',
    value: 'email',
    description: "act with that user's roles instead of as the local operator (or HINDSIGHT_AS=<email>)",
  },
  workspace: { type: 'string', value: 'name', description: 'the workspace it belongs to (default: "default")' },
  url: { type: 'string', value: 'postgres-url', description: 'the database to back up' },
  storage: {
    type: 'string',
    value: 'name[,name...]',
    description: 'where its backups go (default: local); every backup is written to each',
  },
  schedule: { type: 'string', value: 'cron', description: 'back up on this cron (five fields)' },
  timezone: { type: 'string', value: 'tz', description: 'time zone of the cron (default: UTC)' },
  'no-check': { type: 'boolean', description: 'save without testing the connection' },
  type: { type: 'string', value: 'type', description: 'the kind' },
  path: { type: 'string', value: 'directory', description: 'the directory of a local storage' },
  config: {
    type: 'string',
    value: 'json | @file.json',
    description: 'the configuration as JSON, or @file to keep secrets out of shell history',
  },
  encrypted: { type: 'boolean', description: 'the stored object as it is, still encrypted' },
  policy: { type: 'string', value: 'json | @file.json', description: 'a retention policy' },
  save: { type: 'boolean', description: 'save the policy; it then runs daily (schedule retention/<db>)' },
  run: { type: 'boolean', description: 'run retention now' },
  wait: { type: 'boolean', description: 'wait for the job to finish and print its outcome' },
  backup: { type: 'string', value: 'id', description: 'this backup instead of the newest' },
  to: { type: 'string', value: 'postgres-url | directory', description: 'the target' },
  'to-database': { type: 'string', value: 'name', description: 'a registered database as the target' },
  time: { type: 'string', value: 'RFC 3339', description: 'point-in-time target: a time' },
  lsn: { type: 'string', value: 'X/Y', description: 'point-in-time target: a WAL position' },
  xid: { type: 'string', value: 'n', description: 'point-in-time target: a transaction id' },
  name: { type: 'string', value: 'name', description: 'a name' },
  latest: { type: 'boolean', description: 'point-in-time target: the end of the archived WAL' },
  immediate: { type: 'boolean', description: 'point-in-time target: the end of the base backup' },
  'to-sandbox': { type: 'boolean', description: 'restore into a throwaway server, check it and remove it' },
  socket: {
    type: 'string',
    value: 'path',
    description: 'the socket of a running restore (or HINDSIGHT_WAL_FETCH_SOCKET)',
  },
  database: {
    type: 'string',
    value: 'name',
    description: 'fetch from the catalog and storage directly (or HINDSIGHT_WAL_FETCH_DATABASE)',
  },
  key: {
    type: 'string',
    value: 'secret.key',
    description: 'the key file; without it, the key the file names, from the keyring',
  },
  expect: {
    type: 'string',
    value: 'db/backup-id',
    description: 'refuse any other object than this one before writing a byte',
  },
  output: { type: 'string', short: 'o', value: 'file', description: 'the file to write' },
  owner: { type: 'boolean', description: 'owner of the workspace and of the installation' },
  role: { type: 'string', value: 'role', description: 'owner, admin, editor or viewer' },
  'password-file': {
    type: 'string',
    value: 'file',
    description: 'the password (its trailing newline dropped); without it, typed at a prompt or one line of stdin',
  },
  actor: { type: 'string', value: 'email | cli:user', description: 'entries by this actor' },
  action: { type: 'string', value: 'action or prefix', description: 'entries of this action' },
  since: { type: 'string', value: 'date | 24h | 7d', description: 'entries since then' },
  file: { type: 'string', value: 'script', description: 'the script, from a file' },
  script: { type: 'string', value: 'text', description: 'the script, inline' },
  timeout: { type: 'string', value: 's', description: 'seconds before the script is killed' },
  pitr: { type: 'boolean', description: 'also the rights WAL streaming needs (REPLICATION)' },
  'admin-url': {
    type: 'string',
    value: 'postgres-url',
    description: 'a role that may create roles (default: the configured one)',
  },
  'slot-max-mb': { type: 'string', value: 'N', description: 'alert when the replication slot retains more than N MiB' },
  'base-schedule': { type: 'string', value: 'cron | off', description: 'base backups on this cron' },
  'base-full-every': {
    type: 'string',
    value: 'N',
    description:
      'a full base backup every N, increments between (PostgreSQL 17+, summarize_wal = on; default 7, 1: always full)',
  },
  agent: {
    type: 'string',
    value: 'name',
    description: 'the agent that runs it on the database\'s host ("none": the worker)',
  },
  standby: {
    type: 'string',
    value: 'postgres-url | none',
    description: 'take base backups from a streaming standby ("none": from the primary again)',
  },
} as const satisfies Record<string, FlagDef>;

export type FlagName = keyof typeof flagCatalog;

type BooleanFlag = { [K in FlagName]: (typeof flagCatalog)[K]['type'] extends 'boolean' ? K : never }[FlagName];
type StringFlag = Exclude<FlagName, BooleanFlag>;

/** The flags as handlers see them: every boolean false unless given, a string only when given. */
export type CliFlags = { [K in BooleanFlag]: boolean } & { [K in StringFlag]?: string | undefined };

export const globalFlags: FlagName[] = ['json', 'help'];
/** Every command that opens the catalog acts as someone. */
export const sessionFlags: FlagName[] = ['as'];
