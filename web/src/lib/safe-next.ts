/**
 * Where to go after signing in: only a path on this console. Browsers read `\` as `/` and some
 * proxies decode `%5C` and `%2F` before the browser sees them, so a value that is, or decodes to,
 * anything but a plain absolute path (`//host`, `/\host`, `https://…`, control characters) is
 * refused whole rather than repaired.
 */
const MAX_DECODES = 3;

function plainPath(value: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return value.startsWith('/') && !value.startsWith('//') && !/[\\\u0000-\u001f\u007f]/.test(value);
}

/** `value` when it is a same-origin path at every level of URL decoding, else `/`. */
export function safeNext(value: string | null | undefined): string {
  if (!value || value.length > 2000) return '/';
  let layer = value;
  for (let i = 0; i <= MAX_DECODES; i++) {
    if (!plainPath(layer)) return '/';
    let decoded: string;
    try {
      decoded = decodeURIComponent(layer);
    } catch {
      return '/';
    }
    if (decoded === layer) break;
    if (i === MAX_DECODES) return '/';
    layer = decoded;
  }
  // The last word is the URL parser's: whatever it makes of the value must stay on our origin.
  const base = 'http://console.invalid';
  const resolved = new URL(value, base);
  return resolved.origin === base ? value : '/';
}
