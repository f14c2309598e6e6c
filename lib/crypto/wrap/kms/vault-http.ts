import { setTimeout as sleep } from 'node:timers/promises';
import { HindsightError, type ErrorKind } from '../../../errors.ts';
import type { KmsOperation } from './aws-errors.ts';
import type { VaultTransitConfig } from './config.ts';

const REQUEST_TIMEOUT_MS = 15_000;
const MAX_ATTEMPTS = 4;
const BASE_DELAY_MS = 200;

/** Vault's own error texts that say what went wrong with a transit request. */
const AUTHENTICATION_FAILED = /message authentication failed|unable to decrypt|invalid ciphertext/i;
const KEY_MISSING = /encryption key not found|unable to find key|no existing key/i;
const TOO_OLD = /version is disallowed by policy|too old/i;

export interface VaultAnswer {
  data?: Record<string, unknown>;
  errors?: string[];
}

/** What Vault said, in the project's words: the key named, and the fix. */
export function vaultError(
  op: KmsOperation,
  config: VaultTransitConfig,
  status: number,
  errors: string[],
): HindsightError {
  const key = `Vault transit key ${config.keyName} (mount ${config.mount} at ${config.address})`;
  const said = errors.join('; ') || `HTTP ${status}`;
  const again = op === 'unwrap' ? 'then run the restore again' : 'then run the backup again';
  const fail = (kind: ErrorKind, message: string) => new HindsightError(kind, message);
  if (status === 403) {
    return fail(
      'access_denied',
      `Vault refused access to ${key} (${said}): give the token a policy with "update" on ${config.mount}/encrypt/${config.keyName} and ${config.mount}/decrypt/${config.keyName}, or renew it`,
    );
  }
  if (status === 503)
    return fail('unreachable', `Vault at ${config.address} is sealed or in standby (${said}): unseal it, ${again}`);
  if (KEY_MISSING.test(said)) {
    return fail(
      'not_found',
      `${key} does not exist (${said}): check keyName and mount, or bring the key back from a Vault backup (transit/restore), ${again}`,
    );
  }
  if (TOO_OLD.test(said)) {
    return fail(
      'access_denied',
      `${key} no longer decrypts this key version (${said}): lower its min_decryption_version, ${again}`,
    );
  }
  if (op === 'unwrap' && AUTHENTICATION_FAILED.test(said)) {
    return fail(
      'integrity',
      `the data key wrapped by ${key} does not open with this object's context: the header was altered or copied from another object`,
    );
  }
  if (status === 429 || status >= 500)
    return fail('unreachable', `Vault failed to ${op} with ${key} (${said}): try again later`);
  return fail('tool_failed', `Vault failed to ${op} with ${key} (HTTP ${status}: ${said})`);
}

function unreachable(config: VaultTransitConfig, error: unknown): HindsightError {
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
  return new HindsightError(
    'unreachable',
    `cannot reach Vault at ${config.address} for transit key ${config.keyName} (${cause}): check the address and the network`,
  );
}

const retryable = (status: number): boolean => status === 429 || status === 502 || status === 503 || status === 504;

/**
 * One transit request with the token; a network failure, throttling or a Vault answering 502-504 is
 * tried again with exponential backoff and jitter, as the AWS SDK's standard strategy does.
 */
export async function transitRequest(
  config: VaultTransitConfig,
  op: KmsOperation,
  action: 'encrypt' | 'decrypt',
  body: Record<string, string>,
): Promise<Record<string, unknown>> {
  const url = `${config.address.replace(/\/+$/, '')}/v1/${config.mount}/${action}/${encodeURIComponent(config.keyName)}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-vault-token': config.token };
  if (config.namespace) headers['x-vault-namespace'] = config.namespace;
  for (let attempt = 1; ; attempt++) {
    let status: number;
    let answer: VaultAnswer;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      status = response.status;
      const text = await response.text();
      answer = text ? (JSON.parse(text) as VaultAnswer) : {};
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS) throw unreachable(config, error);
      await sleep(BASE_DELAY_MS * 2 ** attempt * Math.random());
      continue;
    }
    if (status >= 200 && status < 300 && answer.data) return answer.data;
    if (retryable(status) && attempt < MAX_ATTEMPTS) {
      await sleep(BASE_DELAY_MS * 2 ** attempt * Math.random());
      continue;
    }
    throw vaultError(op, config, status, answer.errors ?? []);
  }
}
