/**
 * Who hears a notification. A database's notification goes to the notifiers attached to that
 * database; one of no database (a server's discovered or dropped database) goes to every notifier
 * of the notification's own workspace, never to another workspace's: a tenant neither misses its
 * server's news nor learns another tenant's database names. Either way the notifier's toggle for
 * the event must be on.
 */
export interface PlannedNotification {
  id: number;
  databaseId: number | null;
  workspaceId: number;
  event: string;
}

export interface CandidateNotifier {
  id: number;
  workspaceId: number;
  events: readonly string[];
  /** The databases it is attached to. */
  databaseIds: readonly number[];
}

export function hears(notifier: CandidateNotifier, n: PlannedNotification): boolean {
  if (!notifier.events.includes(n.event)) return false;
  return n.databaseId === null ? notifier.workspaceId === n.workspaceId : notifier.databaseIds.includes(n.databaseId);
}

/** One [notification, notifier] pair per delivery to plan. */
export function audience(
  notifications: readonly PlannedNotification[],
  notifiers: readonly CandidateNotifier[],
): Array<[notificationId: number, notifierId: number]> {
  return notifications.flatMap((n) =>
    notifiers.filter((nf) => hears(nf, n)).map((nf): [number, number] => [n.id, nf.id]),
  );
}
