/**
 * `hindsight key rotate [--reencrypt]` (a new secret key, then this) and `hindsight key rewrap
 * [--reencrypt]` (this alone): moves every object in every storage off the retired secret keys. Rewrapping rewrites a version 3 object's header with its
 * data key wrapped under the current key and copies the chunks unchanged (docs/backup-format.md,
 * "Rotation"); `--reencrypt` decrypts and encrypts every secret-key object again under a new data
 * key, so that nothing the retired keys (or an old copy of a header) could unwrap still opens it,
 * and is the only way for version 1 and 2 objects. Manifests, and the catalog's record of each
 * logical backup's object, take the new checksums. Public-key mode objects are not under the
 * secret key and stay as they are. Audited as key.rewrap.
 *
 * Objects are rewritten in place, so the rewrap refuses while a job reads or writes them (a
 * backup, base backup, restore, verification, restore drill or point-in-time restore, named in
 * the refusal), and holds the rotation lock so that no rotation or other rewrap interleaves.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeHeader } from '../lib/crypto/backup-header.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { manifestEntryOf, patchManifest } from '../lib/rotation/manifest-patch.ts';
import {
  clearCache,
  planFor,
  rewriteObject,
  storedHeader,
  type RewriteCache,
  type RewriteKeys,
  type RewritePlan,
} from '../lib/rotation/rewrite-object.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import type { Actor } from './authz.ts';
import { requireOperator, rotateSecretKey, type KeyServiceDeps, type RotationOutcome } from './key-rotation.ts';
import type { Runtime } from './runtime.ts';

export interface RewrapOutcome {
  keyId: string;
  reencrypt: boolean;
  /** Objects per plan: rewrap, reencrypt, current, public-key, needs-reencrypt. */
  objects: Record<RewritePlan, number>;
  /** Version 1 and 2 objects under a retired key: only --reencrypt moves them. */
  needReencrypt: string[];
  manifests: number;
}

interface Walk {
  keys: RewriteKeys;
  cache: RewriteCache;
  outcome: RewrapOutcome;
  runtime: Runtime;
}

async function rewriteStorage(walk: Walk, driver: StorageDriver): Promise<void> {
  const { keys, cache, outcome, runtime } = walk;
  for (const info of await driver.list('')) {
    if (!info.key.endsWith('.hsb')) continue;
    const header = await storedHeader(driver, info.key);
    if (!header) continue;
    const plan = planFor(decodeHeader(header), keys.current.id, outcome.reencrypt);
    outcome.objects[plan] += 1;
    if (plan === 'needs-reencrypt') outcome.needReencrypt.push(`${driver.label}: ${info.key}`);
    if (plan !== 'rewrap' && plan !== 'reencrypt') continue;
    const rewritten = await rewriteObject(driver, info.key, header, plan, keys, cache);
    const entry = manifestEntryOf(info.key);
    if (!entry) continue;
    await patchManifest(driver, entry, rewritten, keys.current.id);
    outcome.manifests += 1;
    if (entry.backupId)
      await runtime.catalog.recordRewrittenObject(entry.backupId, {
        sha256: rewritten.sha256,
        sizeBytes: rewritten.sizeBytes,
      });
  }
}

/** Refuses, naming them, while jobs read or write objects the rewrap would replace. */
export async function refuseWhileJobsRun(runtime: Runtime): Promise<void> {
  const jobs = await runtime.catalog.runningObjectJobs(new Date());
  if (jobs.length === 0) return;
  const named = jobs.map((j) => `${j.kind} ${j.id} of database ${j.database}`);
  throw new HindsightError(
    'conflict',
    `cannot rewrap while ${jobs.length} job(s) read or write the objects it would rewrite: ${named.join(', ')}; wait for them to end (or cancel them), then run hindsight key rewrap`,
  );
}

async function rewriteAll(runtime: Runtime, reencrypt: boolean): Promise<RewrapOutcome> {
  runtime.keyring.reload();
  const current = runtime.keyring.current();
  const tempDir = await mkdtemp(path.join(tmpdir(), 'hindsight-rewrap-'));
  const walk: Walk = {
    keys: { current, decryption: runtime.keyring.decryption(), tempDir },
    cache: new Map(),
    runtime,
    outcome: {
      keyId: current.id,
      reencrypt,
      objects: { rewrap: 0, reencrypt: 0, current: 0, 'public-key': 0, 'needs-reencrypt': 0 },
      needReencrypt: [],
      manifests: 0,
    },
  };
  try {
    for (const storage of await runtime.catalog.listStorages()) {
      const driver = createStorageDriver(storage.name, await runtime.catalog.storageConfig(storage.name));
      try {
        await rewriteStorage(walk, driver);
      } finally {
        await driver.close?.().catch(() => undefined);
      }
    }
    return walk.outcome;
  } finally {
    await clearCache(walk.cache);
    await rm(tempDir, { recursive: true, force: true });
  }
}

export async function rewrapObjects(
  deps: KeyServiceDeps,
  actor: Actor,
  options: { reencrypt: boolean },
): Promise<RewrapOutcome> {
  const { runtime, authz } = deps;
  await requireOperator(authz, actor, 'key.rewrap');
  const target = { type: 'secret key', name: runtime.keyring.current().id };
  try {
    const outcome = await runtime.catalog.secrets.withRotationLock(async () => {
      await refuseWhileJobsRun(runtime);
      return rewriteAll(runtime, options.reencrypt);
    });
    const { keyId, objects, manifests } = outcome;
    await authz.audit(actor, {
      workspaceId: null,
      action: 'key.rewrap',
      target,
      outcome: 'ok',
      after: { keyId, reencrypt: options.reencrypt, objects, manifests },
    });
    return outcome;
  } catch (error) {
    await authz.audit(actor, {
      workspaceId: null,
      action: 'key.rewrap',
      target,
      outcome: 'failed',
      detail: errorMessage(error).slice(0, 1000),
    });
    throw error;
  }
}

export interface RotateAndRewrapOutcome extends RotationOutcome {
  rewrap: RewrapOutcome;
}

/**
 * `hindsight key rotate [--reencrypt]`: a new secret key (services/key-rotation.ts), then every
 * object moved onto it. Refuses before rotating while jobs read or write objects, so that a
 * refusal leaves nothing half done; a rewrap that fails after the rotation says how to finish.
 */
export async function rotateAndRewrap(
  deps: KeyServiceDeps,
  actor: Actor,
  options: { reencrypt: boolean },
): Promise<RotateAndRewrapOutcome> {
  await requireOperator(deps.authz, actor, 'key.rotate');
  await refuseWhileJobsRun(deps.runtime);
  const rotation = await rotateSecretKey(deps, actor);
  try {
    return { ...rotation, rewrap: await rewrapObjects(deps, actor, options) };
  } catch (error) {
    throw new HindsightError(
      error instanceof HindsightError ? error.kind : 'conflict',
      `the secret key was rotated to ${rotation.keyId}, but moving the objects onto it failed: ${errorMessage(error)}; run hindsight key rewrap${options.reencrypt ? ' --reencrypt' : ''} to finish`,
    );
  }
}
