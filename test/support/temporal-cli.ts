/**
 * The `temporal` CLI against a test's dev server, as an operator runs it: plain, or through the
 * console's codec endpoint with its token, given as flags or (as docs/temporal.md sets them once)
 * in the environment; and how to read the workflow histories it shows.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { temporalCliPath } from '../../temporal/dev-server.ts';

const run = promisify(execFile);

/** `true`: codec flags on the command line; `'env'`: TEMPORAL_CODEC_ENDPOINT and TEMPORAL_CODEC_AUTH. */
export interface CodecChoice {
  codec?: boolean | 'env';
}

export interface HistoryEvent {
  eventId: string;
  eventType: string;
  workflowTaskFailedEventAttributes?: { failure?: { message?: string } };
}

/** The history as JSON with every base64 field also shown decoded: payload data is base64 there. */
export function withBase64Expanded(json: string): string {
  return JSON.stringify(JSON.parse(json), (_key, value: unknown) =>
    typeof value === 'string' && value.length % 4 === 0 && /^[A-Za-z0-9+/]+=*$/.test(value)
      ? `${value} ${Buffer.from(value, 'base64').toString('latin1')}`
      : value,
  );
}

export interface TemporalCliTarget {
  address: string;
  taskQueue: string;
  /** The console's codec endpoint (`<url>/codec`) and the token it wants. */
  codecEndpoint: string;
  token: string;
}

export class TemporalCli {
  readonly target: TemporalCliTarget;

  constructor(target: TemporalCliTarget) {
    this.target = target;
  }

  /** Runs `temporal <args>` in namespace `default` and gives its stdout. */
  async run(args: string[], options: CodecChoice = {}): Promise<string> {
    const { codecEndpoint, token } = this.target;
    const codec = options.codec === true ? ['--codec-endpoint', codecEndpoint, '--codec-auth', `Bearer ${token}`] : [];
    const env =
      options.codec === 'env'
        ? { ...process.env, TEMPORAL_CODEC_ENDPOINT: codecEndpoint, TEMPORAL_CODEC_AUTH: `Bearer ${token}` }
        : process.env;
    const { stdout } = await run(
      await temporalCliPath(),
      [...args, '--address', this.target.address, '--namespace', 'default', ...codec],
      { maxBuffer: 64 * 1024 * 1024, env },
    );
    return stdout;
  }

  /** `temporal workflow show` as JSON text. */
  show(workflowId: string, extra: string[] = [], options: CodecChoice = {}): Promise<string> {
    return this.run(['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', ...extra], options);
  }

  /** `temporal workflow start` of a workflow type on the platform's task queue with a JSON input. */
  start(type: string, workflowId: string, input: unknown, options: CodecChoice = {}): Promise<string> {
    const queue = this.target.taskQueue;
    const args = ['--task-queue', queue, '--type', type, '--workflow-id', workflowId, '--input', JSON.stringify(input)];
    return this.run(['workflow', 'start', ...args], options);
  }

  /** The history's events once `done` says they got there; fails after 30 s naming the events seen. */
  async eventsWhen(workflowId: string, done: (events: HistoryEvent[]) => boolean): Promise<HistoryEvent[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { events } = JSON.parse(await this.show(workflowId)) as { events: HistoryEvent[] };
      if (done(events)) return events;
      if (Date.now() > deadline)
        throw new Error(`history of ${workflowId} never got there: ${events.map((e) => e.eventType).join(', ')}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
