import { pino, type Logger } from 'pino';

/**
 * Secrets are removed here, once, rather than at every call site: any field with one of these
 * names is replaced wherever it appears in a log record.
 */
const redactedFields = [
  'password',
  'secret',
  'secretKey',
  'token',
  'accessKey',
  'secretAccessKey',
  'url',
  'connectionString',
  '*.password',
  '*.secret',
  '*.secretKey',
  '*.token',
  '*.accessKey',
  '*.secretAccessKey',
  '*.url',
  '*.connectionString',
];

export function createLogger(name: string): Logger {
  const pretty = process.env.HINDSIGHT_LOG_PRETTY === '1';
  return pino({
    name,
    level: process.env.HINDSIGHT_LOG_LEVEL ?? 'info',
    redact: { paths: redactedFields, censor: '[redacted]' },
    // The Temporal SDK logs its failures under `error`: without a serializer an Error prints as {}.
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname,name', singleLine: true },
          },
        }
      : {}),
  });
}

export type { Logger };
