import type { Logger } from 'pino';
import { HindsightError } from '../../../errors.ts';
import type { KeyUnwrapper, KeyWrapper, WrapContext, WrappedDataKey } from '../types.ts';
import type { KmsOperation } from './aws-errors.ts';
import type { VaultTransitConfig } from './config.ts';
import { assertDataKey, canonicalContext } from './context.ts';
import { transitRequest } from './vault-http.ts';

/**
 * The 'vault-transit' kind: Vault's transit engine wraps the data key under a named key it never
 * lets out. The WrapContext goes as `associated_data` (AEAD keys) or `context` (derived keys), in
 * canonical bytes, so Vault refuses to unwrap the key for another object. `wrapped` is Vault's
 * ciphertext string (`vault:v<version>:…`) as UTF-8 bytes; `keyRef` is the transit key's name.
 *
 * Vault creates a missing key on encrypt when the token's policy allows it: give the backup token
 * only "update" on encrypt and decrypt so a mistyped name fails instead.
 */
export class VaultTransitWrapper implements KeyWrapper, KeyUnwrapper {
  readonly kind = 'vault-transit' as const;
  readonly keyRef: string;
  private readonly config: VaultTransitConfig;
  private readonly logger: Logger | undefined;

  constructor(config: VaultTransitConfig, options: { logger?: Logger } = {}) {
    this.config = config;
    this.keyRef = config.keyName;
    this.logger = options.logger;
  }

  private contextField(context: WrapContext): Record<string, string> {
    return { [this.config.contextAs]: canonicalContext(context).toString('base64') };
  }

  private async request(
    op: KmsOperation,
    action: 'encrypt' | 'decrypt',
    body: Record<string, string>,
  ): Promise<Record<string, unknown>> {
    try {
      return await transitRequest(this.config, op, action, body);
    } catch (error) {
      const kind = error instanceof HindsightError ? error.kind : 'tool_failed';
      this.logger?.warn({ kind: this.kind, keyRef: this.keyRef, op, errorKind: kind }, (error as Error).message);
      throw error;
    }
  }

  async wrap(dataKey: Buffer, context: WrapContext): Promise<WrappedDataKey> {
    assertDataKey(dataKey);
    const data = await this.request('wrap', 'encrypt', {
      plaintext: dataKey.toString('base64'),
      ...this.contextField(context),
    });
    const ciphertext = data.ciphertext;
    if (typeof ciphertext !== 'string' || !ciphertext.startsWith('vault:')) {
      throw new HindsightError('tool_failed', `Vault transit key ${this.keyRef} returned no ciphertext`);
    }
    return { kind: this.kind, keyRef: this.keyRef, wrapped: Buffer.from(ciphertext, 'utf8') };
  }

  canUnwrap(record: WrappedDataKey): boolean {
    return record.kind === this.kind && record.keyRef === this.keyRef;
  }

  async unwrap(record: WrappedDataKey, context: WrapContext): Promise<Buffer> {
    if (!this.canUnwrap(record)) {
      throw new HindsightError(
        'bad_input',
        `the data key is wrapped by ${record.kind} key ${record.keyRef}, not by Vault transit key ${this.keyRef}: configure the Vault key it names`,
      );
    }
    const data = await this.request('unwrap', 'decrypt', {
      ciphertext: record.wrapped.toString('utf8'),
      ...this.contextField(context),
    });
    const plaintext = typeof data.plaintext === 'string' ? Buffer.from(data.plaintext, 'base64') : Buffer.alloc(0);
    if (plaintext.length !== 32) {
      throw new HindsightError('integrity', `Vault transit key ${this.keyRef} unwrapped a data key of the wrong size`);
    }
    return plaintext;
  }

  async close(): Promise<void> {}
}
