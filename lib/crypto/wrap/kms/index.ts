import type { Logger } from 'pino';
import { HindsightError } from '../../../errors.ts';
import type { KeyUnwrapper, KeyWrapper } from '../types.ts';
import { AwsKmsWrapper } from './aws.ts';
import { kmsConfigSchema, type KmsConfigInput } from './config.ts';
import { VaultTransitWrapper } from './vault.ts';

/** A KMS key that both wraps and unwraps, and releases its connections when done. */
export type KmsWrapper = KeyWrapper & KeyUnwrapper & { close(): Promise<void> };

/**
 * The wrapper for a KMS configuration, validated again here since it may come from anywhere. A
 * provider added to the schema (config.ts) gets its case below; the exhaustive switch makes tsc
 * refuse a provider without one.
 */
export function kmsWrapper(config: KmsConfigInput, options: { logger?: Logger } = {}): KmsWrapper {
  const parsed = kmsConfigSchema.safeParse(config);
  if (!parsed.success) {
    // Issues name fields and rules, never values: a secret in a bad field stays out of the message.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new HindsightError('bad_input', `the KMS configuration is invalid: ${issues}`);
  }
  const valid = parsed.data;
  switch (valid.provider) {
    case 'aws':
      return new AwsKmsWrapper(valid, options);
    case 'vault':
      return new VaultTransitWrapper(valid, options);
    default: {
      const unknown: never = valid;
      throw new TypeError(`no KMS wrapper for provider ${(unknown as { provider: string }).provider}`);
    }
  }
}

export { kmsConfigSchema, maskKmsSecrets, openKmsConfig, sealKmsConfig, splitKmsSecrets } from './config.ts';
export type { KmsConfig, KmsConfigInput } from './config.ts';
