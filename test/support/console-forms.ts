/** Form posts to the console as a browser sends them: urlencoded, with the headers each test names. */

const FORM = 'application/x-www-form-urlencoded';

type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

/** POST `fields` urlencoded to `baseUrl + url`, redirects left unfollowed. */
export function postForm(
  baseUrl: string,
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
  fetcher: Fetch = fetch,
): Promise<Response> {
  const body = new URLSearchParams(fields).toString();
  return fetcher(`${baseUrl}${url}`, {
    method: 'POST',
    body,
    redirect: 'manual',
    headers: { ...headers, 'content-type': FORM },
  });
}

export interface ActionResult {
  type: string;
  status?: number;
  data?: string;
}

/**
 * A same-origin form action posted as `use:enhance` does, with the session `cookie` (or through a
 * `fetcher` that adds it); its JSON result.
 */
export async function postAction<T extends ActionResult = ActionResult>(
  baseUrl: string,
  url: string,
  cookie: string,
  fields: Record<string, string>,
  fetcher: Fetch = fetch,
): Promise<T> {
  const headers: Record<string, string> = { origin: baseUrl, accept: 'application/json' };
  if (cookie) headers.cookie = cookie;
  const response = await postForm(baseUrl, url, fields, headers, fetcher);
  return (await response.json()) as T;
}
