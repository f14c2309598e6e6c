/**
 * The secret scanner of the no-secrets test: every form a secret may take on the way out, and a
 * reader that decodes payload bytes, so that a secret is found however it was written.
 */

/** The forms a secret may take on the way out: as is, URL-encoded, JSON-escaped, base64 at any alignment. */
export function formsOf(secret: string): Array<[string, string]> {
  const forms: Array<[string, string]> = [
    ['plain', secret],
    ['url-encoded', encodeURIComponent(secret)],
    ['json', JSON.stringify(secret).slice(1, -1)],
  ];
  for (const pad of [0, 1, 2]) {
    const b64 = Buffer.from(`${'x'.repeat(pad)}${secret}`).toString('base64');
    // Characters that mix in the padding or the unknown neighbours are not part of the secret's own encoding.
    const core = b64.slice([0, 2, 3][pad], b64.length - 4);
    forms.push([`base64+${pad}`, core], [`base64url+${pad}`, core.replace(/\+/g, '-').replace(/\//g, '_')]);
  }
  return forms;
}

/** Text, plus every Uint8Array and base64-looking string decoded, so that payload bytes are read as bytes. */
export function expand(value: unknown, out: string[] = []): string[] {
  if (value === null || value === undefined) return out;
  if (value instanceof Uint8Array) {
    const b = Buffer.from(value);
    out.push(b.toString('latin1'), b.toString('base64'));
    return out;
  }
  if (typeof value === 'string') {
    out.push(value);
    if (value.length >= 8 && value.length % 4 === 0 && /^[A-Za-z0-9+/]+=*$/.test(value))
      out.push(Buffer.from(value, 'base64').toString('latin1'));
    return out;
  }
  if (typeof value !== 'object') {
    out.push(String(value));
    return out;
  }
  if (Array.isArray(value)) for (const v of value) expand(v, out);
  else
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out.push(k);
      expand(v, out);
    }
  return out;
}

export type Sources = Record<string, string[]>;

/** One finding per source and secret: the first form of it found there, with the text around it. */
export function scan(sources: Sources, wanted: Record<string, string>): string[] {
  const findings: string[] = [];
  for (const [source, texts] of Object.entries(sources)) {
    for (const [what, secret] of Object.entries(wanted)) {
      for (const [form, needle] of formsOf(secret)) {
        const hit = texts.find((t) => t.includes(needle));
        if (hit) {
          const at = hit.indexOf(needle);
          findings.push(
            `${what} (${form}) in ${source}: …${hit.slice(Math.max(0, at - 160), at + needle.length + 40)}…`,
          );
          break;
        }
      }
    }
  }
  return findings;
}
