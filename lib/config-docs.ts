/**
 * The documentation of every variable Hindsight reads, kept as data in config-docs.json: docs/
 * configuration.md is generated from it (scripts/docs/configuration.ts), and only that script and
 * its test load it, so no program carries the text.
 */
import docs from './config-docs.json' with { type: 'json' };
import type { RawConfig } from './config.ts';

/** What a variable is documented as: its default in words and what it does. */
export interface VariableDoc {
  default: string;
  what: string;
}

/** Every variable of configSchema, documented; the type makes a new variable without an entry fail to compile. */
export const configDocs: Record<keyof RawConfig, VariableDoc> = docs.settings;

/**
 * Variables read from the environment only, never from the config file: tools, logs and the
 * programs' own switches. Each is read where it is used; this list documents them.
 */
export const environmentOnlyDocs: Record<string, VariableDoc> = docs.environmentOnly;
