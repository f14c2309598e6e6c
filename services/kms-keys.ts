/**
 * `hindsight key kms add|list|remove`: the installation's named KMS keys (KMS mode). Like the
 * secret keys, they are the local operator's business; every change is audited with the
 * credentials masked. A key is saved only after a test wrap and unwrap through the KMS, which also
 * tells the name headers will give it (an alias resolved to its key's ARN).
 */
import { randomBytes } from 'node:crypto';
import type { KmsKeyRecord } from '../lib/catalog/kms-keys.ts';
import { kmsWrapper, maskKmsSecrets, type KmsConfig } from '../lib/crypto/wrap/kms/index.ts';
import { kmsConfigSchema } from '../lib/crypto/wrap/kms/config.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { nameSchema, NAME_RULE } from '../lib/names.ts';
import type { Actor } from './authz.ts';
import { parseOrThrow } from './input.ts';
import { requireOperator, type KeyServiceDeps } from './key-rotation.ts';

export const kmsKeyNameSchema = nameSchema(`a KMS key's name must be ${NAME_RULE}`);

/** The configuration as given, checked: the issues name fields, never values (a secret stays out). */
export function parseKmsConfig(raw: unknown): KmsConfig {
  const parsed = kmsConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new HindsightError('bad_input', `the KMS configuration is invalid: ${issues}`);
  }
  return parsed.data;
}

/** Wraps a random key and unwraps it again; the keyRef headers will name the key by. */
async function testKmsKey(name: string, config: KmsConfig): Promise<string> {
  const wrapper = kmsWrapper(config);
  try {
    const context = { purpose: 'hindsight key kms add', name };
    const probe = randomBytes(32);
    const record = await wrapper.wrap(probe, context);
    const back = await wrapper.unwrap(record, context);
    if (!back.equals(probe))
      throw new HindsightError('integrity', `KMS key "${name}" unwrapped another key than it wrapped`);
    return record.keyRef;
  } finally {
    await wrapper.close();
  }
}

export async function addKmsKey(
  deps: KeyServiceDeps,
  actor: Actor,
  input: { name: string; config: unknown },
): Promise<KmsKeyRecord> {
  await requireOperator(deps.authz, actor, 'key.kms.add');
  const name = parseOrThrow(kmsKeyNameSchema, input.name);
  const config = parseKmsConfig(input.config);
  const target = { type: 'kms key', name };
  try {
    const keyRef = await testKmsKey(name, config);
    await deps.runtime.catalog.kmsKeys.add(name, config, keyRef);
  } catch (error) {
    await deps.authz.audit(actor, {
      workspaceId: null,
      action: 'key.kms.add',
      target,
      outcome: 'failed',
      after: maskKmsSecrets(config),
      detail: errorMessage(error).slice(0, 1000),
    });
    if (error instanceof HindsightError && error.kind !== 'conflict')
      throw new HindsightError(error.kind, `KMS key "${name}" was not saved: ${error.message}`);
    throw error;
  }
  const record = await deps.runtime.catalog.kmsKeys.get(name);
  await deps.authz.audit(actor, {
    workspaceId: null,
    action: 'key.kms.add',
    target,
    outcome: 'ok',
    before: null,
    after: { ...maskKmsSecrets(config), keyRef: record.keyRef },
  });
  return record;
}

export async function listKmsKeys(deps: KeyServiceDeps, actor: Actor): Promise<KmsKeyRecord[]> {
  await requireOperator(deps.authz, actor, 'key.kms.list');
  return deps.runtime.catalog.kmsKeys.list();
}

export async function removeKmsKey(deps: KeyServiceDeps, actor: Actor, name: string): Promise<void> {
  await requireOperator(deps.authz, actor, 'key.kms.remove');
  const target = { type: 'kms key', name };
  const before = await deps.runtime.catalog.kmsKeys.get(name);
  try {
    await deps.runtime.catalog.kmsKeys.remove(name);
  } catch (error) {
    await deps.authz.audit(actor, {
      workspaceId: null,
      action: 'key.kms.remove',
      target,
      outcome: 'failed',
      detail: errorMessage(error).slice(0, 1000),
    });
    throw error;
  }
  await deps.authz.audit(actor, {
    workspaceId: null,
    action: 'key.kms.remove',
    target,
    outcome: 'ok',
    before: { provider: before.provider, keyRef: before.keyRef, ...before.settings },
    after: null,
  });
}
