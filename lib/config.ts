import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defaultRestoreRoot } from './data-dir.ts';
import { HindsightError } from './errors.ts';
import { cronProblem } from './schedule/cron.ts';
import type { CatalogMaintenanceSettings } from './catalog/prune-rules.ts';
import type { ChecksumPolicy } from './pg/table-checksums.ts';
import { parseTrustProxy, trustProxyProblem, type TrustProxy } from './trust-proxy.ts';

const port = z.coerce.number().int().min(1).max(65535);

/** A schedule of the installation's own jobs: a five-field cron in UTC, or `off`. */
const cronOrOff = (fallback: string) =>
  z
    .string()
    .trim()
    .refine((v) => v === 'off' || cronProblem(v) === null, 'must be a five-field cron (UTC) or off')
    .default(fallback);

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
    HINDSIGHT_TEMPORAL_UI_UPSTREAM: z
      .string()
      .url()
      .refine((u) => /^https?:/.test(u), 'must be an http(s) URL')
      .optional(),
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
    HINDSIGHT_IDENTITY_FILES: z.string().optional(),
    HINDSIGHT_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(365),
    HINDSIGHT_CHECKSUM_FULL_MAX_MB: z.coerce.number().int().min(0).max(1_000_000).default(8),
    HINDSIGHT_CHECKSUM_SAMPLE_ONE_IN: z.coerce.number().int().min(1).max(1_000_000).default(64),
    HINDSIGHT_WAL_SPOOL_DIR: z.string().min(1).optional(),
    HINDSIGHT_PUBLIC_URL: z
      .string()
      .url()
      .refine((u) => /^https?:/.test(u), 'must be an http(s) URL')
      .optional(),
    HINDSIGHT_TRUST_PROXY: z
      .string()
      .superRefine((v, ctx) => {
        const problem = trustProxyProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    HINDSIGHT_SESSION_MAX_HOURS: z.coerce.number().int().min(1).max(8760).default(168),
    HINDSIGHT_METRICS_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)')
      .optional(),
    HINDSIGHT_WORKER_METRICS_PORT: port.optional(),
    HINDSIGHT_WORKER_MAX_CACHED_WORKFLOWS: z.coerce
      .number()
      .int()
      .min(2, 'must be at least 2 workflows (each cached one takes about 1.5 MiB)')
      .max(100_000)
      .default(500),
    HINDSIGHT_LOCAL_STORAGE_ROOT: z.string().min(1).optional(),
    HINDSIGHT_RCLONE_BINARY: z.string().trim().min(1).default('rclone'),
    HINDSIGHT_CATALOG_BACKUP_CRON: cronOrOff('37 2 * * *'),
    HINDSIGHT_CATALOG_BACKUP_KEEP: z.coerce.number().int().min(1).max(10000).default(14),
    HINDSIGHT_CATALOG_BACKUP_AFTER_CHANGE: z.coerce.number().int().min(0).max(86400).default(60),
    HINDSIGHT_CATALOG_MAINTENANCE_CRON: cronOrOff('23 3 * * *'),
    HINDSIGHT_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(90),
    HINDSIGHT_JOB_HISTORY_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(180),
    HINDSIGHT_DELETED_BACKUP_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(30),
  })
  .strict();

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
  /** Where browsers open the Temporal UI: the console's own /temporal when it serves the UI. */
  temporalUiUrl: string;
  /**
   * The Temporal UI server (started with `--ui-public-path /temporal`) that the console serves,
   * read-only, at /temporal/ (HINDSIGHT_TEMPORAL_UI_UPSTREAM); unset: no such route.
   */
  temporalUiUpstream: string | undefined;
  backupsDir: string;
  sandboxRoot: string;
  /** The directories point-in-time restores to a directory are confined to (HINDSIGHT_RESTORE_ROOT). */
  restoreRoots: string[];
  temporalTls: TemporalTlsConfig | undefined;
  codecTokenFile: string | undefined;
  codecCorsOrigin: string;
  previousSecretKeyFiles: string[];
  /** Identity files of public-key mode recipients this host may decrypt for (a verification agent). */
  identityFiles: string[];
  auditRetentionDays: number;
  /** Content checksums of a backup: tables up to fullMaxBytes hashed whole, larger ones sampled. */
  checksums: ChecksumPolicy;
  /** Where received WAL waits for upload (default: beside the sandbox root); a persistent volume keeps it across reschedules. */
  walSpoolDir: string | undefined;
  /** Where notifications link to (HINDSIGHT_PUBLIC_URL, or the local console). */
  publicUrl: string;
  /** HINDSIGHT_PUBLIC_URL as set: when unset, the console checks form origins against the request's own host. */
  publicUrlSetting: string | undefined;
  /** The reverse proxies whose X-Forwarded-For/-Proto the console believes (HINDSIGHT_TRUST_PROXY; false: none). */
  trustProxy: TrustProxy;
  /** How long a console session lasts after sign-in, however active. */
  sessionMaxHours: number;
  /** The bearer token /metrics requires, or undefined for an open endpoint. */
  metricsToken: string | undefined;
  workerMetricsPort: number | undefined;
  /** Workflow executions the worker keeps in memory between their tasks (its sticky cache). */
  workerMaxCachedWorkflows: number;
  /** The directory holding each workspace's local storage root (HINDSIGHT_LOCAL_STORAGE_ROOT, default <data dir>/storages). */
  localStorageRoot: string;
  /** The rclone program the worker runs for rclone storages. */
  rcloneBinary: string;
  /** The catalog's own backups: their cron (UTC; null: off), how many each storage keeps, the quiet seconds after a change (0: none). */
  catalogBackups: { cron: string | null; keep: number; afterChangeSeconds: number };
  /** The daily catalog maintenance: its cron (UTC; null: off) and how long each kind of row is kept (lib/catalog/prune-rules.ts). */
  catalogMaintenance: CatalogMaintenanceSettings;
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
    // Relative when the console serves the UI: a link then stays on whatever origin the console was opened at.
    temporalUiUrl:
      raw.HINDSIGHT_TEMPORAL_UI_URL ??
      (raw.HINDSIGHT_TEMPORAL_UI_UPSTREAM ? '/temporal' : `http://127.0.0.1:${raw.HINDSIGHT_TEMPORAL_UI_PORT}`),
    temporalUiUpstream: raw.HINDSIGHT_TEMPORAL_UI_UPSTREAM?.replace(/\/+$/, ''),
    backupsDir: path.join(dataDir, 'backups'),
    // Not under the data directory: that one is private (0700) and sandbox servers run as another user.
    sandboxRoot: path.resolve(raw.HINDSIGHT_SANDBOX_ROOT ?? path.join(os.tmpdir(), 'hindsight-sandboxes')),
    restoreRoots: raw.HINDSIGHT_RESTORE_ROOT
      ? raw.HINDSIGHT_RESTORE_ROOT.split(path.delimiter).map((d) => path.resolve(d))
      : [defaultRestoreRoot(dataDir), os.tmpdir()],
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
    identityFiles: (raw.HINDSIGHT_IDENTITY_FILES ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => path.resolve(f)),
    auditRetentionDays: raw.HINDSIGHT_AUDIT_RETENTION_DAYS,
    checksums: {
      fullMaxBytes: raw.HINDSIGHT_CHECKSUM_FULL_MAX_MB * 1024 * 1024,
      sampleOneIn: raw.HINDSIGHT_CHECKSUM_SAMPLE_ONE_IN,
    },
    walSpoolDir: raw.HINDSIGHT_WAL_SPOOL_DIR ? path.resolve(raw.HINDSIGHT_WAL_SPOOL_DIR) : undefined,
    publicUrlSetting: raw.HINDSIGHT_PUBLIC_URL,
    trustProxy: parseTrustProxy(raw.HINDSIGHT_TRUST_PROXY),
    sessionMaxHours: raw.HINDSIGHT_SESSION_MAX_HOURS,
    metricsToken: raw.HINDSIGHT_METRICS_TOKEN,
    workerMetricsPort: raw.HINDSIGHT_WORKER_METRICS_PORT,
    workerMaxCachedWorkflows: raw.HINDSIGHT_WORKER_MAX_CACHED_WORKFLOWS,
    // Beside data/backups, not inside it: the instance's own storage there is keyed by database
    // name, and a database named like a workspace would otherwise write into that workspace's root.
    localStorageRoot: path.resolve(raw.HINDSIGHT_LOCAL_STORAGE_ROOT ?? path.join(dataDir, 'storages')),
    rcloneBinary: raw.HINDSIGHT_RCLONE_BINARY,
    catalogBackups: {
      cron: raw.HINDSIGHT_CATALOG_BACKUP_CRON === 'off' ? null : raw.HINDSIGHT_CATALOG_BACKUP_CRON,
      keep: raw.HINDSIGHT_CATALOG_BACKUP_KEEP,
      afterChangeSeconds: raw.HINDSIGHT_CATALOG_BACKUP_AFTER_CHANGE,
    },
    catalogMaintenance: {
      cron: raw.HINDSIGHT_CATALOG_MAINTENANCE_CRON === 'off' ? null : raw.HINDSIGHT_CATALOG_MAINTENANCE_CRON,
      retention: {
        auditDays: raw.HINDSIGHT_AUDIT_RETENTION_DAYS,
        deliveryDays: raw.HINDSIGHT_DELIVERY_RETENTION_DAYS,
        jobHistoryDays: raw.HINDSIGHT_JOB_HISTORY_RETENTION_DAYS,
        deletedBackupDays: raw.HINDSIGHT_DELETED_BACKUP_RETENTION_DAYS,
      },
    },
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
