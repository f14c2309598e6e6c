import { storageSecretFieldNames } from '../lib/storage/index.ts';

/** Field names that hold secrets outside storage configurations. */
const otherSecretFields = new Set([
  'password',
  'sealedPassword',
  'token',
  'passwordHash',
  'webhookUrl',
  'botToken',
  'smtpPassword',
  'secret',
  'hmacSecret',
]);

export const SECRET_MARK = '[secret]';

/** user:password@ in a URL becomes user:[secret]@. */
function maskUrlPassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@/\s]*@/i, `$1:${SECRET_MARK}@`);
}

/**
 * A copy of a value fit for the audit log: every secret field (those of lib/storage plus passwords
 * and tokens) replaced by a marker, and passwords inside URLs removed.
 */
export function maskForAudit(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'string') return maskUrlPassword(value);
  if (Array.isArray(value)) return value.map(maskForAudit);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      out[k] = storageSecretFieldNames.has(k) || otherSecretFields.has(k) ? SECRET_MARK : maskForAudit(v);
    }
    return out;
  }
  return value;
}
