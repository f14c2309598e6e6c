/**
 * The few kinds of failure that callers act on differently. A workflow retries `unreachable` and
 * `busy`; every other kind is permanent and is reported at once with its message.
 */
export type ErrorKind =
  | 'bad_input'
  | 'not_found'
  | 'access_denied'
  | 'unreachable'
  | 'no_space'
  | 'integrity'
  | 'conflict'
  | 'tool_failed'
  | 'busy'
  /** The caller is known but its role does not allow the action (HTTP 403). */
  | 'forbidden'
  /** Too many failed logins: locked for a while (HTTP 429). */
  | 'rate_limited';

const retryableKinds: ReadonlySet<ErrorKind> = new Set(['unreachable', 'busy', 'tool_failed']);

export class HindsightError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HindsightError';
    this.kind = kind;
  }
  get retryable(): boolean {
    return retryableKinds.has(this.kind);
  }
}

export const isHindsightError = (error: unknown): error is HindsightError => error instanceof HindsightError;

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
