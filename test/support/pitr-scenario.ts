/**
 * One PITR test file's world, started in the enclosing describe's `before` and stopped in its `after`:
 * a platform whose source streams WAL, optionally a base backup and timestamped rows, and every
 * server a restore started, so that no test has to keep its own list of what to stop.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before } from 'node:test';
import {
  type ChainMonitorState,
  type PitrOutcome,
  type PitrRestoreInput,
  type WalArchiverInput,
  type WalChainMonitorInput,
  chainQuery,
} from '../../temporal/contracts/pitr.ts';
import { connect, parsePgUrl } from '../../lib/pg/connection.ts';
import type { Platform } from './platform.ts';
import {
  restore,
  restoredRows,
  rfc3339Plus2,
  startPitrPlatform,
  startPitrWithRows,
  stopArchiver,
  stopPitrPlatform,
  type PitrPlatformOptions,
  type PitrSource,
  type Row,
} from './pitr-fixture.ts';
import { waitFor } from './wait.ts';

export interface PitrScenarioOptions extends PitrPlatformOptions {
  /** A base backup `first`, then rows written for `forMs`, all archived (as startPitrWithRows does). */
  writes?: { forMs: number; everyMs: number };
  /** The chain monitor `walchain/<database>` is started by the tests and must be stopped at the end. */
  chainMonitor?: boolean;
  /** Runs once the platform is up (and the rows written): the file's own set-up. */
  setUp?: (scenario: PitrScenario) => Promise<void>;
  /** Runs after everything is stopped. */
  tearDown?: () => Promise<void> | void;
}

export interface PitrRestored {
  dir: string;
  outcome: PitrOutcome;
}

export class PitrScenario {
  readonly database: string;
  readonly options: PitrScenarioOptions;
  platform!: Platform;
  source!: PitrSource;
  /** What `writes` committed, in order. */
  rows: Row[] = [];
  /** Directories restored into: their servers are stopped at the end. */
  readonly restoredDirs: string[] = [];

  constructor(database: string, options: PitrScenarioOptions = {}) {
    this.database = database;
    this.options = options;
  }

  async start(): Promise<void> {
    const { writes } = this.options;
    const started = writes
      ? await startPitrWithRows(this.database, writes, this.options)
      : { ...(await startPitrPlatform(this.database, this.options)), rows: [] };
    ({ platform: this.platform, source: this.source, rows: this.rows } = started);
    await this.options.setUp?.(this);
  }

  async stop(): Promise<void> {
    await stopPitrPlatform({
      platform: this.platform,
      source: this.source,
      database: this.database,
      restoredDirs: this.restoredDirs,
      chainMonitor: this.options.chainMonitor,
    });
    await this.options.tearDown?.();
  }

  /** `dirName` under the platform's directory, whose server is stopped at the end. */
  restoredDir(dirName: string): string {
    const dir = path.join(this.platform.dir, dirName);
    this.restoredDirs.push(dir);
    return dir;
  }

  /** Restores the database to `target` into a fresh `dirName` through the pitrRestore workflow `restore/<db>/<id>`. */
  async restoreInto(dirName: string, target: PitrRestoreInput['target'], id: string): Promise<PitrRestored> {
    const dir = this.restoredDir(dirName);
    const outcome = await restore(this.platform, { database: this.database, target, to: { directory: dir } }, id);
    return { dir, outcome };
  }

  /** Restores to `at`, written in a +02:00 offset so that the restore must read the offset. */
  restoreToTime(dirName: string, at: Date, id: string): Promise<PitrRestored> {
    return this.restoreInto(dirName, { time: rfc3339Plus2(at) }, id);
  }

  /**
   * The acceptance check of a restore to a time: T lies between `rows[k - 1]` and `rows[k]`; the
   * row before is present, the row after absent, and the rows are exactly those written up to T.
   */
  async restoreBetweenRows(dirName: string, id: string, k: number): Promise<RestoredBetween> {
    const before = this.rows[k - 1]!;
    const afterRow = this.rows[k]!;
    const t = new Date(before.at.getTime() + Math.floor((afterRow.at.getTime() - before.at.getTime()) / 2));
    assert.ok(t > before.at && t < afterRow.at);
    const { dir, outcome } = await this.restoreToTime(dirName, t, id);
    assert.ok(outcome.port);
    const restored = await restoredRows(this.source, outcome.port);
    const ids = new Set(restored.map((r) => r.id));
    assert.ok(
      ids.has(before.id),
      `row ${before.id} written at ${before.at.toISOString()}, just before T ${t.toISOString()}, is present`,
    );
    assert.ok(
      !ids.has(afterRow.id),
      `row ${afterRow.id} written at ${afterRow.at.toISOString()}, just after T, is absent`,
    );
    const expected = this.rows.filter((r) => r.at <= t).length;
    assert.equal(restored.length, expected, 'count equals the rows written up to T');
    assert.deepEqual(
      restored.map((r) => r.id),
      this.rows.slice(0, expected).map((r) => r.id),
    );
    return { dir, outcome, t, before };
  }

  /** Starts the chain monitor `walchain/<db>` (checking every second) and waits until its state is `ready`. */
  async chainMonitorUntil(
    what: string,
    ready: (state: ChainMonitorState) => boolean,
    timeoutMs = 30_000,
  ): Promise<ChainMonitorState> {
    const args: WalChainMonitorInput = { database: this.database, intervalSeconds: 1 };
    await this.platform.client.workflow.start('walChainMonitor', {
      taskQueue: this.platform.config.taskQueue,
      workflowId: `walchain/${this.database}`,
      args: [args],
    });
    return waitFor(
      what,
      async () => {
        const state = await this.chainState();
        return ready(state) ? state : undefined;
      },
      timeoutMs,
      500,
    );
  }

  /**
   * Fails over: the copy restored to latest into `dirName` is promoted, the source stops, the catalog
   * points the database at the copy and its archiver starts again there. Returns the promoted server.
   */
  async failOver(dirName: string, id: string): Promise<PitrRestored & { promoted: PitrSource }> {
    await stopArchiver(this.platform, this.database);
    const { dir, outcome } = await this.restoreInto(dirName, 'latest', id);
    await this.source.cluster.stop('fast');
    const catalog = await connect('catalog', parsePgUrl(this.platform.configEnv.DATABASE_URL!));
    try {
      await catalog.query('update databases set port = $1 where name = $2', [outcome.port, this.database]);
    } finally {
      await catalog.end();
    }
    const args: WalArchiverInput = { database: this.database };
    await this.platform.client.workflow.start('walArchiver', {
      taskQueue: this.platform.config.taskQueue,
      workflowId: `wal/${this.database}`,
      args: [args],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    return { dir, outcome, promoted: servedAt(this.source, outcome.port!) };
  }

  chainState(): Promise<ChainMonitorState> {
    return this.platform.client.workflow.getHandle(`walchain/${this.database}`).query(chainQuery);
  }
}

export interface RestoredBetween extends PitrRestored {
  t: Date;
  /** The last row written before T. */
  before: Row;
}

/** `source`'s database as the server on `port` serves it (a promoted copy). */
export function servedAt(source: PitrSource, port: number): PitrSource {
  const target = { ...source.target, port };
  const query = async <T extends object>(sql: string, params: unknown[] = []) => {
    const client = await connect(source.database, target);
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };
  return { ...source, target, query };
}

/** A scenario started before the enclosing describe's tests and stopped after them. */
export function usePitrScenario(database: string, options: PitrScenarioOptions = {}): PitrScenario {
  const scenario = new PitrScenario(database, options);
  before(() => scenario.start());
  after(() => scenario.stop());
  return scenario;
}
