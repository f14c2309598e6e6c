import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { HindsightError } from './errors.ts';

const port = z.coerce.number().int().min(1).max(65535);

/** Every environment variable Hindsight reads, with its default. */
export const configSchema = z.object({
  HINDSIGHT_DATA_DIR: z.string().min(1).default('data'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  TEMPORAL_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  HINDSIGHT_TASK_QUEUE: z.string().min(1).default('hindsight'),
  HINDSIGHT_SECRET_KEY_FILE: z.string().min(1).optional(),
  HINDSIGHT_WEB_PORT: port.default(3000),
  HINDSIGHT_WEB_HOST: z.string().default('127.0.0.1'),
  HINDSIGHT_META_PORT: port.default(54329),
  HINDSIGHT_TEMPORAL_UI_PORT: port.default(8233),
  HINDSIGHT_TEMPORAL_UI_URL: z.string().url().optional(),
  /** Where verification sandboxes live; the PostgreSQL OS user must be able to reach it. */
  HINDSIGHT_SANDBOX_ROOT: z.string().min(1).optional(),
});

export type RawConfig = z.infer<typeof configSchema>;

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  secretKeyFile: string;
  webPort: number;
  webHost: string;
  metaPort: number;
  temporalUiPort: number;
  temporalUiUrl: string;
  backupsDir: string;
  sandboxRoot: string;
}

/** Reads the configuration from the environment; a bad value fails with the variable's name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new HindsightError('bad_input', `invalid configuration: ${problems}`);
  }
  const raw = parsed.data;
  const dataDir = path.resolve(raw.HINDSIGHT_DATA_DIR);
  return {
    dataDir,
    databaseUrl: raw.DATABASE_URL,
    temporalAddress: raw.TEMPORAL_ADDRESS,
    temporalNamespace: raw.TEMPORAL_NAMESPACE,
    taskQueue: raw.HINDSIGHT_TASK_QUEUE,
    secretKeyFile: path.resolve(raw.HINDSIGHT_SECRET_KEY_FILE ?? path.join(dataDir, 'secret.key')),
    webPort: raw.HINDSIGHT_WEB_PORT,
    webHost: raw.HINDSIGHT_WEB_HOST,
    metaPort: raw.HINDSIGHT_META_PORT,
    temporalUiPort: raw.HINDSIGHT_TEMPORAL_UI_PORT,
    temporalUiUrl: raw.HINDSIGHT_TEMPORAL_UI_URL ?? `http://127.0.0.1:${raw.HINDSIGHT_TEMPORAL_UI_PORT}`,
    backupsDir: path.join(dataDir, 'backups'),
    // Not under the data directory: that one is private (0700) and sandbox servers run as another user.
    sandboxRoot: path.resolve(raw.HINDSIGHT_SANDBOX_ROOT ?? path.join(os.tmpdir(), 'hindsight-sandboxes')),
  };
}
