/**
 * Replaces every occurrence of a secret (password, key, token) in a text bound for an error
 * message or a label. Longer secrets go first so that one containing another leaves no fragment.
 * Values shorter than `minLength` are left alone: replacing a one-letter word would mangle the
 * message while hiding nothing.
 */
export function makeRedactor(
  secrets: readonly (string | undefined)[],
  options: { marker?: string; minLength?: number } = {},
): (text: string) => string {
  const marker = options.marker ?? '[redacted]';
  const minLength = Math.max(1, options.minLength ?? 1);
  const words = [...new Set(secrets.filter((s): s is string => s !== undefined && s.length >= minLength))].sort(
    (a, b) => b.length - a.length,
  );
  return (text) => {
    let out = text;
    for (const word of words) out = out.split(word).join(marker);
    return out;
  };
}

/** The message of anything thrown, for texts that must never hold `[object Object]`. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
