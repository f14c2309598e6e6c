import { createRequire } from 'node:module';

/** This Hindsight's version (package.json): a catalog backup records it, so a restore can name the one to install. */
export function hindsightVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}
