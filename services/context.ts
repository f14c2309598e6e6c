import type { Client } from '@temporalio/client';
import { Guard } from './guard.ts';
import type { Runtime } from './runtime.ts';

/** What every domain service works with: the catalog and keys, a Temporal client, and the guard. */
export interface ServiceContext {
  runtime: Runtime;
  temporal: Client;
  guard: Guard;
}

export function serviceContext(runtime: Runtime, temporal: Client): ServiceContext {
  return { runtime, temporal, guard: new Guard(runtime.catalog.access) };
}
