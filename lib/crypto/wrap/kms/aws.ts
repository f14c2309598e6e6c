import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import type { Logger } from 'pino';
import { HindsightError } from '../../../errors.ts';
import type { KeyUnwrapper, KeyWrapper, WrapContext, WrappedDataKey } from '../types.ts';
import { keyStateError, translateAwsKmsError, type AwsKmsErrorContext, type KmsOperation } from './aws-errors.ts';
import type { AwsKmsConfig } from './config.ts';
import { assertDataKey, contextMap } from './context.ts';

/** A black-holed endpoint fails in seconds, not after the OS's minutes of SYN retries. */
const CONNECT_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 15_000;
/**
 * The SDK's standard retry strategy: throttling and transient errors are retried with
 * exponential backoff and jitter, within a retry quota shared by the client's requests.
 */
const MAX_ATTEMPTS = 4;

function clientConfig(config: AwsKmsConfig): KMSClientConfig {
  return {
    region: config.region,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.accessKeyId && config.secretAccessKey
      ? {
          credentials: {
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey,
            ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
          },
        }
      : {}),
  };
}

/** The region of a key ARN; undefined for a bare key id or alias, which are always in the client's region. */
function arnRegion(keyRef: string): string | undefined {
  return keyRef.startsWith('arn:') ? keyRef.split(':')[3] : undefined;
}

/**
 * The 'aws-kms' kind: KMS Encrypt wraps the data key under a KMS key with the WrapContext as
 * encryption context, so KMS itself refuses to unwrap it for another object. `wrapped` is KMS's
 * CiphertextBlob as returned; `keyRef` is the ARN of the key KMS used (an alias resolved), so a
 * restore asks for exactly that key even after the alias moves.
 */
export class AwsKmsWrapper implements KeyWrapper, KeyUnwrapper {
  readonly kind = 'aws-kms' as const;
  readonly keyRef: string;
  private readonly client: KMSClient;
  private readonly config: AwsKmsConfig;
  private readonly logger: Logger | undefined;

  constructor(config: AwsKmsConfig, options: { logger?: Logger } = {}) {
    this.config = config;
    this.keyRef = config.keyId;
    this.logger = options.logger;
    this.client = new KMSClient(clientConfig(config));
  }

  private errorContext(keyRef: string): AwsKmsErrorContext {
    return {
      keyRef,
      endpoint: this.config.endpoint ?? `kms.${this.config.region}.amazonaws.com`,
      secrets: [this.config.secretAccessKey ?? '', this.config.sessionToken ?? ''],
    };
  }

  private failed(op: KmsOperation, keyRef: string, error: unknown): HindsightError {
    const translated = translateAwsKmsError(error, op, this.errorContext(keyRef));
    this.logger?.warn({ kind: this.kind, keyRef, op, errorKind: translated.kind }, translated.message);
    return translated;
  }

  async wrap(dataKey: Buffer, context: WrapContext): Promise<WrappedDataKey> {
    assertDataKey(dataKey);
    await this.assertUsable('wrap', this.keyRef);
    try {
      const answer = await this.client.send(
        new EncryptCommand({ KeyId: this.keyRef, Plaintext: dataKey, EncryptionContext: contextMap(context) }),
      );
      if (!answer.CiphertextBlob) throw new Error('KMS returned no CiphertextBlob');
      return { kind: this.kind, keyRef: answer.KeyId ?? this.keyRef, wrapped: Buffer.from(answer.CiphertextBlob) };
    } catch (error) {
      throw this.failed('wrap', this.keyRef, error);
    }
  }

  canUnwrap(record: WrappedDataKey): boolean {
    if (record.kind !== this.kind) return false;
    const region = arnRegion(record.keyRef);
    return region === undefined || region === this.config.region;
  }

  async unwrap(record: WrappedDataKey, context: WrapContext): Promise<Buffer> {
    if (!this.canUnwrap(record)) {
      throw new HindsightError(
        'bad_input',
        `the data key is wrapped by ${record.kind} key ${record.keyRef}, which this AWS KMS (region ${this.config.region}) cannot open: configure a KMS in the key's region`,
      );
    }
    await this.assertUsable('unwrap', record.keyRef);
    let plaintext: Uint8Array | undefined;
    try {
      const answer = await this.client.send(
        new DecryptCommand({
          KeyId: record.keyRef,
          CiphertextBlob: record.wrapped,
          EncryptionContext: contextMap(context),
        }),
      );
      plaintext = answer.Plaintext;
    } catch (error) {
      throw this.failed('unwrap', record.keyRef, error);
    }
    if (plaintext?.length !== 32) {
      throw new HindsightError('integrity', `KMS key ${record.keyRef} unwrapped a data key of the wrong size`);
    }
    return Buffer.from(plaintext);
  }

  /**
   * Refuses a key that KMS reports disabled or scheduled for deletion, with the fix, before using it:
   * KMS's own refusal says less, and some KMS-compatible services do not refuse at all. When these
   * credentials may not call DescribeKey, Encrypt's or Decrypt's own answer decides.
   */
  private async assertUsable(op: KmsOperation, keyRef: string): Promise<void> {
    let state: string | undefined;
    let deletionDate: Date | undefined;
    try {
      const answer = await this.client.send(new DescribeKeyCommand({ KeyId: keyRef }));
      state = answer.KeyMetadata?.KeyState;
      deletionDate = answer.KeyMetadata?.DeletionDate;
    } catch (error) {
      const translated = translateAwsKmsError(error, op, this.errorContext(keyRef));
      if (translated.kind === 'access_denied') return;
      throw this.failed(op, keyRef, error);
    }
    const refusal = state ? keyStateError(op, keyRef, state, deletionDate) : undefined;
    if (refusal) {
      this.logger?.warn({ kind: this.kind, keyRef, op, errorKind: refusal.kind }, refusal.message);
      throw refusal;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
