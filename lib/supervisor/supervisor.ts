/**
 * Keeps a few children running: one that dies is started again after a backoff (backoff.ts), once
 * the children it needs are up again; one that keeps dying soon after each start is given up. Only
 * `stop` ends them, in the order it is given.
 */
import type { Logger } from '../logger.ts';
import { errorMessage } from '../errors.ts';
import { RestartTracker, defaultRestartPolicy, type RestartPolicy } from './backoff.ts';

/** How a run ended: an exit code or signal of a child process, or what a watcher saw. */
export interface ExitInfo {
  code?: number | null;
  signal?: NodeJS.Signals | null;
  /** For what is watched rather than waited for (a daemon's pid): what was seen. */
  note?: string;
}

/** One started run of a child: its pid, its end, and how to end it. */
export interface ChildRun {
  readonly pid: number | undefined;
  readonly exited: Promise<ExitInfo>;
  stop(): Promise<void>;
}

export interface ChildSpec {
  readonly name: string;
  /** Where its output is kept, named when it is given up. */
  readonly logFile: string;
  /** Children that must be up before this one starts or restarts. */
  readonly needs?: readonly string[];
  /** Starts a run; resolves once it is up (rejects when it could not start). */
  start(): Promise<ChildRun>;
}

export function describeExit(exit: ExitInfo): string {
  if (exit.note) return exit.note;
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? 'unknown'}`;
}

interface Slot {
  spec: ChildSpec;
  tracker: RestartTracker;
  run: ChildRun | undefined;
  up: Promise<void>;
  markUp: () => void;
  cancelWait: (() => void) | undefined;
  loop: Promise<void> | undefined;
}

export interface SupervisorOptions {
  log: Logger;
  policy?: RestartPolicy;
  /** A child was given up: the supervisor does not stop the others by itself. */
  onGiveUp: (name: string, logFile: string) => void;
}

export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private readonly options: SupervisorOptions;
  private stopping = false;

  constructor(options: SupervisorOptions) {
    this.options = options;
  }

  /** Starts `spec` and keeps it running; resolves once its first run is up. */
  start(spec: ChildSpec): Promise<void> {
    const slot: Slot = {
      spec,
      tracker: new RestartTracker(this.options.policy ?? defaultRestartPolicy),
      run: undefined,
      up: Promise.resolve(),
      markUp: () => undefined,
      cancelWait: undefined,
      loop: undefined,
    };
    this.resetUp(slot);
    this.slots.set(spec.name, slot);
    slot.loop = this.keepRunning(slot);
    return slot.up;
  }

  /** The pid of a child's current run (undefined while it is down). */
  pid(name: string): number | undefined {
    return this.slots.get(name)?.run?.pid;
  }

  private resetUp(slot: Slot): void {
    slot.up = new Promise((resolve) => (slot.markUp = resolve));
  }

  private async keepRunning(slot: Slot): Promise<void> {
    const { log } = this.options;
    const { name } = slot.spec;
    for (let restarts = 0; !this.stopping; restarts++) {
      await Promise.all((slot.spec.needs ?? []).map((need) => this.slots.get(need)?.up));
      if (this.stopping) return;
      const startedAt = Date.now();
      let exit: ExitInfo;
      try {
        slot.run = await slot.spec.start();
        // Asked to stop while it was starting: stop() found no run to stop, so this run ends itself.
        if (this.stopping) return await slot.run.stop().catch(() => undefined);
        slot.markUp();
        if (restarts > 0) log.info(`${name} is up again (pid ${slot.run.pid ?? 'unknown'})`);
        exit = await slot.run.exited;
      } catch (error) {
        exit = { note: `could not start: ${errorMessage(error)}` };
      }
      slot.run = undefined;
      if (this.stopping) return;
      this.resetUp(slot);
      const decision = slot.tracker.crashed(Date.now() - startedAt);
      if (!decision.restart) {
        const within = slot.tracker.policy.quickRunMs / 1000;
        log.error(
          `${name} ${describeExit(exit)}: ${decision.quickCrashes} crashes in a row, each within ${within} s of starting; giving up on it (its log: ${slot.spec.logFile})`,
        );
        this.options.onGiveUp(name, slot.spec.logFile);
        return;
      }
      log.warn(`${name} ${describeExit(exit)}; restarting it in ${decision.delayMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, decision.delayMs);
        slot.cancelWait = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      slot.cancelWait = undefined;
      if (!this.stopping) log.info(`restarting ${name}`);
    }
  }

  /**
   * Stops every child, in `order` (children not named there last), each run ended before the
   * next begins to stop; no restart happens from now on.
   */
  async stop(order: readonly string[]): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots.values()) slot.cancelWait?.();
    const names = [...order, ...[...this.slots.keys()].filter((n) => !order.includes(n))];
    for (const name of names) {
      const slot = this.slots.get(name);
      if (!slot) continue;
      // A run still starting is stopped once it is up (or has failed to start).
      const run = slot.run;
      // One that could not be stopped is left behind (its loop would wait for its end forever).
      const stopped = run
        ? await run.stop().then(
            () => true,
            (error: unknown) => {
              this.options.log.error(`${name} did not stop: ${errorMessage(error)}`);
              return false;
            },
          )
        : true;
      if (stopped) await slot.loop;
    }
  }
}
