/**
 * Who may read /metrics, and how much. Series name databases, so the endpoint is open only when the
 * console listens on loopback alone and no HINDSIGHT_METRICS_TOKEN is set; otherwise a scrape needs
 * that token (every series) or a personal API token (the series of its workspace's databases only).
 */
import type { Request } from 'express';
import { bearerMatches } from '../lib/net/bearer.ts';
import { API_TOKEN_PATTERN } from '../services/api-tokens.ts';
import type { Actor } from '../services/authz.ts';

export interface MetricsAccessOptions {
  /** HINDSIGHT_METRICS_TOKEN: every series. */
  token?: string | undefined;
  /** True when the console listens on loopback addresses only: no token needed then (unless one is set). */
  loopbackOnly?: boolean | undefined;
  /** The actor of a personal API token, or undefined when it is unknown, revoked or expired. */
  apiActor?: ((secret: string, ip: string) => Promise<Actor | undefined>) | undefined;
  /** The databases an actor may read. */
  databasesOf?: ((actor: Actor) => Promise<Set<string>>) | undefined;
}

/** Every series, only the series of some databases, or a refusal to send as 401. */
export type MetricsScope = { all: true } | { all: false; databases: Set<string> } | { refused: string };

export async function metricsScope(req: Request, options: MetricsAccessOptions): Promise<MetricsScope> {
  const header = req.headers.authorization;
  if (options.token !== undefined && bearerMatches(header, options.token)) return { all: true };
  const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '')?.[1];
  if (bearer && API_TOKEN_PATTERN.test(bearer) && options.apiActor && options.databasesOf) {
    const actor = await options.apiActor(bearer, req.ip ?? req.socket.remoteAddress ?? 'unknown');
    if (actor) return { all: false, databases: await options.databasesOf(actor) };
  }
  if (!header && options.token === undefined && options.loopbackOnly !== false) return { all: true };
  return {
    refused:
      options.token === undefined
        ? 'metrics need Authorization: Bearer <a personal API token> (hs_…), or HINDSIGHT_METRICS_TOKEN set on the console, when the console listens beyond loopback\n'
        : 'metrics need Authorization: Bearer <HINDSIGHT_METRICS_TOKEN> (every series) or a personal API token (hs_…, its workspace only)\n',
  };
}

const DATABASE_LABEL = /[{,]database="((?:[^"\\]|\\.)*)"/;

/**
 * The exposition text with only the samples of `databases` (and their families' HELP and TYPE
 * lines): a workspace's token sees neither other workspaces' databases nor the host's own series.
 */
export function onlyDatabases(text: string, databases: Set<string>): string {
  const out: string[] = [];
  let pendingComments: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      if (line.startsWith('# HELP ')) pendingComments = [];
      pendingComments.push(line);
      continue;
    }
    const match = DATABASE_LABEL.exec(line);
    if (!match || !databases.has(match[1]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)))) continue;
    out.push(...pendingComments, line);
    pendingComments = [];
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
