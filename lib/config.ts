import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { HindsightError } from './errors.ts';

const port = z.coerce.number().int().min(1).max(65535);

/** Every environment variable Hindsight reads, with its default. */
export const configSchema = z
  .object({
    HINDSIGHT_DATA_DIR: z.string().min(1).default('data'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    TEMPORAL_ADDRESS: z
      .string()
      .regex(/^[^:\s]+:\d+$/, 'must be host:port')
      .default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    HINDSIGHT_TASK_QUEUE: z.string().min(1).default('hindsight'),
    HINDSIGHT_SECRET_KEY_FILE: z.string().min(1).optional(),
    HINDSIGHT_KEYS_DIR: z.string().min(1).optional(),
    HINDSIGHT_WEB_PORT: port.default(3000),
    HINDSIGHT_WEB_HOST: z.string().default('127.0.0.1'),
    HINDSIGHT_META_PORT: port.default(54329),
    HINDSIGHT_TEMPORAL_UI_PORT: port.default(8233),
    HINDSIGHT_TEMPORAL_UI_URL: z.string().url().optional(),
    HINDSIGHT_SANDBOX_ROOT: z.string().min(1).optional(),
    HINDSIGHT_RESTORE_ROOT: z
      .string()
      .min(1)
      .refine(
        (v) => v.split(path.delimiter).every((d) => path.isAbsolute(d)),
        'must be absolute directories separated by ":"',
      )
      .optional(),
    TEMPORAL_TLS_CA_FILE: z.string().min(1).optional(),
    TEMPORAL_TLS_CERT_FILE: z.string().min(1).optional(),
    TEMPORAL_TLS_KEY_FILE: z.string().min(1).optional(),
    TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
    TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
    HINDSIGHT_CODEC_TOKEN_FILE: z.string().min(1).optional(),
    HINDSIGHT_CODEC_CORS_ORIGIN: z.string().url().optional(),
    HINDSIGHT_PREVIOUS_SECRET_KEY_FILES: z.string().optional(),
    HINDSIGHT_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(365),
    HINDSIGHT_WAL_SPOOL_DIR: z.string().min(1).optional(),
    HINDSIGHT_PUBLIC_URL: z
      .string()
      .url()
      .refine((u) => /^https?:/.test(u), 'must be an http(s) URL')
      .optional(),
    HINDSIGHT_METRICS_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)')
      .optional(),
    HINDSIGHT_WORKER_METRICS_PORT: port.optional(),
    HINDSIGHT_LOCAL_STORAGE_ROOT: z.string().min(1).optional(),
    HINDSIGHT_RCLONE_BINARY: z.string().trim().min(1).default('rclone'),
  })
  .strict();

/** What a variable is documented as: its default in words and what it does (docs/configuration.md is generated from these). */
export interface VariableDoc {
  default: string;
  what: string;
}

/** Every variable of configSchema, documented; the type makes a new variable without a line here fail to compile. */
export const configDocs: Record<keyof z.infer<typeof configSchema>, VariableDoc> = {
  HINDSIGHT_DATA_DIR: {
    default: '`data`',
    what: "local state: the secret key, the embedded catalog, the Temporal dev server's database and the `local` storage of `npm start`",
  },
  DATABASE_URL: {
    default: 'the embedded server',
    what: "the catalog, `postgres://…`; leave it unset only for `npm start`'s embedded PostgreSQL in `<data dir>/meta`",
  },
  TEMPORAL_ADDRESS: { default: '`127.0.0.1:7233`', what: 'the Temporal frontend, `host:port`' },
  TEMPORAL_NAMESPACE: { default: '`default`', what: 'the Temporal namespace' },
  HINDSIGHT_TASK_QUEUE: {
    default: '`hindsight`',
    what: 'the main task queue; verification agents poll `<queue>-verify`, agents `agent/<name>`',
  },
  HINDSIGHT_SECRET_KEY_FILE: {
    default: '`<data dir>/secret.key`',
    what: 'the current secret key: new backups, WAL, Temporal payloads and catalog secrets are encrypted with it',
  },
  HINDSIGHT_KEYS_DIR: {
    default: '`keys/` beside the current key file',
    what: 'every key made current so far, as `<key id>.key`, written by `hindsight key rotate`; every decryption looks here by key id',
  },
  HINDSIGHT_WEB_PORT: { default: '`3000`', what: "the console's port (also `/api/v1`, `/metrics`, `/codec`)" },
  HINDSIGHT_WEB_HOST: {
    default: '`127.0.0.1`',
    what: "the address the console (and the worker's `/metrics`) listens on",
  },
  HINDSIGHT_META_PORT: { default: '`54329`', what: 'the embedded catalog PostgreSQL of `npm start` only' },
  HINDSIGHT_TEMPORAL_UI_PORT: { default: '`8233`', what: "the Temporal UI of `npm start`'s dev server only" },
  HINDSIGHT_TEMPORAL_UI_URL: {
    default: '`http://127.0.0.1:<Temporal UI port>`',
    what: 'the Temporal UI as browsers reach it: links from the console',
  },
  HINDSIGHT_SANDBOX_ROOT: {
    default: '`$TMPDIR/hindsight-sandboxes`',
    what: 'where verification sandboxes live; the PostgreSQL OS user must be able to reach it (so not under the private data directory)',
  },
  HINDSIGHT_RESTORE_ROOT: {
    default: '`<data dir>/restores` and the OS temp dir',
    what: 'where a point-in-time restore may create its directory on this worker or agent: absolute directories separated by `:`',
  },
  TEMPORAL_TLS_CA_FILE: { default: '—', what: 'TLS to Temporal: a CA to trust' },
  TEMPORAL_TLS_CERT_FILE: {
    default: '—',
    what: 'mTLS to Temporal: the client certificate (with `TEMPORAL_TLS_KEY_FILE`: both or neither)',
  },
  TEMPORAL_TLS_KEY_FILE: { default: '—', what: 'mTLS to Temporal: the client key (with `TEMPORAL_TLS_CERT_FILE`)' },
  TEMPORAL_TLS_SERVER_NAME: { default: '—', what: 'the server name TLS to Temporal checks; setting it turns TLS on' },
  TEMPORAL_TLS: {
    default: '—',
    what: "`true` turns TLS on with the system's CAs when no file is given; `false` turns it off (and contradicts the files)",
  },
  HINDSIGHT_CODEC_TOKEN_FILE: {
    default: '— (endpoint off)',
    what: 'the bearer token the Temporal UI or CLI must send to the codec endpoint `/codec`; setting it turns the endpoint on',
  },
  HINDSIGHT_CODEC_CORS_ORIGIN: {
    default: "the Temporal UI's origin",
    what: 'the one browser origin allowed to call the codec endpoint',
  },
  HINDSIGHT_PREVIOUS_SECRET_KEY_FILES: {
    default: '—',
    what: 'further earlier keys kept outside the keys directory, comma-separated: what they encrypted stays readable',
  },
  HINDSIGHT_AUDIT_RETENTION_DAYS: {
    default: '`365`',
    what: 'audit entries older than this are deleted daily by the console process',
  },
  HINDSIGHT_WAL_SPOOL_DIR: {
    default: '`hindsight-wal-spool` beside the sandbox root',
    what: 'where received WAL waits for upload; keep it on a volume that outlives the container (the slot has moved past it)',
  },
  HINDSIGHT_PUBLIC_URL: {
    default: "`http://localhost:3000` for links; unset: form origins are checked against the request's host",
    what: 'the console as people reach it (behind a proxy): notifications link to it, form posts must come from its origin, `https://` makes the session cookie `Secure`',
  },
  HINDSIGHT_METRICS_TOKEN: {
    default: '— (open)',
    what: 'when set (16 characters or more), `/metrics` of the console and the worker needs `Authorization: Bearer <it>`; unset, it is open (names and numbers only)',
  },
  HINDSIGHT_WORKER_METRICS_PORT: {
    default: '— (off)',
    what: "the worker's own `/metrics` (activity counters, process metrics), on `HINDSIGHT_WEB_HOST` and this port",
  },
  HINDSIGHT_LOCAL_STORAGE_ROOT: {
    default: '`<data dir>/storages`',
    what: "workspace admins' local (and NAS-mounted) storages lie under `<it>/<workspace>`; only the instance owner may choose a path elsewhere",
  },
  HINDSIGHT_RCLONE_BINARY: {
    default: '`rclone`',
    what: 'the rclone program rclone storages run (a path, or a name looked up on `PATH`); only the instance owner may name another per storage',
  },
};

/**
 * Variables read from the environment only, never from the config file: tools, logs and the
 * programs' own switches. Each is read where it is used; this list documents them.
 */
export const environmentOnlyDocs: Record<string, VariableDoc> = {
  HINDSIGHT_CONFIG_FILE: {
    default: '—',
    what: 'a file of `NAME=value` lines with the names above (`#` comments; an unknown name is refused with its line); the environment wins over the file',
  },
  HINDSIGHT_PG_BIN: { default: '—', what: 'a directory of PostgreSQL binaries to prefer over the installed ones' },
  HINDSIGHT_TEMPORAL_CLI: { default: '`.venv/bin/temporal`', what: 'the `temporal` CLI that starts the dev server' },
  HINDSIGHT_PG_OS_USER: {
    default: '`postgres`',
    what: 'the OS user the embedded PostgreSQL runs as when Hindsight runs as root',
  },
  HINDSIGHT_SANDBOX_OS_USER: {
    default: '`hindsight-sandbox`',
    what: "the OS user restored clusters (verification sandboxes, PITR restores) run as; never the worker's own user or root",
  },
  HINDSIGHT_SANDBOX_DRIVER: {
    default: '`auto`',
    what: '`auto`, `process` or `docker`: where verification sandboxes run (`auto` takes docker when the engine answers)',
  },
  HINDSIGHT_SANDBOX_DOCKER_NETWORK: {
    default: '— (no network)',
    what: "an internal Docker network the worker's container shares with docker sandboxes",
  },
  HINDSIGHT_SANDBOX_BWRAP: { default: '`auto`', what: '`off` skips confining process sandboxes with bubblewrap' },
  HINDSIGHT_WAL_FETCH_SOCKET: {
    default: '—',
    what: "`hindsight wal-fetch`: the restore activity's socket (as `--socket`)",
  },
  HINDSIGHT_WAL_FETCH_DATABASE: {
    default: '—',
    what: '`hindsight wal-fetch`: read the configuration and key itself for this database (as `--database`)',
  },
  HINDSIGHT_AS: { default: '— (the local operator)', what: "the CLI acts with this user's roles (as `--as <email>`)" },
  HINDSIGHT_LOG_LEVEL: { default: '`info`', what: 'the log level (pino)' },
  HINDSIGHT_LOG_PRETTY: { default: '—', what: '`1` prints logs for people instead of JSON lines' },
  HINDSIGHT_TEST_JOBS: {
    default: '`3`',
    what: 'how many integration test files `scripts/run-tests.ts` runs side by side',
  },
};

/** Variables that configure Hindsight; a config file may only hold these. */
export const configVariables = Object.keys(configSchema.shape) as Array<keyof z.infer<typeof configSchema>>;

export type RawConfig = z.infer<typeof configSchema>;

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  secretKeyFile: string;
  /** Earlier (and current) keys by id, written by `hindsight key rotate`; read by every decryption. */
  keysDir: string;
  webPort: number;
  webHost: string;
  metaPort: number;
  temporalUiPort: number;
  temporalUiUrl: string;
  backupsDir: string;
  sandboxRoot: string;
  /** The directories point-in-time restores to a directory are confined to (HINDSIGHT_RESTORE_ROOT). */
  restoreRoots: string[];
  temporalTls: TemporalTlsConfig | undefined;
  codecTokenFile: string | undefined;
  codecCorsOrigin: string;
  previousSecretKeyFiles: string[];
  auditRetentionDays: number;
  /** Where received WAL waits for upload (default: beside the sandbox root); a persistent volume keeps it across reschedules. */
  walSpoolDir: string | undefined;
  /** Where notifications link to (HINDSIGHT_PUBLIC_URL, or the local console). */
  publicUrl: string;
  /** HINDSIGHT_PUBLIC_URL as set: when unset, the console checks form origins against the request's own host. */
  publicUrlSetting: string | undefined;
  /** The bearer token /metrics requires, or undefined for an open endpoint. */
  metricsToken: string | undefined;
  workerMetricsPort: number | undefined;
  /** The directory holding each workspace's local storage root (HINDSIGHT_LOCAL_STORAGE_ROOT, default <data dir>/storages). */
  localStorageRoot: string;
  /** The rclone program the worker runs for rclone storages. */
  rcloneBinary: string;
}

export interface TemporalTlsConfig {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  serverName: string | undefined;
}

/**
 * The optional config file (HINDSIGHT_CONFIG_FILE): `NAME=value` lines with the same names as the
 * environment; `#` starts a comment. The environment wins over the file.
 */
export function readConfigFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new HindsightError(
      'bad_input',
      `HINDSIGHT_CONFIG_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  const values: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z_][A-Z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match)
      throw new HindsightError('bad_input', `${file}:${index + 1}: expected NAME=value, got "${line.slice(0, 40)}"`);
    const [, name, rawValue] = match as unknown as [string, string, string];
    if (!(configVariables as string[]).includes(name)) {
      throw new HindsightError(
        'bad_input',
        `${file}:${index + 1}: unknown setting ${name} (known: ${configVariables.join(', ')})`,
      );
    }
    values[name] = rawValue.replace(/^(['"])(.*)\1$/, '$2');
  }
  return values;
}

/** Only the variables Hindsight reads: a stray one in the environment is none of its business. */
function pick(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of configVariables) {
    const value = env[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

/** Reads the configuration from the environment; a bad value fails with the variable's name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const fromFile = env.HINDSIGHT_CONFIG_FILE ? readConfigFile(env.HINDSIGHT_CONFIG_FILE) : {};
  const parsed = configSchema.safeParse({ ...fromFile, ...pick(env) });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new HindsightError('bad_input', `invalid configuration: ${problems}`);
  }
  const raw = parsed.data;
  const dataDir = path.resolve(raw.HINDSIGHT_DATA_DIR);
  const secretKeyFile = path.resolve(raw.HINDSIGHT_SECRET_KEY_FILE ?? path.join(dataDir, 'secret.key'));
  return {
    dataDir,
    databaseUrl: raw.DATABASE_URL,
    temporalAddress: raw.TEMPORAL_ADDRESS,
    temporalNamespace: raw.TEMPORAL_NAMESPACE,
    taskQueue: raw.HINDSIGHT_TASK_QUEUE,
    secretKeyFile,
    keysDir: path.resolve(raw.HINDSIGHT_KEYS_DIR ?? path.join(path.dirname(secretKeyFile), 'keys')),
    webPort: raw.HINDSIGHT_WEB_PORT,
    webHost: raw.HINDSIGHT_WEB_HOST,
    metaPort: raw.HINDSIGHT_META_PORT,
    temporalUiPort: raw.HINDSIGHT_TEMPORAL_UI_PORT,
    temporalUiUrl: raw.HINDSIGHT_TEMPORAL_UI_URL ?? `http://127.0.0.1:${raw.HINDSIGHT_TEMPORAL_UI_PORT}`,
    backupsDir: path.join(dataDir, 'backups'),
    // Not under the data directory: that one is private (0700) and sandbox servers run as another user.
    sandboxRoot: path.resolve(raw.HINDSIGHT_SANDBOX_ROOT ?? path.join(os.tmpdir(), 'hindsight-sandboxes')),
    restoreRoots: raw.HINDSIGHT_RESTORE_ROOT
      ? raw.HINDSIGHT_RESTORE_ROOT.split(path.delimiter).map((d) => path.resolve(d))
      : [path.join(dataDir, 'restores'), os.tmpdir()],
    temporalTls: temporalTlsOf(raw),
    codecTokenFile: raw.HINDSIGHT_CODEC_TOKEN_FILE,
    codecCorsOrigin: new URL(
      raw.HINDSIGHT_CODEC_CORS_ORIGIN ??
        raw.HINDSIGHT_TEMPORAL_UI_URL ??
        `http://127.0.0.1:${raw.HINDSIGHT_TEMPORAL_UI_PORT}`,
    ).origin,
    publicUrl: (raw.HINDSIGHT_PUBLIC_URL ?? 'http://localhost:3000').replace(/\/+$/, ''),
    previousSecretKeyFiles: (raw.HINDSIGHT_PREVIOUS_SECRET_KEY_FILES ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => path.resolve(f)),
    auditRetentionDays: raw.HINDSIGHT_AUDIT_RETENTION_DAYS,
    walSpoolDir: raw.HINDSIGHT_WAL_SPOOL_DIR ? path.resolve(raw.HINDSIGHT_WAL_SPOOL_DIR) : undefined,
    publicUrlSetting: raw.HINDSIGHT_PUBLIC_URL,
    metricsToken: raw.HINDSIGHT_METRICS_TOKEN,
    workerMetricsPort: raw.HINDSIGHT_WORKER_METRICS_PORT,
    // Beside data/backups, not inside it: the instance's own storage there is keyed by database
    // name, and a database named like a workspace would otherwise write into that workspace's root.
    localStorageRoot: path.resolve(raw.HINDSIGHT_LOCAL_STORAGE_ROOT ?? path.join(dataDir, 'storages')),
    rcloneBinary: raw.HINDSIGHT_RCLONE_BINARY,
  };
}

function temporalTlsOf(raw: RawConfig): TemporalTlsConfig | undefined {
  const {
    TEMPORAL_TLS_CA_FILE: caFile,
    TEMPORAL_TLS_CERT_FILE: certFile,
    TEMPORAL_TLS_KEY_FILE: keyFile,
    TEMPORAL_TLS_SERVER_NAME: serverName,
  } = raw;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new HindsightError(
      'bad_input',
      'invalid configuration: TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together (mTLS needs both)',
    );
  }
  if (raw.TEMPORAL_TLS === 'false') {
    if (caFile || certFile)
      throw new HindsightError(
        'bad_input',
        'invalid configuration: TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CA_FILE/TEMPORAL_TLS_CERT_FILE',
      );
    return undefined;
  }
  if (!caFile && !certFile && !serverName && raw.TEMPORAL_TLS !== 'true') return undefined;
  return { caFile, certFile, keyFile, serverName };
}

/**
 * The rclone program of the installation, for the storage driver, which has no Config at hand:
 * the same setting loadConfig reads (environment over config file), and only that one.
 */
export function instanceRcloneBinary(env: NodeJS.ProcessEnv = process.env): string {
  const fromFile = env.HINDSIGHT_CONFIG_FILE ? readConfigFile(env.HINDSIGHT_CONFIG_FILE) : {};
  const value = pick(env).HINDSIGHT_RCLONE_BINARY ?? fromFile.HINDSIGHT_RCLONE_BINARY;
  const parsed = configSchema.shape.HINDSIGHT_RCLONE_BINARY.safeParse(value);
  if (!parsed.success)
    throw new HindsightError(
      'bad_input',
      `invalid configuration: HINDSIGHT_RCLONE_BINARY: ${parsed.error.issues[0]!.message}`,
    );
  return parsed.data;
}
