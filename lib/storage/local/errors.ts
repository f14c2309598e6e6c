import type { ErrorKind } from '../../errors.ts';
import { storageError, type StorageOperation } from '../contract.ts';

function kindOf(error: unknown): ErrorKind {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'not_found';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'access_denied';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no_space';
    case 'EIO':
    case 'ENOTCONN':
    case 'ESTALE':
    case 'EHOSTDOWN':
      return 'unreachable';
    default:
      return 'tool_failed';
  }
}

/** A file system error (errno code) in the storage's words. */
export type LocalFail = (operation: StorageOperation, key: string, error: unknown) => Error;

export function localFailure(label: string): LocalFail {
  return (operation, key, error) => storageError(kindOf(error), label, operation, key, (error as Error).message);
}
