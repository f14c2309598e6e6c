import assert from 'node:assert/strict';

/** One answer of the REST API: the status, the error message if any, and the JSON body. */
export interface ApiAnswer {
  status: number;
  message: string;
  body: Record<string, unknown>;
}

/** Who calls: a session cookie (sent with the console's origin, as a browser would) or an API token. */
export interface ApiAuth {
  cookie?: string;
  bearer?: string;
}

/** Logs in over `POST /api/v1/session` and gives the session cookie; anything but a 200 fails. */
export async function apiLogin(baseUrl: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (response.headers.get('set-cookie') ?? '').split(';')[0]!;
}

/** Calls `/api/v1<url>` as `auth` with an optional JSON body; a body that is not JSON reads as `{}`. */
export async function apiCall(
  baseUrl: string,
  method: string,
  url: string,
  auth: ApiAuth,
  json?: unknown,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth.cookie) {
    headers.cookie = auth.cookie;
    headers.origin = baseUrl;
  }
  if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`;
  const response = await fetch(`${baseUrl}/api/v1${url}`, {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: response.status, message: (body.error as { message?: string } | undefined)?.message ?? '', body };
}
