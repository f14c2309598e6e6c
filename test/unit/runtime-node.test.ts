import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sandboxOsUser } from '../../lib/sandbox/os-user.ts';
import { runtimeWarnings } from '../../scripts/runtime-warnings.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The LTS line scripts/setup-node.sh brings; every Hindsight process must run on it or newer. */
const LTS_MAJOR = Number(
  /^NODE_LTS_MAJOR=(\d+)$/m.exec(readFileSync(path.join(root, 'scripts/setup-node.sh'), 'utf8'))?.[1],
);
const majorOf = (version: string): number => Number(/^v(\d+)\./.exec(version.trim())?.[1]);

describe('every Hindsight process runs on the supported Node.js LTS', () => {
  it('the LTS line is set, and this test process (started like npm test starts it) runs on it', () => {
    assert.ok(LTS_MAJOR >= 24, `setup-node.sh names an LTS line (${LTS_MAJOR})`);
    assert.ok(
      majorOf(process.version) >= LTS_MAJOR,
      `tests run on ${process.version}, not on Node.js ${LTS_MAJOR}: start them with npm test or scripts/node`,
    );
  });

  it('scripts/node is the LTS, whatever node is first on PATH', () => {
    assert.ok(majorOf(execFileSync(path.join(root, 'scripts/node'), ['--version'], { encoding: 'utf8' })) >= LTS_MAJOR);
  });

  // `env node` is how the shebang and npx start it: the machine's node, possibly older than the LTS. Under
  // npm the project's node comes first on PATH, so the machine's own /usr/bin/node is tried by name too.
  for (const node of ['node', '/usr/bin/node']) {
    it(`the hindsight CLI started by ${node} reports the LTS it runs on`, (t) => {
      if (node.startsWith('/') && !existsSync(node)) return t.skip(`${node} is not installed on this machine`);
      assertRunsOnLts(
        spawnSync('/usr/bin/env', [node, path.join(root, 'bin/hindsight.mjs'), '--version'], {
          encoding: 'utf8',
        }),
      );
    });
  }

  it("PostgreSQL's restore_command (this node on bin/hindsight-wal-fetch.mjs) runs as the sandbox's OS user", (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to run a command as another OS user');
    // No arguments: the usage and its exit code prove that node and the script loaded as that user.
    const result = spawnSync(
      'runuser',
      ['-u', sandboxOsUser(), '--', process.execPath, path.join(root, 'bin/hindsight-wal-fetch.mjs')],
      { encoding: 'utf8', cwd: '/' },
    );
    assert.equal(result.status, 250, `${process.execPath} as ${sandboxOsUser()}: ${result.stderr}`);
    assert.match(result.stderr, /^usage: hindsight-wal-fetch\.mjs/);
  });
});

describe('runtime warnings on stderr are recognized', () => {
  it("a deprecation node prints, the AWS SDK's notice for an old node, and nothing in an ordinary line", () => {
    const deprecation = spawnSync(
      process.execPath,
      ['-e', "process.emitWarning('old API', 'DeprecationWarning', 'DEP0999')"],
      { encoding: 'utf8' },
    );
    assert.deepEqual(
      runtimeWarnings(deprecation.stderr.split('\n')[0]!).map((w) => w.replace(/\d+/, 'PID')),
      ['(node:PID) [DEP0999] DeprecationWarning: old API'],
    );
    assert.equal(
      runtimeWarnings('(node:24187) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)').length,
      1,
    );
    assert.deepEqual(runtimeWarnings('{"level":40,"msg":"verification sandbox confinement"}'), []);
  });
});

function assertRunsOnLts(result: SpawnSyncReturns<string>) {
  assert.equal(result.status, 0, result.stderr);
  const reported = /^hindsight \S+ \(Node\.js (v[\d.]+)\)$/.exec(result.stdout.trim())?.[1];
  assert.ok(reported, `unexpected answer: ${result.stdout}`);
  assert.ok(majorOf(reported) >= LTS_MAJOR, `the CLI runs on ${reported}`);
  assert.deepEqual(runtimeWarnings(result.stderr), []);
}
