import type { Client } from '@temporalio/client';
import { catalogChanged } from '../temporal/catalog-backup.ts';
import { Guard } from './guard.ts';
import type { Runtime } from './runtime.ts';

/** What every domain service works with: the catalog and keys, a Temporal client, and the guard. */
export interface ServiceContext {
  runtime: Runtime;
  temporal: Client;
  guard: Guard;
}

export function serviceContext(runtime: Runtime, temporal: Client): ServiceContext {
  // A configuration change starts (or delays) the debounced catalog backup: storage then holds the new settings too.
  const guard = new Guard(runtime.catalog.access, () => catalogChanged(temporal, runtime.config));
  return { runtime, temporal, guard };
}
