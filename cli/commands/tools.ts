/** `hindsight doctor`, `decrypt` and `key …`: the operator's own tools on the server. */
import { commandsFrom, type CommandOptions } from './types.ts';

const command = commandsFrom(() => import('../handlers/tools.ts'));
/** Acting as no one (no --as): doctor checks the installation itself, decrypt needs only a key file. */
const local = (
  words: string,
  summary: string,
  handler: 'doctor' | 'decrypt' | 'auditVerify' | 'keyGenerate',
  options: CommandOptions = {},
) => command(words, summary, handler, { ...options, local: true });

export const toolCommands = [
  local(
    'doctor',
    'checks the catalog, Temporal, workers, storages, tools and databases (exit 1 on a failure)',
    'doctor',
    { flags: ['deep'] },
  ),
  local(
    'decrypt',
    'the plaintext of an encrypted object, with the secret key (or, in public-key mode, the identity file; in KMS mode, the KMS key and credentials) alone: the pg_dump archive of a backup, a WAL file or base backup decompressed, an archive record as JSON; names the object the file is',
    'decrypt',
    {
      args: [{ name: 'file' }],
      flags: [
        'key',
        'identity',
        'kms-config',
        {
          name: 'expect',
          description:
            'the object key (<db>/<backup-id>, or pitr/… for the PITR archive) the file must be; any other is refused before a byte is written',
        },
        {
          name: 'output',
          description: 'the file to write (default: stdout, never a terminal); then says what it wrote',
        },
      ],
    },
  ),
  local(
    'audit verify',
    "checks the audit log's chain of MACs with the keyring; names the first entry changed, removed or added (exit 1)",
    'auditVerify',
  ),
  command(
    'key rotate',
    'new secret key; re-seals every catalog secret, then moves every object in every storage onto it (data keys rewrapped, or with --reencrypt re-encrypted); refuses while jobs read or write objects',
    'keyRotate',
    { flags: ['reencrypt'] },
  ),
  command('key list', 'every key: current, file, catalog secrets sealed under it', 'keyList'),
  command(
    'key rewrap',
    "key rotate's second half alone: every object in every storage moves to the current key, its data key rewrapped (the data untouched) or, with --reencrypt, re-encrypted; manifests and the catalog's checksums follow; refuses while jobs read or write objects",
    'keyRewrap',
    { flags: ['reencrypt'] },
  ),
  local(
    'key generate',
    'a new X25519 key pair for public-key mode: writes the identity file (private key, mode 0600) and prints its recipient (public key)',
    'keyGenerate',
    { flags: [{ name: 'output', description: 'the identity file to write (never overwritten)' }] },
  ),
  command(
    'key kms add',
    'names a KMS key for KMS mode (provider aws or vault); saved after a test wrap and unwrap, credentials sealed in the catalog',
    'keyKmsAdd',
    {
      args: [{ name: 'name' }],
      flags: [{ name: 'config', description: 'the KMS key and how to reach it, as JSON or @file (docs/security.md)' }],
    },
  ),
  command(
    'key kms list',
    'the named KMS keys: provider, key, the databases in KMS mode under each (no secrets)',
    'keyKmsList',
  ),
  command(
    'key kms remove',
    'forgets a named KMS key; refused while a database is in KMS mode under it',
    'keyKmsRemove',
    { args: [{ name: 'name' }] },
  ),
];
