import type { ErrorKind } from '../../errors.ts';
import { storageError, type StorageOperation } from '../contract.ts';
import { makeRedactor } from '../shared/redact.ts';
import type { HindsightError } from '../../errors.ts';

/** Nothing rclone can say about an error needs more than this in a message. */
const MESSAGE_MAX_CHARS = 1000;

/** How a finished rclone process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: NodeJS.ErrnoException;
  stderr: string;
}

/** Which kind each of rclone's error texts means; the first match wins, so the order matters. */
const ERROR_PATTERNS: ReadonlyArray<readonly [ErrorKind, RegExp]> = [
  [
    'bad_input',
    /didn't find section in config file|didn't find backend called|couldn't find type|unknown backend|unknown (shorthand )?flag|is a file not a directory|not a directory|config file is encrypted|unable to decrypt configuration/i,
  ],
  // Before access_denied: Google answers a rate limit with 403.
  ['busy', /too many requests|rate ?limit|slow ?down/i],
  [
    'not_found',
    /directory not found|object not found|file not found|doesn't exist|does not exist|no such file|NoSuchKey|NoSuchBucket|404 not found/i,
  ],
  // Before access_denied: Google answers a full Drive with 403 storageQuotaExceeded.
  ['no_space', /quota|no space|insufficient storage|disk full|storage full/i],
  [
    'access_denied',
    /AccessDenied|access denied|\b40[13]\b|forbidden|permission denied|operation not permitted|read-only file system|invalid_grant|unauthori[sz]ed|InvalidAccessKeyId|SignatureDoesNotMatch|token (has )?expired|authentication failed/i,
  ],
  [
    'unreachable',
    /no such host|connection refused|connection reset|timeout|timed out|deadline exceeded|network is unreachable|no route to host|broken pipe|TLS handshake|unexpected EOF/i,
  ],
];

function classify(message: string, code: number | null): ErrorKind {
  for (const [kind, pattern] of ERROR_PATTERNS) if (pattern.test(message)) return kind;
  // rclone's own exit codes: 3 directory not found, 4 file not found.
  if (code === 3 || code === 4) return 'not_found';
  return 'tool_failed';
}

/**
 * The useful part of rclone's stderr: its last error line and the "caused by" lines under it,
 * without timestamps and without the repeated "Attempt n/m failed" lines.
 */
function summarize(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').trim())
    .filter((line) => line.length > 0 && !/^ERROR : Attempt \d+\/\d+ failed/.test(line));
  let from = -1;
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    if (/^(Failed to|ERROR|CRITICAL|Fatal error)/.test(lines[i]!)) {
      from = i;
      break;
    }
  }
  const picked = from >= 0 ? lines.slice(from) : lines.slice(-3);
  const text = picked.join(' ');
  return text.length > MESSAGE_MAX_CHARS ? `…${text.slice(-MESSAGE_MAX_CHARS)}` : text;
}

/** Config keys whose values are credentials in some backend (pass, secret_access_key, token, key_pem, …). */
const SECRET_KEY_NAME = /secret|pass|token|key|credential|sas|auth|cookie|private/i;
/** Parameters of a connection-string remote, e.g. `:webdav,url=…,pass=…:path`. */
const SECRET_PARAMETER =
  /([A-Za-z_]*(?:secret|pass|token|key|credential|sas|auth|cookie|private)[A-Za-z_]*\s*=\s*)('[^']*'|"[^"]*"|[^,:\s]+)/gi;

/** The credential values set in an rclone.conf, and the strings inside JSON tokens. */
function secretValues(configText: string | undefined): string[] {
  const values = new Set<string>();
  for (const line of (configText ?? '').split(/\r?\n/)) {
    const match = /^\s*([^#;[\s=][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || !SECRET_KEY_NAME.test(match[1]!)) continue;
    const value = match[2]!;
    if (value.length >= 4) values.add(value);
    for (const inner of value.matchAll(/"([^"]{8,})"/g)) values.add(inner[1]!);
  }
  return [...values];
}

/**
 * Removes credentials from text rclone printed: secret-looking parameters of a connection-string
 * remote and the credential values of configText. rclone masks them itself in its usual messages;
 * this guards the unusual ones.
 */
export function rcloneRedactor(configText: string | undefined): (text: string) => string {
  const scrub = makeRedactor(secretValues(configText), { marker: '***' });
  return (text) => scrub(text.replace(SECRET_PARAMETER, '$1***'));
}

/** How an rclone process failed, in the storage's words. */
export function rcloneFailure(options: {
  label: string;
  binary: string;
  redact: (text: string) => string;
}): (op: StorageOperation, key: string, exit: Exit) => HindsightError {
  const { label, binary, redact } = options;
  return (op, key, exit) => {
    if (exit.spawnError) {
      if (exit.spawnError.code === 'ENOENT') {
        return storageError(
          'bad_input',
          label,
          op,
          key,
          `the rclone binary '${binary}' was not found (install it with 'apt-get install rclone' or set HINDSIGHT_RCLONE_BINARY)`,
        );
      }
      return storageError('tool_failed', label, op, key, `could not start '${binary}': ${exit.spawnError.message}`);
    }
    const said = summarize(exit.stderr);
    const how = exit.signal ? `rclone was stopped by ${exit.signal}` : `rclone exited with code ${exit.code}`;
    const detail = redact(said ? `${said} (${how})` : how);
    return storageError(exit.signal ? 'tool_failed' : classify(said, exit.code), label, op, key, detail);
  };
}
