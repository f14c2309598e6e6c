/** `hindsight key kms add|list|remove`: the named KMS keys of KMS mode (services/kms-keys.ts). */
import { addKmsKey, listKmsKeys, removeKmsKey } from '../services/kms-keys.ts';
import { withKeyService } from './key.ts';
import { printJson, printTable, UsageError } from './output.ts';
import { readConfigArgument } from './session.ts';

interface KmsOptions {
  json: boolean;
  as: string | undefined;
  config?: string | undefined;
}

export async function runKmsKeyCommand(sub: string, name: string | undefined, options: KmsOptions): Promise<void> {
  if (sub === 'list') {
    const keys = await withKeyService(options.as, (deps, actor) => listKmsKeys(deps, actor));
    if (options.json) return printJson(keys);
    printTable(
      keys.map((k) => ({
        name: k.name,
        provider: k.provider,
        key: k.keyRef,
        databases: k.databases.join(', '),
      })),
    );
    return;
  }
  if (!name) throw new UsageError(`key kms ${sub} needs the key's name`);
  if (sub === 'add') {
    if (options.config === undefined)
      throw new UsageError('key kms add needs --config <json|@file>: the KMS key and how to reach it');
    const config = await readConfigArgument(options.config);
    const key = await withKeyService(options.as, (deps, actor) => addKmsKey(deps, actor, { name, config }));
    if (options.json) return printJson(key);
    process.stdout.write(
      [
        `KMS key "${key.name}" saved (${key.provider}, ${key.keyRef}): a test wrap and unwrap succeeded`,
        `put a database in KMS mode with: hindsight db update <name> --encryption kms:${key.name}`,
        '',
      ].join('\n'),
    );
    return;
  }
  if (sub === 'remove') {
    await withKeyService(options.as, (deps, actor) => removeKmsKey(deps, actor, name));
    if (options.json) return printJson({ removed: name });
    process.stdout.write(`KMS key "${name}" removed: what it wrapped still needs the KMS key itself to be read\n`);
    return;
  }
  throw new UsageError(`unknown command: key kms ${sub}`);
}
