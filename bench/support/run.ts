/** How a bench runs to its end: whatever it started is stopped once, on success, failure, SIGINT or SIGTERM. */

export interface BenchRun {
  work(): Promise<void>;
  /** Stops what `work` started (called once, whichever way the run ends). */
  cleanup(): Promise<void>;
  /** Prints what helps to understand a failure (a worker's last lines) before the error. */
  onFailure(): void;
}

/** Prepares the run (settings, output directory), then runs it; exits 0, 1 on an error, 130 when interrupted. */
export function runBench(log: (message: string) => void, prepare: () => Promise<BenchRun>): void {
  const main = async () => {
    const run = await prepare();
    let cleaning: Promise<void> | undefined;
    const cleanup = () => (cleaning ??= run.cleanup());
    const interrupted = (signal: NodeJS.Signals) => {
      log(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      await run.work();
    } catch (error) {
      run.onFailure();
      throw error;
    } finally {
      log('cleaning up');
      await cleanup();
    }
  };
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
