#!/usr/bin/env node
// Entry point of the `hindsight` command: loads the TypeScript sources with Node.js's own type stripping, on the
// supported Node.js LTS. Started by an older node (a machine's /usr/bin/node through the shebang
// or npx), it runs itself again on the project's node (scripts/node, which fetches it once).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
// A default import: the named export does not exist on the older node this file must also start on.
import nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';

const LTS_MAJOR = 24;

/** Runs this entry again on the LTS node and ends with its exit status (or its signal). */
function runOnLts() {
  const projectNode = fileURLToPath(new URL('../scripts/node', import.meta.url));
  const child = spawn(projectNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal's process group; this process waits for it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    process.stderr.write(`hindsight: cannot start Node.js ${LTS_MAJOR} through ${projectNode}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

if (Number(process.versions.node.split('.')[0]) < LTS_MAJOR) {
  runOnLts();
} else if (process.argv[2] === '--version') {
  // The runtime is part of the answer: it is what an operator needs to tell whether this host is supported.
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`hindsight ${version} (Node.js ${process.version})\n`);
} else {
  // A command is a short process that loads hundreds of modules: Node keeps their compiled code (and
  // the TypeScript it stripped) in its compile cache, so only the first run after a change pays for it.
  // In the project's own directory, not the shared default under /tmp: a directory another local user
  // created there first would hand this process compiled code of theirs. Where the project is read-only
  // (a container's user), the cache is off and the command runs as before.
  nodeModule.enableCompileCache(fileURLToPath(new URL('../.cache/node-compile-cache', import.meta.url)));
  // Node.js 24 strips the types itself: the sources use only erasable TypeScript (tsconfig says so).
  await import('../cli/main.ts');
}
