import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runtimeWarnings } from '../../scripts/runtime-warnings.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LTS_MAJOR = Number(
  /^NODE_LTS_MAJOR=(\d+)$/m.exec(readFileSync(path.join(root, 'scripts/setup-node.sh'), 'utf8'))?.[1],
);

describe('the worker process, as npm start runs it', () => {
  let platform: Platform;
  let notDocker: net.Server;
  let socket: string;

  before(async () => {
    platform = await startPlatform();
    // A unix socket where a Docker engine would be, answering as something else: `auto` must not pick docker.
    socket = path.join(path.dirname(platform.config.dataDir), 'docker.sock');
    notDocker = net.createServer((connection) =>
      connection.on('error', () => undefined).end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n'),
    );
    notDocker.listen(socket);
    await once(notDocker, 'listening');
  });
  after(async () => {
    notDocker?.close();
    await platform?.stop();
  });

  it('runs on the LTS, starts through a Docker socket that is no engine, and prints no runtime warning', async () => {
    // As scripts/start.ts starts it: this node (the LTS under npm test), with the types stripped by Node.js itself.
    const worker = spawn(process.execPath, [path.join(root, 'worker/main.ts')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...platform.configEnv,
        HINDSIGHT_LOG_PRETTY: '0',
        HINDSIGHT_SANDBOX_DRIVER: 'auto',
        DOCKER_HOST: `unix://${socket}`,
      },
    });
    const stdout: string[] = [];
    const stderr: string[] = [];
    createInterface({ input: worker.stderr }).on('line', (line) => stderr.push(line));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`worker not ready within 90 s:\n${[...stdout, ...stderr].join('\n')}`)),
          90_000,
        );
        worker.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`the worker exited (${code}):\n${[...stdout, ...stderr].join('\n')}`));
        });
        createInterface({ input: worker.stdout }).on('line', (line) => {
          stdout.push(line);
          if (line.includes('"worker ready"')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // The binary the running worker was started from, asked for its version.
      const binary = readlinkSync(`/proc/${worker.pid}/exe`);
      const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
      assert.ok(Number(/^v(\d+)/.exec(version)?.[1]) >= LTS_MAJOR, `the worker runs on ${binary} ${version}`);
      const fallback = stdout
        .map((line) => JSON.parse(line) as { msg?: string; dockerSocket?: string; reason?: string })
        .find((entry) => entry.dockerSocket === socket);
      assert.ok(fallback, `the worker says why it does not use the Docker socket:\n${stdout.join('\n')}`);
      assert.match(fallback.msg ?? '', /process driver/);
    } finally {
      worker.kill('SIGTERM');
      if (worker.exitCode === null) await once(worker, 'exit');
    }
    assert.deepEqual(stderr.flatMap(runtimeWarnings), [], stderr.join('\n'));
  });
});
