import type { PgTarget } from '../pg/connection.ts';

/**
 * What the tests hold a drill with: `beforeDrop` runs against the drill's restored database
 * after it was checked and before it is dropped, so a test can compare it with the source.
 * Nothing in the product sets it.
 */
export const drillTestHooks: { beforeDrop?: ((restored: PgTarget) => Promise<void>) | undefined } = {};
