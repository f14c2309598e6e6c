import { HindsightError, type ErrorKind } from '../../../errors.ts';

export type KmsOperation = 'wrap' | 'unwrap';

/** What a failure is about: the key, where KMS was reached, and the secrets no message may carry. */
export interface AwsKmsErrorContext {
  keyRef: string;
  endpoint: string;
  secrets: readonly string[];
}

const again = (op: KmsOperation): string =>
  op === 'unwrap' ? 'then run the restore again' : 'then run the backup again, or choose another key';

/** The key's state as DescribeKey reports it, when it keeps the key from wrapping or unwrapping. */
export function keyStateError(
  op: KmsOperation,
  keyRef: string,
  state: string,
  deletionDate: Date | undefined,
): HindsightError | undefined {
  if (state === 'Disabled') {
    return new HindsightError(
      'access_denied',
      `KMS key ${keyRef} is disabled: enable it (aws kms enable-key --key-id ${keyRef}), ${again(op)}`,
    );
  }
  if (state === 'PendingDeletion' || state === 'PendingReplicaDeletion') {
    const on = deletionDate ? ` on ${deletionDate.toISOString()}` : '';
    return new HindsightError(
      'access_denied',
      `KMS key ${keyRef} is scheduled for deletion${on}: cancel it (aws kms cancel-key-deletion --key-id ${keyRef}) and enable the key, ${again(op)}; once the key is deleted, what it wrapped can never be opened`,
    );
  }
  if (state === 'PendingImport' || state === 'Unavailable' || state === 'Creating' || state === 'Updating') {
    return new HindsightError(
      'unreachable',
      `KMS key ${keyRef} is not usable now (state ${state}): wait until KMS reports it Enabled, ${again(op)}`,
    );
  }
  return undefined;
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[secret]');
  return out;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
]);

/** KMS's and the network's failures in the project's words: the key named, and the fix. */
export function translateAwsKmsError(error: unknown, op: KmsOperation, ctx: AwsKmsErrorContext): HindsightError {
  if (error instanceof HindsightError) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? '';
  const said = scrub(e.message ?? String(error), ctx.secrets);
  const key = `KMS key ${ctx.keyRef}`;
  const fail = (kind: ErrorKind, message: string) => new HindsightError(kind, message, { cause: said });
  switch (name) {
    case 'DisabledException':
      return keyStateError(op, ctx.keyRef, 'Disabled', undefined) ?? fail('access_denied', said);
    case 'KMSInvalidStateException':
      return fail(
        'access_denied',
        `${key} cannot be used in its current state (${said}): if it is scheduled for deletion, cancel it (aws kms cancel-key-deletion --key-id ${ctx.keyRef}) and enable the key, ${again(op)}`,
      );
    case 'NotFoundException':
      return fail('not_found', `${key} does not exist in this account and region (${said}): check keyId and region`);
    case 'InvalidCiphertextException':
      return fail(
        'integrity',
        `the data key wrapped by ${key} does not open with this object's context: the header was altered or copied from another object`,
      );
    case 'IncorrectKeyException':
      return fail('integrity', `the data key was not wrapped by ${key}: the header names another key than wrapped it`);
    case 'InvalidKeyUsageException':
      return fail('bad_input', `${key} cannot encrypt and decrypt (${said}): use a symmetric ENCRYPT_DECRYPT key`);
    case 'AccessDeniedException':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'IncompleteSignature':
    case 'ExpiredTokenException':
    case 'InvalidClientTokenId':
      return fail(
        'access_denied',
        `KMS refused access to ${key} (${name}: ${said}): give these credentials kms:Encrypt and kms:Decrypt on the key in its key policy or IAM`,
      );
    case 'ThrottlingException':
    case 'LimitExceededException':
      return fail(
        'busy',
        `KMS throttled requests for ${key} after retries (${said}): try again later or raise the KMS request quota`,
      );
    case 'KMSInternalException':
    case 'DependencyTimeoutException':
    case 'KeyUnavailableException':
      return fail('unreachable', `KMS could not use ${key} now (${name}: ${said}): try again later`);
  }
  if (NETWORK_CODES.has(e.code ?? '') || name === 'TimeoutError' || /ECONNREFUSED|ETIMEDOUT|ENOTFOUND/.test(said)) {
    return fail(
      'unreachable',
      `cannot reach KMS at ${ctx.endpoint} for ${key} (${said}): check the endpoint, the region and the network`,
    );
  }
  const status = e.$metadata?.httpStatusCode;
  const kind: ErrorKind = status !== undefined && status >= 500 ? 'unreachable' : 'tool_failed';
  return fail(kind, `KMS failed to ${op} with ${key} (${name || 'error'}: ${said})`);
}
