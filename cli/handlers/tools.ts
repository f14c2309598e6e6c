/** What the commands of cli/commands/tools.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { loadConfig } from '../../lib/config.ts';
import { readSecretKey } from '../../lib/crypto/secret-key.ts';
import { runDoctor } from '../../services/doctor.ts';
import { checkDecryptFiles, decryptCommand } from '../decrypt.ts';
import { runKeyCommand } from '../key.ts';
import { printJson } from '../output.ts';
import { keyringOf } from '../session.ts';
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

export async function decrypt({ args: [file], flags }: Invocation): Promise<void> {
  await checkDecryptFiles(file!, flags.key, flags.output);
  const key = flags.key ? await readSecretKey(flags.key) : keyringOf(loadConfig()).resolve;
  return decryptCommand(file!, { key, output: flags.output, expect: flags.expect, json: flags.json });
}

export const keyRotate: Handler = ({ flags }) => runKeyCommand('rotate', { json: flags.json, as: flags.as });

export const keyList: Handler = ({ flags }) => runKeyCommand('list', { json: flags.json, as: flags.as });
