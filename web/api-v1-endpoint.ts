/**
 * What an /api/v1 endpoint is: method, path, summary, the zod schemas of its input, and a handler
 * that calls the domain services as the console and the CLI do (never HTTP to itself).
 */
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import type { Actor } from '../services/authz.ts';
import type { Services } from '../services/index.ts';
import { requestAccess } from './access-http.ts';
import type { HostServices } from './src/lib/server/view/index.ts';

/** What a handler gets: parsed input and the caller, resolved lazily so public endpoints need none. */
export interface EndpointContext<P, Q, B> {
  req: Request;
  res: Response;
  params: P;
  query: Q;
  body: B;
  services: HostServices;
  /** The domain services, each method taking the actor. */
  domain: Services;
  actor(): Actor;
}

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Endpoint<
  P extends z.ZodObject | undefined = z.ZodObject | undefined,
  Q extends z.ZodObject | undefined = z.ZodObject | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express syntax (`/databases/:name`); the OpenAPI path is derived from it. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Open without a session or token. */
  public?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  status: number;
  /** What a success answers, for the document. */
  response: string;
  /** Its shape, where a script is likely to read it (the document says `{}` otherwise). */
  responseSchema?: z.ZodType;
  /** `binary`: a download stream instead of JSON. */
  produces?: 'json' | 'binary';
  handler(ctx: EndpointContext<Infer<P>, Infer<Q>, Infer<B>>): Promise<unknown>;
}

export function endpoint<
  P extends z.ZodObject | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(e: Endpoint<P, Q, B>): Endpoint {
  return e as unknown as Endpoint;
}

export const workspaceId = async (ctx: { services: HostServices; actor(): Actor }, workspace: string | undefined) =>
  workspace ? (await ctx.services.access.workspaceFor(ctx.actor(), workspace)).id : undefined;

/** Tokens are made and revoked in a signed-in session: a token that mints tokens would outlive its own expiry. */
export function sessionOnly(req: Request): void {
  if (requestAccess(req).via === 'api-token')
    throw new HindsightError(
      'forbidden',
      "API tokens are created and revoked from a signed-in session (the console's Settings page or POST /api/v1/session), not with a token",
    );
}

/** A request that does not match its schema: HTTP 400 naming the field, its message starting with it. */
export class InputError extends Error {
  readonly kind = 'bad_input';
  readonly field: string;
  constructor(field: string, message: string) {
    super(message.startsWith(`${field}:`) ? message : `${field}: ${message}`);
    this.field = field;
  }
}

export function parseJsonQuery(field: string, value: string | undefined): unknown {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InputError(field, `is not JSON (${errorMessage(error)})`);
  }
}
