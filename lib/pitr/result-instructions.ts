/**
 * What an operator does with a point-in-time restore kept in a directory: where its server
 * listens, how to connect, stop or start it, and how to copy a database out of it into
 * production. Composed once, here, from the restore's outcome, so that the CLI, the console and
 * /api/v1 say the same thing. No secret appears: the restored cluster keeps the source's roles, so
 * the password is the source role's own, which the operator already holds.
 */
import path from 'node:path';
import { LOG_FILE } from './recover.ts';
import { shellQuote } from './recovery-settings.ts';

/** Where the restore activity left the server, as it knows it once recovery is verified. */
export interface RestoredServerFacts {
  /** Where clients connect (127.0.0.1 on the host that restored it). */
  host: string;
  port: number;
  dataDirectory: string;
  /** The major version of the data directory, and so of the server running it. */
  postgresVersion: number;
  /** The pg_ctl of that version that ran the server. */
  pgCtl: string;
  /** The OS user the server runs as when it is not the restoring process's own user (see os-user.ts). */
  osUser: string | null;
  /** The registered database's role and database name, which the restored cluster holds too. */
  user: string;
  dbname: string;
  /** False when the restore stopped the server after recovery (`--then-stop`). */
  running: boolean;
  /** The client tools found for this version on the restoring host; a bare name when none was. */
  clientTools: { psql: string; pgDump: string; pgRestore: string };
}

export interface PitrInstructions {
  running: boolean;
  listening: { host: string; port: number; dataDirectory: string; postgresVersion: number };
  /** postgresql://user@host:port/db — without a password. */
  connectionUrl: string;
  psql: string;
  /** Set while the server runs: the command that stops it and leaves the data directory. */
  stop: string | null;
  /** Set once it is stopped: the command that starts it again on the same port. */
  start: string | null;
  /** A pipeline copying the database into production; `<production-url>` is the operator's to fill in. */
  copyToProduction: string;
  /** Where the password comes from. */
  password: string;
}

/** A command line, quoted only where a word needs it, run as the server's OS user when that is another user. */
function commandLine(words: string[], osUser: string | null = null): string {
  const asUser = osUser ? ['runuser', '-u', osUser, '--'] : [];
  return [...asUser, ...words].map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : shellQuote(w))).join(' ');
}

export function pitrInstructions(server: RestoredServerFacts): PitrInstructions {
  const { host, port, dataDirectory, postgresVersion, pgCtl, osUser, user, dbname, clientTools } = server;
  const connectionUrl = `postgresql://${encodeURIComponent(user)}@${host}:${port}/${encodeURIComponent(dbname)}?sslmode=disable`;
  const pgCtlRun = (...args: string[]) => commandLine([pgCtl, ...args], osUser);
  return {
    running: server.running,
    listening: { host, port, dataDirectory, postgresVersion },
    connectionUrl,
    psql: commandLine([clientTools.psql, connectionUrl]),
    stop: server.running ? pgCtlRun('stop', '-D', dataDirectory, '-m', 'fast') : null,
    start: server.running
      ? null
      : pgCtlRun('start', '-D', dataDirectory, '-l', path.posix.join(dataDirectory, LOG_FILE)),
    copyToProduction: `${commandLine([clientTools.pgDump, '--format=custom', connectionUrl])} | ${commandLine([clientTools.pgRestore, '--no-owner', '--no-privileges', '--dbname=<production-url>'])}`,
    password: `the password of role "${user}" on the source database (the restored cluster keeps its roles): give it to the prompt or through PGPASSWORD`,
  };
}

/** The instructions as the lines the CLI prints and the console shows. */
export function describeInstructions(i: PitrInstructions): string {
  const { host, port, dataDirectory, postgresVersion } = i.listening;
  const state = i.running
    ? `PostgreSQL ${postgresVersion} listens on ${host}:${port}`
    : `PostgreSQL ${postgresVersion} is stopped (it listens on ${host}:${port} once started)`;
  return [
    `${state}, data directory ${dataDirectory}`,
    `connect:    ${i.psql}`,
    `password:   ${i.password}`,
    i.stop ? `stop:       ${i.stop}` : `start:      ${i.start}`,
    `to copy the database into production (a new, empty database there is safest; add --table=<name> for one table):`,
    `  ${i.copyToProduction}`,
    ...(i.running ? ['the server keeps running until it is stopped; the data directory stays after that'] : []),
  ].join('\n');
}
