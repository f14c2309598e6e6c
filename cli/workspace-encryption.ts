/**
 * `hindsight workspace update <name> --encryption …` and `hindsight workspace show <name>`: a
 * workspace's default encryption, and what each of its databases is encrypted with.
 */
import type { AccessService } from '../services/access.ts';
import type { Actor } from '../services/authz.ts';
import { workspaceEncryptionFlag } from './encryption-flag.ts';
import { printJson, printList, UsageError } from './output.ts';

interface Call {
  args: Array<string | undefined>;
  flags: { json: boolean; encryption?: string | undefined };
  access: AccessService;
  actor: Actor;
  usage: string;
}

const describe = (e: { mode: string; recipient?: string; key?: string }) =>
  e.mode === 'public-key' ? `public-key ${e.recipient}` : e.mode === 'kms' ? `KMS key ${e.key}` : 'secret key';

export async function workspaceUpdate({ args: [name], flags, access, actor, usage }: Call): Promise<void> {
  if (!name) throw new UsageError(`workspace name is required\n${usage}`);
  if (flags.encryption === undefined)
    throw new UsageError(`nothing to change: give --encryption secret-key|public-key:<recipient>|kms:<name>`);
  const outcome = await access.setWorkspaceEncryption(actor, name, workspaceEncryptionFlag(flags.encryption));
  if (flags.json) return printJson(outcome);
  process.stdout.write(
    `workspace "${outcome.workspace}" encrypts by default with the ${describe(outcome.encryption)}; its databases without their own setting follow from their next backup and WAL segment\n`,
  );
}

export async function workspaceShow({ args: [name], flags, access, actor, usage }: Call): Promise<void> {
  if (!name) throw new UsageError(`workspace name is required\n${usage}`);
  const view = await access.workspaceEncryption(actor, name);
  if (flags.json) return printJson(view);
  process.stdout.write(`workspace "${view.workspace}": default encryption ${describe(view.encryption)}\n`);
  printList(
    false,
    view.databases,
    (d) => ({
      database: d.database,
      encryption:
        d.mode === 'public-key' ? `public-key ${d.recipient}` : d.mode === 'kms' ? `kms ${d.kmsKey}` : 'secret-key',
      from: d.source,
      'decryptable by': d.decryptableBy,
    }),
    'no databases',
  );
}
