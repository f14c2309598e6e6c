import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { HindsightError } from '../errors.ts';
import type { KeyResolver } from './secret-key.ts';
import type { KeySources } from './wrap/registry.ts';
import { parseIdentityFile, type X25519Identity } from './wrap/x25519-keys.ts';
import { parseSecretKeyFile, type SecretKey } from './secret-key.ts';

/**
 * Every secret key this installation has used, so that what an earlier key encrypted stays
 * readable after a rotation:
 *
 *   <current file>            HINDSIGHT_SECRET_KEY_FILE (default data/secret.key): the key new
 *                             backups, WAL, base backups, payloads and catalog secrets are sealed with
 *   <keys dir>/<key id>.key   every key ever made current (default: `keys/` beside the current file);
 *                             `hindsight key rotate` writes here before it switches the current key
 *   HINDSIGHT_PREVIOUS_SECRET_KEY_FILES   further earlier keys kept elsewhere
 *
 * Readers choose the key by the id found in the object header, the sealed value or the payload's
 * metadata. The files are read synchronously: they are a few bytes each, and a synchronous
 * `current()` can be asked from a stream constructor or a payload codec without a race between
 * reading a key's id and its bytes.
 */
export interface KeyringSources {
  currentFile: string;
  keysDir: string;
  previousFiles: string[];
  /**
   * Identity files (HINDSIGHT_IDENTITY_FILES): private keys of public-key mode recipients, on the
   * hosts that may read such backups (a verification agent); none elsewhere.
   */
  identityFiles?: string[];
}

export interface KeyringEntry {
  key: SecretKey;
  /** Where the key was found (the first of its files: current, keys dir, previous files). */
  file: string;
  current: boolean;
}

export interface Keyring {
  readonly sources: KeyringSources;
  /**
   * The key to encrypt with. A rotation by another process replaces the current file (atomic
   * rename), which this notices by its inode and modification time: a running worker, console or
   * CLI encrypts under the new key from its next backup, segment, payload or sealed secret on.
   */
  current(): SecretKey;
  /** The key with this id, re-reading the key files once when it is not known yet. */
  resolve: KeyResolver;
  /** Every key known, the current one first. */
  entries(): KeyringEntry[];
  /** The private keys of public-key mode recipients this host holds (identityFiles). */
  identities(): readonly X25519Identity[];
  /** Everything this host can decrypt objects with: the keys by id, and the identities. */
  decryption(): KeySources;
  /** Reads the current file and the keys directory again. */
  reload(): void;
}

const keyFileName = /^([0-9a-f]{16})\.key$/;

/** `<keys dir>/<id>.key` for a key: the one place a rotated key is kept. */
export function keyFileIn(keysDir: string, keyId: string): string {
  return path.join(keysDir, `${keyId}.key`);
}

function readKeyFile(file: string): SecretKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new HindsightError(
        'not_found',
        `secret key file ${file} does not exist: restore it from your offline copy, or correct HINDSIGHT_SECRET_KEY_FILE / HINDSIGHT_PREVIOUS_SECRET_KEY_FILES`,
      );
    }
    throw error;
  }
  return parseSecretKeyFile(text, file);
}

/** The keys in the keys directory; a file whose name is not its key's id is refused, not guessed at. */
function readKeysDir(keysDir: string): Array<{ key: SecretKey; file: string }> {
  let names: string[];
  try {
    names = readdirSync(keysDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const found: Array<{ key: SecretKey; file: string }> = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.key')) continue;
    const file = path.join(keysDir, name);
    const key = readKeyFile(file);
    const id = keyFileName.exec(name)?.[1];
    if (id !== key.id) {
      throw new HindsightError(
        'integrity',
        `key file ${file} holds key ${key.id}, but its name says ${id ?? '(no key id)'}: rename it to ${key.id}.key`,
      );
    }
    found.push({ key, file });
  }
  return found;
}

function readIdentityText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new HindsightError(
        'not_found',
        `identity file ${file} (HINDSIGHT_IDENTITY_FILES) does not exist: copy the identity file there, or remove it from the setting`,
      );
    throw error;
  }
}

function fileSignature(file: string): string | undefined {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch {
    return undefined;
  }
}

/** Reads every key of the installation; the current file must exist, the keys directory may not. */
export function openKeyring(sources: KeyringSources): Keyring {
  let currentKey: SecretKey;
  let currentSignature: string | undefined;
  let byId = new Map<string, KeyringEntry>();
  const identities = (sources.identityFiles ?? []).flatMap((file) => parseIdentityFile(readIdentityText(file), file));

  function load(): void {
    const signature = fileSignature(sources.currentFile);
    const current = readKeyFile(sources.currentFile);
    const next = new Map<string, KeyringEntry>([
      [current.id, { key: current, file: sources.currentFile, current: true }],
    ]);
    const earlier = [
      ...readKeysDir(sources.keysDir),
      ...sources.previousFiles.map((file) => ({ key: readKeyFile(file), file })),
    ];
    for (const { key, file } of earlier) if (!next.has(key.id)) next.set(key.id, { key, file, current: false });
    currentKey = current;
    currentSignature = signature;
    byId = next;
  }
  load();

  const keyring: Keyring = {
    sources,
    current() {
      const signature = fileSignature(sources.currentFile);
      // A vanished file keeps the key in memory: a worker must not stop because the file is being replaced.
      if (signature !== undefined && signature !== currentSignature) load();
      return currentKey;
    },
    resolve(keyId) {
      keyring.current();
      let entry = byId.get(keyId);
      if (!entry) {
        load();
        entry = byId.get(keyId);
      }
      if (!entry) {
        throw new HindsightError(
          'not_found',
          `secret key ${keyId} is not in the keyring (keys at hand: ${[...byId.keys()].join(', ')}): restore ${keyFileIn(sources.keysDir, keyId)} from your offline copy of the keys, or list its file in HINDSIGHT_PREVIOUS_SECRET_KEY_FILES`,
        );
      }
      return entry.key;
    },
    entries() {
      keyring.current();
      return [...byId.values()];
    },
    reload: load,
    identities: () => identities,
    decryption: () => ({ secret: keyring.resolve, identities }),
  };
  return keyring;
}
