/** What the commands of cli/commands/tools.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { loadConfig } from '../../lib/config.ts';
import { readSecretKey } from '../../lib/crypto/secret-key.ts';
import { generateIdentity, readIdentityFile } from '../../lib/crypto/wrap/x25519-keys.ts';
import { kmsWrapper } from '../../lib/crypto/wrap/kms/index.ts';
import { parseKmsConfig } from '../../services/kms-keys.ts';
import { writeIdentityFile } from '../../lib/crypto/wrap/identity-file.ts';
import type { ChainReport } from '../../lib/catalog/audit-chain.ts';
import { verifyAuditLog } from '../../services/audit-verify.ts';
import { runDoctor } from '../../services/doctor.ts';
import { openRuntime } from '../../services/runtime.ts';
import { checkDecryptFiles, decryptCommand } from '../decrypt.ts';
import { runKeyCommand } from '../key.ts';
import { runKmsKeyCommand } from '../kms-keys.ts';
import { printJson, UsageError } from '../output.ts';
import { keyringOf, readConfigArgument } from '../session.ts';
import type { Invocation, Handler } from '../commands/types.ts';

export async function doctor({ flags }: Invocation): Promise<void> {
  const checks = await runDoctor(loadConfig(), { deep: flags.deep === true });
  if (flags.json) printJson(checks);
  else
    for (const c of checks)
      process.stdout.write(
        `${c.status === 'ok' ? '✓' : c.status === 'warn' ? '!' : '✗'} ${c.name.padEnd(28)} ${c.detail}\n`,
      );
  if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
}

export async function auditVerify({ flags }: Invocation): Promise<void> {
  const runtime = await openRuntime(loadConfig(), { migrate: false });
  try {
    const result = await verifyAuditLog(runtime);
    if (flags.json) printJson(result);
    else {
      process.stdout.write(`${chainReportText(result.chain)}\n`);
      for (const h of result.heads) process.stdout.write(`${h.ok ? '✓' : '✗'} storage ${h.storage}: ${h.detail}\n`);
    }
    if (!result.holds) process.exitCode = 1;
  } finally {
    await runtime.close();
  }
}

/** One line for a holding chain; the entry and the reason for a broken one. */
function chainReportText(report: ChainReport): string {
  const before = report.unchained ? `; ${report.unchained} written before the chain began are not covered` : '';
  const anchor = report.anchor?.afterRemoved ? ` (from entry ${report.anchor.id}: older ones were purged)` : '';
  if (!report.broken) return `✓ the audit chain holds: ${report.checked} entries checked${anchor}${before}`;
  const { id, at, action, why } = report.broken;
  return `✗ the audit chain breaks at entry ${id} (${at.toISOString()}, ${action}): ${why}; ${report.checked} entries before it hold`;
}

export async function decrypt({ args: [file], flags }: Invocation): Promise<void> {
  await checkDecryptFiles(file!, flags.key, flags.output, flags.identity);
  const identities = flags.identity ? await readIdentityFile(flags.identity) : [];
  // KMS mode: the KMS key's configuration with credentials; the header names the key (its ARN).
  const kms = flags['kms-config']
    ? kmsWrapper(parseKmsConfig(await readConfigArgument(flags['kms-config'])))
    : undefined;
  // With only an identity or a KMS configuration, the keyring is not needed (and may not exist on the machine that restores).
  const secret = flags.key
    ? await readSecretKey(flags.key)
    : flags.identity || kms
      ? undefined
      : keyringOf(loadConfig()).resolve;
  const key = { ...(secret ? { secret } : {}), identities, ...(kms ? { kms } : {}) };
  try {
    return await decryptCommand(file!, { key, output: flags.output, expect: flags.expect, json: flags.json });
  } finally {
    await kms?.close();
  }
}

export async function keyGenerate({ flags }: Invocation): Promise<void> {
  if (!flags.output) throw new UsageError('key generate needs --output <file>: where to write the identity file');
  const { recipient, fileText } = generateIdentity();
  await writeIdentityFile(flags.output, fileText);
  if (flags.json) printJson({ identityFile: flags.output, recipient });
  else
    process.stdout.write(
      [
        recipient,
        '',
        `the private key is in ${flags.output} (mode 0600): copy it offline; backups written for this recipient need it to be read`,
        `set a database to public-key mode with: hindsight db update <name> --encryption public-key:${recipient}`,
        '',
      ].join('\n'),
    );
}

export const keyRotate: Handler = ({ flags }) =>
  runKeyCommand('rotate', { json: flags.json, as: flags.as, reencrypt: flags.reencrypt });

export const keyList: Handler = ({ flags }) => runKeyCommand('list', { json: flags.json, as: flags.as });

export const keyRewrap: Handler = ({ flags }) =>
  runKeyCommand('rewrap', { json: flags.json, as: flags.as, reencrypt: flags.reencrypt });

export const keyKmsAdd: Handler = ({ args: [name], flags }) =>
  runKmsKeyCommand('add', name, { json: flags.json, as: flags.as, config: flags.config });

export const keyKmsList: Handler = ({ flags }) =>
  runKmsKeyCommand('list', undefined, { json: flags.json, as: flags.as });

export const keyKmsRemove: Handler = ({ args: [name], flags }) =>
  runKmsKeyCommand('remove', name, { json: flags.json, as: flags.as });
