import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type DataConverter, type LoadedDataConverter } from '@temporalio/common';
import type { Config } from '../lib/config.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import type { SecretKey } from '../lib/crypto/secret-key.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { EncryptionCodec } from './codec.ts';
import { failureConverter } from './failure-converter.ts';
import { KeyringCodec } from './keyring-codec.ts';
import { temporalTls } from './tls.ts';

/** The keys a codec uses: fixed ones, or a keyring that follows rotations. */
export type CodecKeys = { key: SecretKey; previousKeys: SecretKey[]; keyring?: Keyring };

const failureConverterPath = fileURLToPath(new URL('./failure-converter.ts', import.meta.url));

/**
 * Every Temporal client and worker of Hindsight uses this one converter: payloads encrypted, failure
 * messages and stack traces encoded (and so encrypted), plaintext payloads refused on decode.
 *
 * Clients refuse plaintext too, not only the worker: a result, query answer or failure detail that
 * is not encrypted was not written by a Hindsight worker (anyone who reaches the frontend can poll a
 * task queue and complete a task), so a client must not show it as a backup's outcome.
 *
 * It is both a DataConverter and a LoadedDataConverter: a Worker reads failureConverterPath (the
 * workflow bundle needs a module to load), a Client sees `payloadConverter` and takes the converters
 * as they are, without require()-ing a TypeScript file (which the `hindsight` command could not).
 */
export function hindsightDataConverter(keys: CodecKeys): DataConverter & LoadedDataConverter {
  return {
    payloadConverter: defaultPayloadConverter,
    failureConverter,
    failureConverterPath,
    payloadCodecs: [
      keys.keyring
        ? new KeyringCodec(keys.keyring, 'refuse')
        : new EncryptionCodec(keys.key, keys.previousKeys, { plaintext: 'refuse' }),
    ],
  };
}

export async function connectTemporalClient(
  config: Pick<Config, 'temporalAddress' | 'temporalNamespace' | 'temporalTls'>,
  keys: CodecKeys,
): Promise<Client> {
  const tls = temporalTls(config);
  try {
    const connection = await Connection.connect({
      address: config.temporalAddress,
      connectTimeout: '10 seconds',
      ...(tls ? { tls } : {}),
    });
    return new Client({ connection, namespace: config.temporalNamespace, dataConverter: hindsightDataConverter(keys) });
  } catch (error) {
    throw new HindsightError(
      'unreachable',
      `Temporal at ${config.temporalAddress} is unreachable (${errorMessage(error)}): start it with npm start, or set TEMPORAL_ADDRESS`,
    );
  }
}

/**
 * A client whose connection is made on its first call, not now: for a process that may never need
 * Temporal (a command that only reads the catalog). An unreachable server fails that first call.
 */
export function lazyTemporalClient(
  config: Pick<Config, 'temporalAddress' | 'temporalNamespace' | 'temporalTls'>,
  keys: CodecKeys,
): Client {
  const tls = temporalTls(config);
  const connection = Connection.lazy({ address: config.temporalAddress, ...(tls ? { tls } : {}) });
  return new Client({ connection, namespace: config.temporalNamespace, dataConverter: hindsightDataConverter(keys) });
}

/** Link to a workflow in the Temporal UI. */
export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
