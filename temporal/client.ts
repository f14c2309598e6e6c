import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../lib/config.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import type { SecretKey } from '../lib/crypto/secret-key.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { EncryptionCodec } from './codec.ts';
import { KeyringCodec } from './keyring-codec.ts';
import { temporalTls } from './tls.ts';

/** The keys a codec uses: fixed ones, or a keyring that follows rotations. */
export type CodecKeys = { key: SecretKey; previousKeys: SecretKey[]; keyring?: Keyring };

/** Every Temporal client and worker of Hindsight encrypts its payloads with the same codec. */
export function hindsightDataConverter(keys: CodecKeys): DataConverter {
  return { payloadCodecs: [keys.keyring ? new KeyringCodec(keys.keyring) : new EncryptionCodec(keys.key, keys.previousKeys)] };
}

export async function connectTemporalClient(
  config: Pick<Config, 'temporalAddress' | 'temporalNamespace' | 'temporalTls'>,
  keys: CodecKeys,
): Promise<Client> {
  const tls = temporalTls(config);
  try {
    const connection = await Connection.connect({ address: config.temporalAddress, connectTimeout: '10 seconds', ...(tls ? { tls } : {}) });
    return new Client({ connection, namespace: config.temporalNamespace, dataConverter: hindsightDataConverter(keys) });
  } catch (error) {
    throw new HindsightError('unreachable', `Temporal at ${config.temporalAddress} is unreachable (${errorMessage(error)}): start it with npm start, or set TEMPORAL_ADDRESS`);
  }
}

/** Link to a workflow in the Temporal UI. */
export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
