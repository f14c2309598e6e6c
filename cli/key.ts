/**
 * `hindsight key rotate|list`. Secret keys are the local operator's business: the command opens
 * the catalog and the key files itself (no Temporal needed) and refuses when told to act as a
 * console user (--as / HINDSIGHT_AS).
 */
import { loadConfig } from '../lib/config.ts';
import { createAccessService } from '../services/access.ts';
import { createAuthz } from '../services/authz.ts';
import { listSecretKeys, rotateSecretKey, type KeyServiceDeps } from '../services/key-rotation.ts';
import { openRuntime } from '../services/runtime.ts';
import type { Actor } from '../services/authz.ts';
import { cliActor } from './access.ts';
import { printJson, printTable, UsageError } from './output.ts';

async function withKeyService<T>(
  as: string | undefined,
  work: (deps: KeyServiceDeps, actor: Actor) => Promise<T>,
): Promise<T> {
  const runtime = await openRuntime(loadConfig());
  try {
    const authz = createAuthz(runtime.catalog.access);
    const actor = await cliActor(createAccessService(runtime, authz), as);
    return await work({ runtime, authz }, actor);
  } finally {
    await runtime.close();
  }
}

export async function runKeyCommand(
  sub: string | undefined,
  options: { json: boolean; as: string | undefined },
): Promise<void> {
  if (sub === 'rotate') {
    const outcome = await withKeyService(options.as, (deps, actor) => rotateSecretKey(deps, actor));
    if (options.json) return printJson(outcome);
    const total = Object.values(outcome.resealed).reduce((a, b) => a + b, 0);
    process.stdout.write(
      [
        `secret key ${outcome.previousKeyId} → ${outcome.keyId}: ${total} catalog secret(s) re-sealed`,
        `the new key is ${outcome.keyFile}: copy it offline now, and to every agent host`,
        'running workers and the console use it from their next backup; earlier keys stay in the keys directory for older backups and WAL',
        '',
      ].join('\n'),
    );
    return;
  }
  if (sub === 'list') {
    const keys = await withKeyService(options.as, (deps, actor) => listSecretKeys(deps, actor));
    if (options.json) return printJson(keys);
    printTable(
      keys.map((k) => ({
        id: k.id,
        current: k.current ? 'yes' : '',
        file: k.file ?? 'MISSING (restore it from your offline copy)',
        sealed: String(k.sealedSecrets),
      })),
    );
    return;
  }
  throw new UsageError(`unknown command: key ${sub ?? ''}`);
}
