/** `hindsight doctor`, `decrypt` and `key …`: the operator's own tools on the server. */
import { loadConfig } from '../../lib/config.ts';
import { readSecretKey } from '../../lib/crypto/secret-key.ts';
import { runDoctor } from '../../services/doctor.ts';
import { decryptCommand } from '../decrypt.ts';
import { runKeyCommand } from '../key.ts';
import { printJson } from '../output.ts';
import { keyringOf } from '../session.ts';
import type { Command, Invocation } from './types.ts';

async function doctor({ flags }: Invocation): Promise<void> {
  const checks = await runDoctor(loadConfig());
  if (flags.json) printJson(checks);
  else
    for (const c of checks)
      process.stdout.write(
        `${c.status === 'ok' ? '✓' : c.status === 'warn' ? '!' : '✗'} ${c.name.padEnd(28)} ${c.detail}\n`,
      );
  if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
}

async function decrypt({ args: [file], flags }: Invocation): Promise<void> {
  const key = flags.key ? await readSecretKey(flags.key) : keyringOf(loadConfig()).resolve;
  return decryptCommand(file!, { key, output: flags.output, expect: flags.expect, json: flags.json });
}

export const toolCommands: Command[] = [
  {
    words: ['doctor'],
    args: [],
    flags: [],
    local: true,
    summary: 'checks the catalog, Temporal, workers, storages, tools and databases (exit 1 on a failure)',
    handler: doctor,
  },
  {
    words: ['decrypt'],
    args: [{ name: 'file' }],
    local: true,
    summary: 'the pg_dump archive of an encrypted backup file, with the secret key alone; names the backup the file is',
    flags: [
      'key',
      {
        name: 'expect',
        description:
          'the object key (<db>/<backup-id>) the file must be; any other is refused before a byte is written',
      },
      { name: 'output', description: 'the file to write (default: stdout, never a terminal)' },
    ],
    handler: decrypt,
  },
  {
    words: ['key', 'rotate'],
    args: [],
    flags: [],
    summary: 'new secret key; re-seals every catalog secret; earlier keys stay in the keys directory',
    handler: ({ flags }) => runKeyCommand('rotate', { json: flags.json, as: flags.as }),
  },
  {
    words: ['key', 'list'],
    args: [],
    flags: [],
    summary: 'every key: current, file, catalog secrets sealed under it',
    handler: ({ flags }) => runKeyCommand('list', { json: flags.json, as: flags.as }),
  },
];
