/** A problem that left a backup or restore usable, e.g. a post hook that failed. */
export interface JobWarning {
  source: string;
  message: string;
  at: string;
}
