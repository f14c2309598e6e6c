import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../lib/config.ts';
import { HindsightError } from '../lib/errors.ts';

function readPem(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new HindsightError(
      'bad_input',
      `${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** TLS (and mTLS) to Temporal from the configuration; undefined means plaintext, as the dev server speaks. */
export function temporalTls(config: Pick<Config, 'temporalTls'>): TLSConfig | undefined {
  const tls = config.temporalTls;
  if (!tls) return undefined;
  return {
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(tls.caFile ? { serverRootCACertificate: readPem('TEMPORAL_TLS_CA_FILE', tls.caFile) } : {}),
    ...(tls.certFile && tls.keyFile
      ? {
          clientCertPair: {
            crt: readPem('TEMPORAL_TLS_CERT_FILE', tls.certFile),
            key: readPem('TEMPORAL_TLS_KEY_FILE', tls.keyFile),
          },
        }
      : {}),
  };
}
