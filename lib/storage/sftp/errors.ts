import { HindsightError, type ErrorKind } from '../../errors.ts';
import { storageError, type StorageOperation } from '../contract.ts';
import { hasCode, NETWORK_ERROR_CODES } from '../shared/network-errors.ts';
import { messageOf } from '../shared/redact.ts';

/** SFTP status codes (draft-ietf-secsh-filexfer); OpenSSH sends only 0-8, others send the rest. */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
  NO_SPACE_ON_FILESYSTEM: 14,
  QUOTA_EXCEEDED: 15,
} as const;

/** The numeric SFTP status of an error; socket errors have string codes instead. */
export const statusCode = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

export function kindOf(error: unknown): ErrorKind {
  if (error instanceof HindsightError) return error.kind;
  const message = messageOf(error);
  switch (statusCode(error)) {
    case SFTP_STATUS.NO_SUCH_FILE:
      return 'not_found';
    case SFTP_STATUS.PERMISSION_DENIED:
      return 'access_denied';
    case SFTP_STATUS.NO_SPACE_ON_FILESYSTEM:
    case SFTP_STATUS.QUOTA_EXCEEDED:
      return 'no_space';
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return 'unreachable';
    case SFTP_STATUS.FAILURE:
      return /no space|ENOSPC|quota|disk full/i.test(message) ? 'no_space' : 'tool_failed';
  }
  if (hasCode(error, NETWORK_ERROR_CODES)) return 'unreachable';
  if (/no response from server|not connected|no sftp|channel (is )?closed|connection lost/i.test(message))
    return 'unreachable';
  return 'tool_failed';
}

export type SftpFail = (operation: StorageOperation, key: string, error: unknown) => HindsightError;

export function sftpFailure(label: string, redact: (text: string) => string): SftpFail {
  return (operation, key, error) => {
    if (error instanceof HindsightError) return error;
    return storageError(kindOf(error), label, operation, key, redact(messageOf(error)));
  };
}

/** Why a connection failed, in words that name the fix: host key, credentials or network. */
export function connectFailure(
  error: Error & { level?: string },
  context: { endpoint: string; username: string; expectedKey: string | undefined; presentedKey: string | undefined },
): { kind: ErrorKind; detail: string } {
  if (context.presentedKey) {
    return {
      kind: 'bad_input',
      detail: `the server at ${context.endpoint} presented host key ${context.presentedKey}, not the expected ${context.expectedKey}; refusing to connect (if the server's key was changed on purpose, update hostKeySha256)`,
    };
  }
  if (error.level === 'client-authentication')
    return { kind: 'access_denied', detail: `authentication failed for user ${context.username} (${error.message})` };
  if (error.level === 'client-timeout' || kindOf(error) === 'unreachable')
    return { kind: 'unreachable', detail: `cannot reach ${context.endpoint}: ${error.message}` };
  return { kind: 'tool_failed', detail: `SSH connection to ${context.endpoint} failed: ${error.message}` };
}
