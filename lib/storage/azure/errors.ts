import { HindsightError, type ErrorKind } from '../../errors.ts';
import { storageError, type StorageOperation } from '../contract.ts';
import { networkCodes } from '../shared/network-errors.ts';
import { makeRedactor } from '../shared/redact.ts';

export interface AzureFailure {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
  name?: string;
  message?: string;
}

const NETWORK_CODES = networkCodes('ESOCKETTIMEDOUT', 'REQUEST_SEND_ERROR');
const AUTH_CODES = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationProtocolMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'AuthorizationSourceIPMismatch',
  'InsufficientAccountPermissions',
  'InvalidAuthenticationInfo',
  'AccountIsDisabled',
  'KeyBasedAuthenticationNotPermitted',
]);
const SPACE_CODES = new Set([
  'RequestBodyTooLarge',
  'BlockCountExceedsLimit',
  'BlockListTooLong',
  'BlobTooLarge',
  'ContainerQuotaExceeded',
  'AccountQuotaExceeded',
]);

/** HEAD responses carry no body: their error code only arrives in a header, which the SDK puts in details. */
export const errorCodeOf = (failure: AzureFailure): string | undefined =>
  (typeof failure.code === 'string' ? failure.code : undefined) ?? failure.details?.errorCode;

/** The first line of the service's message (the rest is a request id and a time stamp). */
function providerText(failure: AzureFailure): string {
  const first = (failure.message ?? '').split('\n')[0]?.trim() ?? '';
  const code = errorCodeOf(failure);
  const status = failure.statusCode;
  const tag = [code && !first.includes(code) ? code : undefined, status ? `HTTP ${status}` : undefined]
    .filter(Boolean)
    .join(', ');
  if (!first) return tag ? `the service answered ${tag}` : 'the service request failed';
  return tag ? `${first} (${tag})` : first;
}

/** Removes credentials, should a message ever echo them, and SAS signatures in URLs. */
export function redactor(secrets: string[]): (text: string) => string {
  const scrub = makeRedactor(secrets, { minLength: 8 });
  return (text) => scrub(text).replace(/([?&]sig=)[^&\s]+/gi, '$1[redacted]');
}

export function connectionStringSecrets(connectionString: string): string[] {
  const secrets = [connectionString];
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim().toLowerCase();
    if (name === 'accountkey' || name === 'sharedaccesssignature') secrets.push(part.slice(at + 1).trim());
  }
  return secrets;
}

export type Translate = (operation: StorageOperation, key: string, error: unknown) => HindsightError;

/** What the service said, sorted into a kind; `container` and `endpoint` name the settings to check. */
function kindAndDetail(
  failure: AzureFailure,
  container: string,
  endpoint: string,
): { kind: ErrorKind; detail: string } {
  const code = errorCodeOf(failure);
  const status = failure.statusCode;
  if (code === 'ContainerNotFound') {
    // A settings problem, not a missing object: reading it as not_found would look like a removed backup.
    return { kind: 'bad_input', detail: `container "${container}" does not exist (create it or fix the name)` };
  }
  if (code && NETWORK_CODES.has(code))
    return { kind: 'unreachable', detail: `endpoint ${endpoint} is unreachable: ${failure.message ?? code}` };
  if (failure.name === 'AbortError') return { kind: 'tool_failed', detail: 'the request was cancelled' };
  if (status === 401 || status === 403 || (code && AUTH_CODES.has(code))) {
    // A wrong key shows as a signature the service cannot verify; other refusals are permissions or firewalls.
    const badSignature = code === 'AuthenticationFailed' || /failed to authenticate/i.test(failure.message ?? '');
    return {
      kind: 'access_denied',
      detail: `${providerText(failure)}${badSignature ? '; check the account name and key, or the connection string' : ''}`,
    };
  }
  if (status === 404 || code === 'BlobNotFound') return { kind: 'not_found', detail: providerText(failure) };
  if (status === 413 || (code && (SPACE_CODES.has(code) || /quota/i.test(code))))
    return { kind: 'no_space', detail: providerText(failure) };
  if (status === 400 || status === 411 || status === 416) return { kind: 'bad_input', detail: providerText(failure) };
  if (status !== undefined && status >= 500)
    return { kind: 'unreachable', detail: `endpoint ${endpoint} failed: ${providerText(failure)}` };
  return {
    kind: 'tool_failed',
    detail: status !== undefined || code ? providerText(failure) : (failure.message ?? String(failure)),
  };
}

/** Translates whatever the SDK or the network threw, with credentials scrubbed from the text. */
export function azureTranslator(options: {
  label: string;
  container: string;
  endpoint: string;
  secrets: string[];
}): Translate {
  const scrub = redactor(options.secrets);
  return (operation, key, error) => {
    if (error instanceof HindsightError) return error;
    const { kind, detail } = kindAndDetail((error ?? {}) as AzureFailure, options.container, options.endpoint);
    return storageError(kind, options.label, operation, key, scrub(detail));
  };
}

export const statusOf = (error: unknown): number | undefined => (error as AzureFailure | undefined)?.statusCode;

/** A missing blob, as opposed to a missing container (a settings problem). */
export const isMissingBlob = (error: unknown): boolean =>
  statusOf(error) === 404 && errorCodeOf(error as AzureFailure) !== 'ContainerNotFound';
