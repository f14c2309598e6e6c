import { FTPError } from 'basic-ftp';
import { HindsightError, type ErrorKind } from '../../errors.ts';
import { storageError, type StorageOperation } from '../contract.ts';
import { CERTIFICATE_ERROR_CODES, hasCode, NETWORK_ERROR_CODES } from '../shared/network-errors.ts';
import { messageOf } from '../shared/redact.ts';

const MISSING = /no such|not found|not exist|doesn't exist|ENOENT|cannot find|can't find/i;
const DENIED = /permission|denied|EACCES|EPERM|not allowed|read-only|refused/i;

/**
 * FTP answers mostly in codes; 550 covers both "no such file" and "not allowed". Its text decides
 * when it is explicit, otherwise the operation does: a missing file is what a read usually hits.
 */
export function kindOf(error: unknown, operation: StorageOperation): ErrorKind {
  if (error instanceof HindsightError) return error.kind;
  const message = messageOf(error);
  if (error instanceof FTPError) {
    if (/no space|ENOSPC|quota|disk full|insufficient storage/i.test(message)) return 'no_space';
    switch (error.code) {
      case 530:
      case 532:
      case 533:
      case 534:
        return 'access_denied';
      case 452:
      case 552:
        return 'no_space';
      case 421:
      case 425:
      case 426:
        return 'unreachable';
      case 451:
        return MISSING.test(message) ? 'not_found' : 'tool_failed';
      case 450:
      case 550:
      case 551:
      case 553:
        if (MISSING.test(message)) return 'not_found';
        if (DENIED.test(message)) return 'access_denied';
        return operation === 'read' || operation === 'stat' || operation === 'list' ? 'not_found' : 'access_denied';
      default:
        return 'tool_failed';
    }
  }
  if (hasCode(error, CERTIFICATE_ERROR_CODES)) return 'bad_input';
  if (hasCode(error, NETWORK_ERROR_CODES)) return 'unreachable';
  if (/timeout|closed|FIN packet|socket hang up|not connected/i.test(message)) return 'unreachable';
  return 'tool_failed';
}

export const isFtpCode = (error: unknown, ...codes: number[]): boolean =>
  error instanceof FTPError && codes.includes(error.code);

export type FtpFail = (operation: StorageOperation, key: string, error: unknown) => HindsightError;

export function ftpFailure(label: string, redact: (text: string) => string): FtpFail {
  return (operation, key, error) => {
    if (error instanceof HindsightError) return error;
    return storageError(kindOf(error, operation), label, operation, key, redact(messageOf(error)));
  };
}

/** Why logging in failed, in words that name the fix: network, credentials or certificate. */
export function connectFailure(
  error: unknown,
  context: { endpoint: string; username: string; timedOutAfterMs?: number; redact: (text: string) => string },
): { kind: ErrorKind; detail: string } {
  const message = context.redact(messageOf(error));
  const kind = kindOf(error, 'connect');
  const { endpoint } = context;
  if (context.timedOutAfterMs !== undefined)
    return {
      kind: 'unreachable',
      detail: `cannot reach ${endpoint}: no answer within ${context.timedOutAfterMs / 1000} s`,
    };
  if (isFtpCode(error, 530)) return { kind, detail: `authentication failed for user ${context.username} (${message})` };
  if (kind === 'bad_input')
    return {
      kind,
      detail: `the TLS certificate of ${endpoint} is not trusted: ${message} (set allowSelfSignedCertificate to accept a self-signed certificate)`,
    };
  if (kind === 'unreachable') return { kind, detail: `cannot reach ${endpoint}: ${message}` };
  return { kind, detail: `FTP connection to ${endpoint} failed: ${message}` };
}
