/**
 * Every flag of the `hindsight` command, declared once: whether it takes a value, and what it
 * means where a command does not say otherwise. Commands pick theirs by name (cli/commands/).
 */
import type { FlagDef } from './command-table.ts';

/** A flag that is given or not. */
const bool = (description: string) => ({ type: 'boolean' as const, description });
/** A flag that takes a value, shown as `--flag <value>`. */
const text = (value: string, description: string) => ({ type: 'string' as const, value, description });

export const flagCatalog = {
  json: bool('machine output: the result, or {"error":{kind,message}}, as JSON on stdout'),
  help: { ...bool('this usage'), short: 'h' },
  as: text('email', "act with that user's roles instead of as the local operator (or HINDSIGHT_AS=<email>)"),
  workspace: text('name', 'the workspace it belongs to (default: "default")'),
  url: text('postgres-url', 'the database to back up'),
  storage: text('name[,name...]', 'where its backups go (default: local); every backup is written to each'),
  schedule: text('cron', 'back up on this cron (five fields)'),
  timezone: text('tz', 'time zone of the cron (default: UTC)'),
  'no-check': bool('save without testing the connection'),
  'keep-backups': bool('keep its backups in storage, where db add of the same database takes them back (the default)'),
  'delete-backups': bool('delete its backups from every storage holding a copy'),
  verify: text('on | off', 'restore every new backup into a throwaway server and check it'),
  'restore-drill-target': text(
    'postgres-url | off',
    'restore drills into this server (a role that may create databases; the password in the URL is sealed), or off',
  ),
  'restore-drill-cron': text(
    'cron',
    "when restore drills run (default: monthly, on the 1st at 03:MM, MM the database's own)",
  ),
  'health-interval': text('s', 'seconds between two health probes of the database'),
  'health-failures': text('N', 'failed probes in a row before the database counts as down'),
  jobs: text(
    'N',
    'pg_dump jobs per backup, 1 to 16 (default 1: one stream); above 1 a parallel directory dump, stored as one object',
  ),
  type: text('type', 'the kind'),
  path: text('directory', 'the directory of a local storage'),
  config: text('json | @file.json', 'the configuration as JSON, or @file to keep secrets out of shell history'),
  'config-file': text('file', 'the configuration as JSON, read from a file (keeps secrets out of shell history)'),
  events: text('event[,event...]', 'the events it hears of, comma-separated'),
  encrypted: bool('the stored object as it is, still encrypted'),
  policy: text('json | @file.json', 'a retention policy'),
  save: bool('save the policy; it then runs daily (schedule retention/<db>)'),
  run: bool('run retention now'),
  wait: bool('wait for the job to finish and print its outcome'),
  deep: bool('also hold the catalog against every storage and Temporal, listing each disagreement'),
  backup: text('id', 'this backup instead of the newest'),
  to: text('postgres-url | directory', 'the target'),
  'to-database': text('name', 'a registered database as the target'),
  time: text('RFC 3339', 'point-in-time target: a time'),
  lsn: text('X/Y', 'point-in-time target: a WAL position'),
  xid: text('n', 'point-in-time target: a transaction id'),
  name: text('name', 'a name'),
  latest: bool('point-in-time target: the end of the archived WAL'),
  immediate: bool('point-in-time target: the end of the base backup'),
  'to-sandbox': bool('restore into a throwaway server, check it and remove it'),
  'with-owners': bool('logical: create the roles the target lacks and keep owners and grants'),
  'with-privileged-roles': bool('with --with-owners: keep SUPERUSER, REPLICATION, BYPASSRLS (instance owner only)'),
  'then-stop': bool('point in time into a directory: stop the server once recovery is verified, keeping the directory'),
  socket: text('path', 'the socket of a running restore (or HINDSIGHT_WAL_FETCH_SOCKET)'),
  database: text('name', 'fetch from the catalog and storage directly (or HINDSIGHT_WAL_FETCH_DATABASE)'),
  key: text('secret.key', 'the key file; without it, the key the file names, from the keyring'),
  encryption: text(
    'workspace | secret-key | public-key:<recipient> | kms:<name>',
    "how its backups, WAL and base backups are encrypted: as its workspace's default says (the default), under the secret key, for an X25519 recipient (hindsight key generate) that the workers cannot decrypt, or with data keys wrapped by a named KMS key (hindsight key kms add)",
  ),
  reencrypt: bool(
    'decrypt and encrypt every secret-key object again under a new data key, so that nothing a retired key could unwrap still opens it (and version 1 and 2 objects move too)',
  ),
  identity: text(
    'file',
    'an identity file (hindsight key generate): the private key that decrypts objects written in public-key mode',
  ),
  'kms-config': text(
    'json | @file.json',
    'a KMS key and credentials for it (as hindsight key kms add takes them): decrypts objects written in KMS mode',
  ),
  expect: text('db/backup-id', 'refuse any other object than this one before writing a byte'),
  output: { ...text('file', 'the file to write'), short: 'o' },
  owner: bool('owner of the workspace and of the installation'),
  role: text('role', 'owner, admin, editor or viewer'),
  'password-file': text(
    'file',
    'the password (its trailing newline dropped); without it, typed at a prompt or one line of stdin',
  ),
  actor: text('email | cli:user', 'entries by this actor'),
  action: text('action or prefix', 'entries of this action'),
  since: text('date | 24h | 7d', 'entries since then'),
  file: text('script', 'the script, from a file'),
  script: text('text', 'the script, inline'),
  timeout: text('s', 'seconds before the script is killed'),
  pitr: bool('also the rights WAL streaming needs (REPLICATION)'),
  'admin-url': text('postgres-url', 'a role that may create roles (default: the configured one)'),
  'slot-max-mb': text('N', 'alert when the replication slot retains more than N MiB'),
  'slot-over-limit': text(
    'alert | drop',
    'over the slot limit for longer than one check: alert only (default), or drop and recreate the slot (a gap, then a base backup)',
  ),
  synchronous: bool(
    'RPO 0: confirm WAL to the server only once it is in storage (name hindsight_<db> in synchronous_standby_names)',
  ),
  asynchronous: bool("back to pg_receivewal, which confirms WAL once it is on the worker's disk"),
  'base-schedule': text('cron | off', 'base backups on this cron'),
  'drill-schedule': text('cron | off', 'PITR drills of the server on this cron (weekly by default), or off'),
  'base-full-every': text(
    'N',
    'a full base backup every N, increments between (PostgreSQL 17+, summarize_wal = on; default 7, 1: always full)',
  ),
  agent: text('name', 'the agent that runs it on the database\'s host ("none": the worker)'),
  'storage-config': text(
    'json | @file.json',
    "a storage's configuration, as storage add --config takes it: where to read when the catalog is gone",
  ),
  id: text('id', 'this one instead of the newest'),
  newest: bool('the newest (the default)'),
  standby: text('postgres-url | none', 'take base backups from a streaming standby ("none": from the primary again)'),
  'all-databases': bool('register every database of the server on each run, and mark the ones it no longer has'),
  'only-registered': bool('stop discovering: back up only the databases the server registered'),
  'include-postgres': bool('take the postgres database too (left out by default)'),
  exclude: {
    ...text('pattern', 'leave out databases whose name matches (* and ? as in a shell); "none" clears the list'),
    repeatable: true,
  },
  retention: text('json | @file.json | off', 'a retention policy for every database the server registers'),
  'keep-databases': bool('keep its databases registered, each on its own'),
  'storage-name': text('name', 'its name in the catalog (default: its type)'),
  'dry-run': bool('show what would be removed, and remove nothing'),
  reason: text('text', 'why: recorded with the change and in the audit log'),
  issuer: text('url', "the OpenID Connect provider's issuer URL (https; http only on this machine)"),
  'client-id': text('id', "Hindsight's client id at the provider"),
  'client-secret-file': text(
    'file',
    'the client secret (its trailing newline dropped); without it, typed at a prompt or one line of stdin',
  ),
  'display-name': text('text', 'the name the login page shows'),
  claim: text('name', 'the ID token claim mapped to roles (default: groups)'),
  map: {
    ...text('value=workspace:role', 'a value of the claim that gives a role in a workspace (repeat for more)'),
    repeatable: true,
  },
} satisfies Record<string, FlagDef>;

export type FlagName = keyof typeof flagCatalog;

type BooleanFlag = { [K in FlagName]: (typeof flagCatalog)[K]['type'] extends 'boolean' ? K : never }[FlagName];
type StringFlag = Exclude<FlagName, BooleanFlag>;

/** The flags as handlers see them: every boolean false unless given, a string only when given. */
export type CliFlags = { [K in BooleanFlag]: boolean } & { [K in StringFlag]?: string | undefined };

export const globalFlags: FlagName[] = ['json', 'help'];
/** Every command that opens the catalog acts as someone. */
export const sessionFlags: FlagName[] = ['as'];

/** A workspace flag for something that belongs to one, with no default named. */
export const belongsToWorkspace = { name: 'workspace', description: 'the workspace it belongs to' } as const;

/** The flags of an `update` command: the fields to change, inline or from a file. */
export const changeFlags = [
  { name: 'config', description: 'the settings to change as JSON, or @file' },
  { name: 'config-file', description: 'the settings to change, from a JSON file' },
] as const;
