/**
 * What the receiver reports and watches besides the uploads: how far storage holds the stream,
 * whether storage really holds what the catalog says, how much WAL the slot keeps on the server,
 * and the settings that may change while it runs.
 */
import { formatLsn, type Lsn } from '../lsn.ts';
import type { ReceiverSession } from './session.ts';

const SETTINGS_EVERY_MS = 5000;
const STORAGE_CHECK_EVERY_MS = 30_000;

export const mebibytes = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

export class ArchiveHealth {
  private readonly session: ReceiverSession;
  private lastSettingsRead = Date.now();
  private lastStorageCheck = 0;
  /** When the slot went over its limit, while it stays over: one alert per episode. */
  private bloatEpisode: string | null = null;
  private overSince: number | null = null;

  constructor(session: ReceiverSession) {
    this.session = session;
  }

  async refreshSettings(): Promise<void> {
    const { settings } = this.session.options;
    if (!settings || Date.now() - this.lastSettingsRead < SETTINGS_EVERY_MS) return;
    this.lastSettingsRead = Date.now();
    const now = await settings();
    this.session.slotMaxBytes = now.slotMaxBytes;
    this.session.partialIntervalMs = now.partialIntervalMs;
    this.session.slotOverLimit = now.slotOverLimit ?? this.session.slotOverLimit;
    this.session.synchronous = now.synchronous ?? this.session.synchronous;
  }

  async refreshDurable(flushed: Lsn | null): Promise<void> {
    const { status, options } = this.session;
    const durable = await options.catalog.latestDurable(options.database, this.session.identity?.systemIdentifier);
    status.durableLsn = durable ? formatLsn(durable.lsn) : null;
    status.durableAt = durable ? durable.receivedAt.toISOString() : null;
    status.serverFlushLsn = flushed !== null ? formatLsn(flushed) : status.serverFlushLsn;
    status.unarchivedBytes =
      durable && flushed !== null ? Number(flushed > durable.lsn ? flushed - durable.lsn : 0n) : null;
  }

  /** Storage must hold what the catalog says it holds (docs/design.md, failure mode 1): the newest object is looked at. */
  async checkStorage(): Promise<void> {
    const identity = this.session.identity;
    if (Date.now() - this.lastStorageCheck < STORAGE_CHECK_EVERY_MS || !identity) return;
    this.lastStorageCheck = Date.now();
    const { database, catalog, driver, notify } = this.session.options;
    const durable = await catalog.latestDurable(database, identity.systemIdentifier);
    if (!durable) return;
    const segno = (durable.lsn - 1n) / BigInt(identity.walSegmentSize);
    const record = await catalog.getSegment(database, identity.systemIdentifier, durable.timeline, segno);
    if (!record) return;
    const info = await driver.stat(record.objectKey);
    if (!info || info.size !== record.storedBytes) {
      const message = `database "${database}": WAL object '${record.objectKey}' in storage ${driver.label} is ${info ? `${info.size} bytes, not ${record.storedBytes}` : 'missing'}; the archive is not what the catalog says (check the storage; the chain monitor will take a new base backup)`;
      this.session.status.lastError = message;
      await notify({
        event: 'wal_chain_broken',
        message,
        dedupeKey: `wal_storage_mismatch:${database}:${record.objectKey}:${record.storedBytes}`,
      });
    }
  }

  /**
   * Alerts once per episode over the limit; returns true when the policy is `drop` and the slot
   * has stayed over the limit for at least `checkIntervalMs` (two checks apart): a burst that the
   * receiver catches up with between two checks does not cost the archive a gap.
   */
  async checkBloat(retained: number | null, checkIntervalMs: number): Promise<boolean> {
    this.session.status.slotRetainedBytes = retained;
    const limit = this.session.slotMaxBytes;
    if (limit === null || retained === null || retained <= limit) {
      this.bloatEpisode = null;
      this.overSince = null;
      return false;
    }
    this.overSince ??= Date.now();
    const drop = this.session.slotOverLimit === 'drop' && Date.now() - this.overSince >= checkIntervalMs;
    if (!this.bloatEpisode) await this.alertBloat(retained, limit);
    return drop;
  }

  private async alertBloat(retained: number, limit: number): Promise<void> {
    this.bloatEpisode = new Date().toISOString();
    const { database, slot, notify } = this.session.options;
    await notify({
      event: 'wal_slot_bloat',
      message: `database "${database}": replication slot "${slot}" retains ${mebibytes(retained)} of WAL on the server, over the ${mebibytes(limit)} limit (the archiver is behind or stopped; check the worker, or set max_slot_wal_keep_size on the server to cap it)`,
      dedupeKey: `wal_slot_bloat:${database}:${this.bloatEpisode}`,
    });
  }
}
