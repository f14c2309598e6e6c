/** What a catalog rebuild tells its caller: what it found, what it added, what it could not read. */
import type { Unreadable } from './findings.ts';

export interface Tally {
  /** Found in storage (and readable). */
  found: number;
  /** Of those, newly recorded by this run. */
  added: number;
}

export interface RebuildReport {
  storage: string;
  /** Whether this run registered the storage (false: it was registered with the same settings). */
  storageAdded: boolean;
  databases: Tally & {
    /** Databases this run created: they have no credentials until `hindsight db update`. */
    created: string[];
  };
  backups: Tally;
  copies: Tally;
  baseBackups: Tally;
  walSegments: Tally & { fromIndex: number; byReading: number };
  histories: Tally;
  unreadable: Unreadable[];
  /** False when the run recorded nothing the catalog did not hold. */
  changed: boolean;
}

export const emptyTally = (): Tally => ({ found: 0, added: 0 });
