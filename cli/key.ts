/**
 * `hindsight key rotate|list|rewrap`: rotate makes a new secret key and moves every object onto
 * it; rewrap does the second half alone (after a rotation that stopped half way). Secret keys are the local operator's business: the command opens
 * the catalog and the key files itself (no Temporal needed) and refuses when told to act as a
 * console user (--as / HINDSIGHT_AS).
 */
import { loadConfig } from '../lib/config.ts';
import { createAccessService } from '../services/access.ts';
import { createAuthz } from '../services/authz.ts';
import { listSecretKeys, type KeyServiceDeps } from '../services/key-rotation.ts';
import { rewrapObjects, rotateAndRewrap, type RewrapOutcome } from '../services/key-rewrap.ts';
import { openRuntime } from '../services/runtime.ts';
import type { Actor } from '../services/authz.ts';
import { cliActor } from './access.ts';
import { printJson, printTable, UsageError } from './output.ts';

export async function withKeyService<T>(
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
  options: { json: boolean; as: string | undefined; reencrypt?: boolean },
): Promise<void> {
  const reencrypt = options.reencrypt === true;
  if (sub === 'rewrap') {
    const outcome = await withKeyService(options.as, (deps, actor) => rewrapObjects(deps, actor, { reencrypt }));
    if (options.json) return printJson(outcome);
    process.stdout.write(rewrapLines(outcome).join('\n') + '\n');
    return;
  }
  if (sub === 'rotate') {
    const outcome = await withKeyService(options.as, (deps, actor) => rotateAndRewrap(deps, actor, { reencrypt }));
    if (options.json) return printJson(outcome);
    const total = Object.values(outcome.resealed).reduce((a, b) => a + b, 0);
    process.stdout.write(
      [
        `secret key ${outcome.previousKeyId} → ${outcome.keyId}: ${total} catalog secret(s) re-sealed`,
        ...rewrapLines(outcome.rewrap),
        `the new key is ${outcome.keyFile}: copy it offline now, and to every agent host`,
        'running workers and the console use it from their next backup; earlier keys stay in the keys directory for WAL a running stream still writes under them',
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

function rewrapLines(outcome: RewrapOutcome): string[] {
  const { objects } = outcome;
  return [
    `objects now under key ${outcome.keyId}: ${objects.rewrap} rewrapped, ${objects.reencrypt} re-encrypted; ${objects.current} were already, ${objects['public-key']} are in public-key mode (not under the secret key); ${outcome.manifests} manifest(s) updated`,
    ...(outcome.needReencrypt.length > 0
      ? [
          `${outcome.needReencrypt.length} object(s) in format version 1 or 2 still need a retired key: run hindsight key rewrap --reencrypt`,
        ]
      : []),
  ];
}
