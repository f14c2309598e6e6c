/**
 * Socket-level error codes that mean the storage could not be reached, whatever library raised
 * them. Drivers add the few codes only their library produces.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
]);

/** TLS verification failures: the server answered, but its certificate is not trusted. */
export const CERTIFICATE_ERROR_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The shared network codes plus a driver's own. */
export function networkCodes(...extra: string[]): ReadonlySet<string> {
  return new Set([...NETWORK_ERROR_CODES, ...extra]);
}

/** The string `code` of an error, when it has one (ssh2 and basic-ftp also use numeric codes). */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether the error's string code is one of `codes`. */
export function hasCode(error: unknown, codes: ReadonlySet<string>): boolean {
  const code = errorCode(error);
  return code !== undefined && codes.has(code);
}
