/**
 * `npm start`'s supervisor on real child processes: one killed is started again after the backoff
 * with a line naming it, its signal and the wait; one that keeps failing right after it starts is
 * given up with its log named; a child waits for those it needs; stop ends them in the order given.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { RestartPolicy } from '../../lib/supervisor/backoff.ts';
import { processRun } from '../../lib/supervisor/runs.ts';
import { Supervisor, type ChildSpec } from '../../lib/supervisor/supervisor.ts';

const fast: RestartPolicy = { initialDelayMs: 50, maxDelayMs: 200, factor: 2, quickRunMs: 10_000, maxQuickCrashes: 3 };

function capturedLog() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

/** A child running `script`; `slowStartMs`: how long its start takes before it is up. */
function shellChild(name: string, script: string, events: string[], needs?: string[], slowStartMs = 0): ChildSpec {
  const { log } = capturedLog();
  return {
    name,
    logFile: `/logs/${name}.log`,
    ...(needs ? { needs } : {}),
    async start() {
      await new Promise((resolve) => setTimeout(resolve, slowStartMs));
      events.push(`start ${name}`);
      const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
      const run = processRun(name, child, log, 5_000);
      void run.exited.then(() => events.push(`exit ${name}`));
      return run;
    },
  };
}

/** Runs `test` with a supervisor, stopped afterwards whatever happens (or its children outlive the test). */
async function withSupervisor(
  onGiveUp: (name: string, file: string) => void,
  test: (supervisor: Supervisor, lines: string[]) => Promise<void>,
): Promise<void> {
  const { log, lines } = capturedLog();
  const supervisor = new Supervisor({ log, policy: fast, onGiveUp });
  try {
    await test(supervisor, lines);
  } finally {
    await supervisor.stop([]);
  }
}

const noGiveUp = () => assert.fail('nothing is given up');

const until = async (what: string, check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.ok(check(), what);
};

describe('the supervisor', () => {
  it('restarts a killed child after the backoff, saying which, how and when', () =>
    withSupervisor(noGiveUp, async (supervisor, lines) => {
      const events: string[] = [];
      await supervisor.start(shellChild('sleeper', 'exec sleep 60', events));
      const first = supervisor.pid('sleeper')!;
      process.kill(first, 'SIGKILL');
      await until('it is up again', () => lines.some((l) => l.startsWith('sleeper is up again')));
      assert.notEqual(supervisor.pid('sleeper'), first);
      assert.deepEqual(lines, [
        'sleeper was killed by SIGKILL; restarting it in 0.05 s',
        'restarting sleeper',
        `sleeper is up again (pid ${supervisor.pid('sleeper')})`,
      ]);
      await supervisor.stop([]);
      assert.equal(supervisor.pid('sleeper'), undefined);
    }));

  it('gives up on a child that keeps failing right after it starts, naming it and its log', () => {
    const given: string[] = [];
    return withSupervisor(
      (name, file) => given.push(`${name} ${file}`),
      async (supervisor, lines) => {
        const events: string[] = [];
        await supervisor.start(shellChild('broken', 'exit 3', events));
        await until('it is given up', () => given.length > 0);
        assert.deepEqual(given, ['broken /logs/broken.log']);
        assert.equal(events.filter((e) => e === 'start broken').length, 3);
        assert.equal(
          lines.at(-1),
          'broken exited with code 3: 3 crashes in a row, each within 10 s of starting; giving up on it (its log: /logs/broken.log)',
        );
        assert.deepEqual(
          lines.filter((l) => l.includes('restarting it in')),
          ['broken exited with code 3; restarting it in 0.05 s', 'broken exited with code 3; restarting it in 0.1 s'],
        );
      },
    );
  });

  it('restarts a child only once what it needs is up, and stops in the order given', () =>
    withSupervisor(noGiveUp, async (supervisor) => {
      const events: string[] = [];
      // The base is slow to come up: without waiting for it, the user would be back first.
      await supervisor.start(shellChild('base', 'exec sleep 60', events, undefined, 300));
      await supervisor.start(shellChild('user', 'exec sleep 60', events, ['base']));
      process.kill(supervisor.pid('base')!, 'SIGKILL');
      process.kill(supervisor.pid('user')!, 'SIGKILL');
      await until('both are up again', () => events.filter((e) => e.startsWith('start')).length === 4);
      const restarts = events.slice(2).filter((e) => e.startsWith('start'));
      assert.deepEqual(restarts, ['start base', 'start user']);
      events.length = 0;
      await supervisor.stop(['user', 'base']);
      assert.deepEqual(events, ['exit user', 'exit base']);
    }));
});
