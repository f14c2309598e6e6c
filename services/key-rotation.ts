/**
 * `hindsight key rotate` and `hindsight key list`: a new secret key for everything written from
 * now on, while every earlier key stays in the keyring (lib/crypto/keyring.ts) for what it wrote.
 *
 * The order makes a crash at any point harmless, because every key that anything is sealed or
 * encrypted under is on disk before it is used:
 *
 *   1. the outgoing key is kept as <keys dir>/<id>.key and the new key written beside it
 *      (0600, fsynced, directory fsynced);
 *   2. every catalog secret is re-sealed under the new key in one transaction (tables locked
 *      against writers meanwhile);
 *   3. only then the current key file is replaced by one atomic rename.
 *
 * Stopped after 1, an unused key sits in the keys directory; after 2, the catalog is sealed
 * under a key that is not current yet, which every reader still finds by its id. Running the
 * rotation again from either state completes a rotation. A session advisory lock
 * (catalog.secrets.withRotationLock) keeps two rotations from interleaving.
 *
 * Running processes need no restart: each keyring notices the replaced file on its next use, so
 * the next backup, base backup, sealed secret and Temporal payload use the new key. A WAL stream
 * that was already running keeps its key until its next run (the archiver starts one hourly);
 * its segments name that key and stay readable. An agent on another host reads its own key
 * files: copy the new key there.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { keyFileIn } from '../lib/crypto/keyring.ts';
import { generateSecretKey, replaceKeyFile, writeNewKeyFile, type SecretKey } from '../lib/crypto/secret-key.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import type { Actor, Authz } from './authz.ts';
import type { Runtime } from './runtime.ts';

export interface KeyServiceDeps {
  runtime: Runtime;
  authz: Authz;
}

export interface RotationOutcome {
  previousKeyId: string;
  keyId: string;
  /** Where the new key is kept by id (copy it offline, and to agents on other hosts). */
  keyFile: string;
  /** How many sealed values each catalog column held, all now under the new key. */
  resealed: Record<string, number>;
}

export interface KeyListing {
  id: string;
  current: boolean;
  /** Where the key was found; null when a catalog secret names a key the keyring lacks. */
  file: string | null;
  /** Catalog secrets sealed under it: a key still counted here cannot be retired. */
  sealedSecrets: number;
}

export interface RotationOptions {
  /** Runs after the catalog commit and before the switch: the point a crash would stop at. */
  afterReseal?: () => Promise<void>;
}

export async function requireOperator(authz: Authz, actor: Actor, action: string): Promise<void> {
  if (actor.kind === 'operator') return;
  await authz.audit(actor, {
    workspaceId: null,
    action,
    outcome: 'denied',
    detail: 'secret keys are managed by the local operator only',
  });
  throw new HindsightError(
    'forbidden',
    `${action} is for the local operator only: run it with the hindsight command on the server, without --as or HINDSIGHT_AS`,
  );
}

/** Before anything is written: a read-only key file (a mounted secret) cannot be switched. */
async function requireWritable(dir: string, what: string): Promise<void> {
  try {
    await access(dir, constants.W_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new HindsightError(
      'access_denied',
      `cannot rotate: ${what} ${dir} is not writable (${(error as NodeJS.ErrnoException).code}): rotate where the key files are writable, then install them (see docs/secret-key.md, "Rotating it")`,
    );
  }
}

async function rotateLocked(runtime: Runtime, previous: SecretKey, options: RotationOptions): Promise<RotationOutcome> {
  const { config, keyring, catalog } = runtime;
  await requireWritable(path.dirname(config.secretKeyFile), 'the directory of the current key');
  await requireWritable(config.keysDir, 'the keys directory');
  await catalog.secrets.refuseUnknownSealedColumns();

  const next = generateSecretKey();
  await writeNewKeyFile(keyFileIn(config.keysDir, previous.id), previous);
  await writeNewKeyFile(keyFileIn(config.keysDir, next.id), next);
  keyring.reload();

  const resealed = await catalog.secrets.resealAll(keyring.resolve, next);
  await options.afterReseal?.();

  await replaceKeyFile(config.secretKeyFile, next);
  keyring.reload();
  return { previousKeyId: previous.id, keyId: next.id, keyFile: keyFileIn(config.keysDir, next.id), resealed };
}

export async function rotateSecretKey(
  deps: KeyServiceDeps,
  actor: Actor,
  options: RotationOptions = {},
): Promise<RotationOutcome> {
  const { runtime, authz } = deps;
  await requireOperator(authz, actor, 'key.rotate');
  return runtime.catalog.secrets.withRotationLock(async () => {
    runtime.keyring.reload();
    const previous = runtime.keyring.current();
    const target = { type: 'secret key', name: previous.id };
    let outcome: RotationOutcome;
    try {
      outcome = await rotateLocked(runtime, previous, options);
    } catch (error) {
      await authz.audit(actor, {
        workspaceId: null,
        action: 'key.rotate',
        target,
        outcome: 'failed',
        detail: errorMessage(error).slice(0, 1000),
      });
      throw error;
    }
    await authz.audit(actor, {
      workspaceId: null,
      action: 'key.rotate',
      target,
      outcome: 'ok',
      before: { keyId: previous.id },
      after: { keyId: outcome.keyId, resealed: outcome.resealed },
    });
    return outcome;
  });
}

/** Every key of the keyring, and any key the catalog's sealed secrets name that it lacks. */
export async function listSecretKeys(deps: KeyServiceDeps, actor: Actor): Promise<KeyListing[]> {
  await requireOperator(deps.authz, actor, 'key.list');
  const { keyring, catalog } = deps.runtime;
  keyring.reload();
  const counts = await catalog.secrets.sealedSecretsByKey();
  const listed: KeyListing[] = keyring
    .entries()
    .map((e) => ({ id: e.key.id, current: e.current, file: e.file, sealedSecrets: counts.get(e.key.id) ?? 0 }));
  for (const [id, n] of counts) {
    if (!listed.some((k) => k.id === id)) listed.push({ id, current: false, file: null, sealedSecrets: n });
  }
  return listed;
}
