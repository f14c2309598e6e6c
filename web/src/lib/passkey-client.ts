/**
 * The browser's half of a passkey ceremony: ask our endpoint for options, let the authenticator
 * answer through @simplewebauthn/browser, send the answer back. Returns the refusal's text, or
 * undefined when the server accepted it.
 */
import { startAuthentication, startRegistration } from '@simplewebauthn/browser';

type Answer = { options?: unknown; error?: string; ok?: boolean; [key: string]: unknown };

async function post(url: string, body: unknown): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => ({}))) as Answer;
  if (!response.ok) return { error: answer.error ?? `the server answered ${response.status}` };
  return answer;
}

const failure = (error: unknown) =>
  error instanceof Error && error.name === 'NotAllowedError'
    ? 'the passkey prompt was cancelled or timed out'
    : `the passkey did not answer: ${error instanceof Error ? error.message : String(error)}`;

/** Signs in (or passes the second step) with a passkey through `url`. */
export async function signInWithPasskey(url: string): Promise<string | undefined> {
  const start = await post(url, {});
  if (start.error) return start.error;
  try {
    const response = await startAuthentication({
      optionsJSON: start.options as Parameters<typeof startAuthentication>[0]['optionsJSON'],
    });
    return (await post(url, { response })).error;
  } catch (error) {
    return failure(error);
  }
}

/** Registers a new passkey named `name` through `url`. */
export async function registerPasskey(url: string, name: string): Promise<string | undefined> {
  const start = await post(url, {});
  if (start.error) return start.error;
  try {
    const response = await startRegistration({
      optionsJSON: start.options as Parameters<typeof startRegistration>[0]['optionsJSON'],
    });
    return (await post(url, { token: start.token, response, name })).error;
  } catch (error) {
    return failure(error);
  }
}

/**
 * After a passkey sign-in: a full load of `next` (a same-site path only, never another site), so
 * that every part of the page is read again with the new session.
 */
export function continueTo(next: string | null): void {
  window.location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
}
