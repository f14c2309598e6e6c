/**
 * The REST API as a script reaches it, for the /api/v1 tests: requests with a session cookie or a
 * bearer token, logins, and the JSON Schema reading that finds a wrong-typed body per endpoint.
 */
import assert from 'node:assert/strict';

export const PASSWORD = 'correct horse battery staple';
export const SECRET_PATTERN = /hs_[A-Za-z0-9_-]{43}/;

export interface Answer {
  status: number;
  body: { error?: { kind: string; message: string; field?: string } } & Record<string, unknown>;
  text: string;
}
export type Json = Record<string, unknown>;
export type JsonSchema = {
  type?: string | string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
};

/** A request as a script makes it: a cookie and the console's Origin, or a bearer token and nothing else. */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  auth: { cookie?: string; bearer?: string } = {},
  json?: unknown,
  raw?: string,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (auth.cookie) {
    headers.cookie = auth.cookie;
    headers.origin = baseUrl;
  }
  if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`;
  if (json !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers,
    body: raw ?? (json === undefined ? undefined : JSON.stringify(json)),
  });
  const text = await response.text();
  let body: Answer['body'] = {};
  try {
    body = JSON.parse(text) as Answer['body'];
  } catch {
    /* a download */
  }
  return { status: response.status, body, text };
}

/** Logs `email` in with PASSWORD and returns its session cookie. */
export async function loginCookie(baseUrl: string, email: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (response.headers.get('set-cookie') ?? '').split(';')[0]!;
}

/** The JSON types a schema accepts; an enum or const counts as a string, an integer as a number too. */
function typesOf(s: JsonSchema): Set<string> {
  const out = new Set<string>();
  if (typeof s.type === 'string') out.add(s.type);
  if (Array.isArray(s.type)) s.type.forEach((t) => out.add(t));
  if (s.const !== undefined || s.enum) out.add('string');
  for (const branch of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) typesOf(branch).forEach((t) => out.add(t));
  if (out.has('integer')) out.add('number');
  return out;
}

const candidates: Array<[string, unknown]> = [
  ['number', 12345],
  ['string', 'not this'],
  ['boolean', true],
  ['array', [1]],
  ['object', { unexpected: 1 }],
];

/**
 * A body whose first required field (or first field) has a value of a type it does not accept,
 * and the field the refusal must name; fields before it are optional, so it is the first the check
 * meets. A schema without fields gets an unexpected one.
 */
export function wrongTypedBody(schema: JsonSchema, operation: string): { body: Json; expected: string } {
  const properties = Object.keys(schema.properties ?? {});
  const field = schema.required?.[0] ?? properties[0];
  if (!field) return { body: { unexpected: 1 }, expected: 'unexpected' };
  const accepted = typesOf(schema.properties![field]!);
  const wrong = candidates.find(([type]) => !accepted.has(type));
  assert.ok(wrong, `${operation}: no wrong type for ${field}`);
  return { body: { [field]: wrong[1] }, expected: field };
}

type JsonContent = { 'application/json'?: { schema?: JsonSchema } };
export interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<string, { requestBody?: { content: JsonContent }; responses: Record<string, { content?: JsonContent }> }>
  >;
  components: { securitySchemes: Json };
}

/** Operations added after the first version of the document, each of which must be in it. */
export const LATER_OPERATIONS = [
  ['/tokens', 'post'],
  ['/notifiers/{name}', 'put'],
  ['/databases/{name}/retention', 'get'],
  ['/databases/{name}/retention', 'put'],
  ['/restores/{workflowId}', 'get'],
  ['/databases/{name}/verifications', 'post'],
  ['/verifications/{id}', 'get'],
  ['/backups', 'get'],
  ['/backups/{id}/download', 'get'],
] as const;

/** Polls a verification's report until it is neither pending nor running (two minutes at most). */
export async function settledVerification(
  call: (method: string, path: string, auth: { cookie: string }) => Promise<Answer>,
  verificationId: string,
  cookie: string,
): Promise<Answer | undefined> {
  let report: Answer | undefined;
  for (let i = 0; i < 240; i += 1) {
    report = await call('GET', `/verifications/${verificationId}`, { cookie });
    if (!['pending', 'running'].includes(report.body.status as string)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return report;
}
