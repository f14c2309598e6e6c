import { z } from 'zod';

/**
 * The one rule for names that Hindsight gives things (databases, storages, notifiers, workspaces):
 * lowercase letters, digits, "_" or "-", at most 63 characters. Names become storage key
 * prefixes, directory names and Temporal workflow ids, so they never hold "/", "." or spaces.
 * This module holds no Node APIs: workflow code validates its inputs with it too.
 */
export const NAME_SOURCE = '[a-z0-9][a-z0-9_-]{0,62}';
export const NAME_PATTERN = new RegExp(`^${NAME_SOURCE}$`);

/** A name schema whose refusal names the field, e.g. `nameSchema('storage name must be …')`. */
export const nameSchema = (message: string) => z.string().regex(NAME_PATTERN, message);

export const NAME_RULE = 'lowercase letters, digits, "_" or "-" (at most 63)';

/** A registered database, as workflow inputs and services name it. */
export const databaseNameSchema = z
  .string({ error: 'database is required' })
  .regex(NAME_PATTERN, 'database must be a registered name: lowercase letters, digits, "_" or "-"');

/** Agent names may carry capitals and dots (host names); they form the task queue `agent/<name>`. */
export const AGENT_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
export const agentNameSchema = (message: string) => z.string().regex(AGENT_NAME_PATTERN, message);
