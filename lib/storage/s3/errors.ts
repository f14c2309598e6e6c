import { HindsightError, type ErrorKind } from '../../errors.ts';
import { storageError, type StorageOperation } from '../contract.ts';
import { CERTIFICATE_ERROR_CODES, networkCodes } from '../shared/network-errors.ts';
import { makeRedactor } from '../shared/redact.ts';

/** What an S3 error needs to be told in the product's words. */
export interface S3ErrorContext {
  label: string;
  bucket: string;
  /** The endpoint requests go to, for "unreachable" messages. */
  endpoint: string;
  /** Values that must never appear in a message (secret key, session token). */
  secrets: readonly string[];
}

interface ProviderError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

/** An untrusted certificate reads as unreachable here: the SDK gives no separate chance to fix it. */
const NETWORK_CODES = networkCodes('EHOSTDOWN', 'ESOCKETTIMEDOUT', ...CERTIFICATE_ERROR_CODES);

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchVersion']);
const ACCESS = new Set([
  'AccessDenied',
  'Forbidden',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidSecurity',
  'CredentialsProviderError',
]);
const NO_SPACE = new Set([
  'QuotaExceeded',
  'EntityTooLarge',
  'XMinioStorageFull',
  'StorageFull',
  'ServiceQuotaExceededException',
]);
const BAD_INPUT = new Set([
  'InvalidBucketName',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'IllegalLocationConstraintException',
  'InvalidStorageClass',
  'InvalidArgument',
  'InvalidRequest',
  'InvalidObjectState',
  'InvalidEncryptionAlgorithmError',
  'KMS.NotFoundException',
  'KMS.DisabledException',
  'KMS.KMSInvalidStateException',
  'InvalidLocationConstraint',
  'NotImplemented',
  'MethodNotAllowed',
]);

/** The network-level code of an error, looking inside Node's AggregateError (happy eyeballs). */
function networkCode(error: ProviderError): string | undefined {
  if (error.code && NETWORK_CODES.has(error.code)) return error.code;
  if (error.name === 'TimeoutError') return 'timeout';
  for (const inner of error.errors ?? []) {
    const code = (inner as ProviderError).code;
    if (code && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

/** The provider's own words, e.g. `NoSuchKey: The specified key does not exist.` */
function providerText(error: ProviderError, name: string, status: number | undefined): string {
  const message = error.message && error.message !== 'UnknownError' ? error.message : '';
  const head = name && name !== 'Error' ? name : status ? `HTTP ${status}` : 'error';
  if (!message) return status && head !== `HTTP ${status}` ? `${head} (HTTP ${status})` : head;
  return message.startsWith(head) ? message : `${head}: ${message}`;
}

/**
 * Translates whatever the SDK or the network threw into a HindsightError of the right kind,
 * naming the S3 operation and the bucket so that the operator can act without a debugger.
 */
export function translateS3Error(
  error: unknown,
  context: S3ErrorContext,
  operation: StorageOperation,
  key: string,
  action: string,
): HindsightError {
  if (error instanceof HindsightError) return error;
  const e = (error ?? {}) as ProviderError;
  const name = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const said = providerText(e, name, status);
  const bucket = `bucket "${context.bucket}"`;
  const redact = makeRedactor(context.secrets, { minLength: 4 });
  const make = (kind: ErrorKind, detail: string) => storageError(kind, context.label, operation, key, redact(detail));

  const net = networkCode(e);
  if (net) {
    const why = net === 'timeout' ? 'timed out' : net;
    return make(
      'unreachable',
      `unreachable endpoint ${context.endpoint} (${why}) during ${action}: ${e.message ?? said}`,
    );
  }
  if (name === 'AbortError') return make('tool_failed', `${action} was cancelled because the write was aborted`);
  if (name === 'NoSuchBucket') {
    return make('bad_input', `bucket "${context.bucket}" does not exist (create it or fix the bucket name); ${said}`);
  }
  if (name === 'NoSuchUpload') {
    return make(
      'tool_failed',
      `the multipart upload is gone (aborted by a sweep or a bucket lifecycle rule) during ${action}; ${said}`,
    );
  }
  if (NOT_FOUND.has(name) || status === 404) return make('not_found', `no such object in ${bucket} (${said})`);
  if (name === 'InvalidAccessKeyId') {
    return make(
      'access_denied',
      `access denied for ${action} on ${bucket}: the access key ID is not known to the storage (check accessKeyId); ${said}`,
    );
  }
  if (name === 'SignatureDoesNotMatch') {
    return make(
      'access_denied',
      `access denied for ${action} on ${bucket}: the request signature does not match (check secretAccessKey); ${said}`,
    );
  }
  if (name === 'ExpiredToken' || name === 'InvalidToken' || name === 'TokenRefreshRequired') {
    return make(
      'access_denied',
      `access denied for ${action} on ${bucket}: the session token is expired or invalid (renew sessionToken); ${said}`,
    );
  }
  if (name === 'CredentialsProviderError') {
    return make(
      'access_denied',
      `no credentials for ${action} on ${bucket}: none are configured and the default provider chain (environment, shared config files, instance role) found none; ${said}`,
    );
  }
  if (NO_SPACE.has(name) || /storage cap exceeded|quota exceeded/i.test(e.message ?? '')) {
    return make('no_space', `the storage refused ${action} on ${bucket} for lack of space or quota; ${said}`);
  }
  if (ACCESS.has(name) || status === 403 || status === 401) {
    return make('access_denied', `access denied for ${action} on ${bucket} (check the key's permissions); ${said}`);
  }
  if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
    return make(
      'bad_input',
      `${bucket} is not in the configured region or endpoint (check region and endpoint); ${said}`,
    );
  }
  if (name === 'InvalidObjectState') {
    return make('bad_input', `the object is archived and must be restored before it can be read; ${said}`);
  }
  if (BAD_INPUT.has(name) || name.startsWith('KMS.') || status === 400) {
    return make('bad_input', `${action} on ${bucket} was refused; ${said}`);
  }
  return make('tool_failed', `${action} on ${bucket} failed; ${said}`);
}
