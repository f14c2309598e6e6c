/**
 * The files a PostgreSQL configuration file points at: `include`, `include_if_exists` and
 * `include_dir` in postgresql.conf (PostgreSQL docs, 20.1.5 "Managing Configuration File
 * Contents"), `hba_file`/`ident_file`, and in pg_hba.conf/pg_ident.conf the same include
 * directives (PostgreSQL 16+) and `@file` lists (21.1 "The pg_hba.conf File"). Pure parsing: the
 * caller decides what to do with each path and reads nothing it did not vet.
 */

export type ConfigKind = 'server' | 'hba';

export interface ConfigReference {
  /** As written, unquoted: relative paths are relative to the referencing file's directory. */
  path: string;
  /** A directory whose `*.conf` files are read (include_dir), or one file. */
  directory: boolean;
  /** What the file is, for following its own references. */
  kind: ConfigKind;
}

/** A configuration-file string: single-quoted with '' or \' for a quote, or a bare word. */
function unquote(value: string): string {
  if (!value.startsWith("'")) return value;
  return value
    .slice(1, value.endsWith("'") && value.length > 1 ? -1 : undefined)
    .replace(/''/g, "'")
    .replace(/\\(.)/g, '$1');
}

const SERVER_LINE = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*('(?:[^'\\]|''|\\.)*'|[^\s#']+)/;

/** References in a postgresql.conf-style file (postgresql.conf, postgresql.auto.conf, included files). */
export function serverConfigReferences(text: string): ConfigReference[] {
  const out: ConfigReference[] = [];
  for (const line of text.split('\n')) {
    const match = SERVER_LINE.exec(line);
    if (!match) continue;
    const name = match[1]!.toLowerCase();
    const value = unquote(match[2]!);
    if (value === '') continue;
    if (name === 'include' || name === 'include_if_exists') out.push({ path: value, directory: false, kind: 'server' });
    else if (name === 'include_dir') out.push({ path: value, directory: true, kind: 'server' });
    else if (name === 'hba_file' || name === 'ident_file') out.push({ path: value, directory: false, kind: 'hba' });
  }
  return out;
}

/** Splits an hba line into tokens, keeping double-quoted ones whole (quotes removed). */
function hbaTokens(line: string): string[] {
  const tokens: string[] = [];
  const re = /"((?:[^"]|"")*)"|([^\s"]+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) tokens.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
  return tokens;
}

/** References in a pg_hba.conf or pg_ident.conf file. */
export function hbaConfigReferences(text: string): ConfigReference[] {
  const out: ConfigReference[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '');
    const tokens = hbaTokens(line);
    const first = tokens[0]?.toLowerCase();
    if ((first === 'include' || first === 'include_if_exists' || first === 'include_dir') && tokens[1]) {
      out.push({ path: tokens[1], directory: first === 'include_dir', kind: 'hba' });
      continue;
    }
    for (const token of tokens) {
      for (const item of token.split(',')) {
        if (item.startsWith('@') && item.length > 1) out.push({ path: item.slice(1), directory: false, kind: 'hba' });
      }
    }
  }
  return out;
}
