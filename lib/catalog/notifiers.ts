import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { bind } from './db.ts';
import { overdueDatabases } from './backups.ts';
import { overdueHours, setOverdueHours } from './overdue-hours.ts';
import {
  deliveries,
  deliveryWork,
  failDelivery,
  planDeliveries,
  recordAttempt,
  scopesWithUndelivered,
} from './deliveries.ts';
import {
  attachNotifiers,
  getNotifier,
  listNotifiers,
  notifierConfig,
  notifiersAttachedTo,
  removeNotifier,
  setNotifierEvents,
  upsertNotifier,
} from './notifier-records.ts';

export type { NotifierRecord } from './notifier-records.ts';
export type { DeliveryQuery, DeliveryRecord, DeliveryStatus, DeliveryWork } from './deliveries.ts';
export type { OverdueDatabase } from './backups.ts';

/**
 * Notifiers, their attachment to databases and the deliveries of the outbox (`notifications`).
 * A notification is planned once: one delivery row per notifier that should hear of it.
 */
export function createNotifierStore(pool: pg.Pool, keys: Keyring) {
  return {
    ...bind({ pool, keys }, { upsert: upsertNotifier, config: notifierConfig, deliveryWork }),
    ...bind(pool, {
      get: getNotifier,
      list: listNotifiers,
      remove: removeNotifier,
      setEvents: setNotifierEvents,
      attach: attachNotifiers,
      attachedTo: notifiersAttachedTo,
      planDeliveries,
      recordAttempt,
      failDelivery,
      deliveries,
      scopesWithUndelivered,
      setOverdueHours,
      overdueHours,
      overdueDatabases,
    }),
  };
}

export type NotifierStore = ReturnType<typeof createNotifierStore>;
