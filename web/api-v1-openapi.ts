/**
 * The OpenAPI 3.1 document of /api/v1, generated from the endpoint table (web/api-v1-routes.ts)
 * and its zod schemas, so that it describes exactly what the router checks. JSON Schema 2020-12
 * is OpenAPI 3.1's own dialect; request schemas describe the input side of each zod schema.
 */
import { z } from 'zod';
import type { Endpoint } from './api-v1-routes.ts';

const SESSION_COOKIE = 'hindsight_session';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as JsonSchema;
  void _dialect;
  return rest;
}

/** `/databases/:name` → `/databases/{name}` */
export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parameters(e: Endpoint): JsonSchema[] {
  const out: JsonSchema[] = [];
  const add = (where: 'path' | 'query', object: z.ZodObject | undefined) => {
    if (!object) return;
    const schema = jsonSchema(object) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const { description, ...propertySchema } = property as JsonSchema & { description?: string };
      out.push({
        name,
        in: where,
        required: where === 'path' || (schema.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: propertySchema,
      });
    }
  };
  add('path', e.params);
  add('query', e.query);
  return out;
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** The success response: JSON described by the endpoint's response schema, or a binary stream. */
function successResponse(e: Endpoint): JsonSchema {
  return e.produces === 'binary'
    ? {
        description: e.response,
        content: {
          'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
        },
      }
    : {
        description: e.response,
        content: { 'application/json': { schema: e.responseSchema ? jsonSchema(e.responseSchema, 'output') : {} } },
      };
}

/** Every answer an endpoint can give: its success, and the errors its input, access and ids make possible. */
function responses(e: Endpoint): Record<string, unknown> {
  const out: Record<string, unknown> = { [String(e.status)]: successResponse(e) };
  if (e.body || e.params || e.query)
    out['400'] = errorResponse('The input does not match the schema: error.field names the field');
  if (!e.public) {
    out['401'] = errorResponse('No session, or the API token is unknown, revoked or expired');
    out['403'] = errorResponse("The caller's role does not allow this");
  }
  if (e.params) out['404'] = errorResponse("Not found, or not in one of the caller's workspaces");
  out.default = errorResponse('Any other error, with its kind');
  return out;
}

function operation(e: Endpoint): Record<string, unknown> {
  return {
    operationId: e.operationId,
    tags: [e.tag],
    summary: e.summary,
    ...(e.description ? { description: e.description } : {}),
    ...(e.public ? { security: [] } : {}),
    parameters: parameters(e),
    ...(e.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(e.body) } } } }
      : {}),
    responses: responses(e),
  };
}

/** The paths object: one operation per endpoint, grouped by path. */
function pathItems(endpoints: Endpoint[]): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of endpoints) (paths[openApiPath(e.path)] ??= {})[e.method] = operation(e);
  return paths;
}

const SECURITY_SCHEMES = {
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'Set by POST /session; state-changing requests must also send Origin of the console',
  },
  bearerToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'hs_<43 base64url characters>',
    description: 'A personal API token, scoped to one workspace and a role',
  },
};

/** The body of every error answer. */
const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['kind', 'message'],
      properties: {
        kind: {
          type: 'string',
          examples: ['bad_input', 'unauthenticated', 'forbidden', 'not_found', 'conflict'],
        },
        message: { type: 'string' },
        field: { type: 'string', description: 'The input field at fault (bad_input only)' },
      },
    },
  },
};

export function buildOpenApiDocument(endpoints: Endpoint[]): JsonSchema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hindsight API',
      version: '1',
      description:
        'PostgreSQL backups, restores, verification and retention. Authenticate with the console\'s session cookie (POST /session) or a personal API token (Authorization: Bearer hs_…, created on the console\'s Settings page). Every error answers {"error": {"kind", "message", "field"?}}.',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ sessionCookie: [] }, { bearerToken: [] }],
    tags: [...new Set(endpoints.map((e) => e.tag))].map((name) => ({ name })),
    paths: pathItems(endpoints),
    components: {
      securitySchemes: SECURITY_SCHEMES,
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}
