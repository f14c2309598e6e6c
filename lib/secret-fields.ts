/**
 * A configuration with secret fields (a storage's, a notifier's) is kept in the catalog in two
 * parts: the plain settings, and the secrets, sealed with the secret key and never shown.
 */
export interface SplitConfig {
  settings: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

/** Splits a configuration by field name; unset fields go nowhere. */
export function splitSecretFields(config: object, secretFields: readonly string[]): SplitConfig {
  const settings: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  const secret = new Set(secretFields);
  for (const [field, value] of Object.entries(config)) {
    if (value === undefined) continue;
    (secret.has(field) ? secrets : settings)[field] = value;
  }
  return { settings, secrets };
}
