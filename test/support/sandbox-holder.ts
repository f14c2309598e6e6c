/**
 * Stands in for a worker that dies mid-verification: creates a process sandbox under the root
 * given as first argument, prints it as one JSON line, then waits to be killed.
 */
import { createProcessSandboxDriver } from '../../lib/sandbox/process.ts';

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: sandbox-holder.ts <sandbox root>\n');
  process.exit(2);
}
const sandbox = await createProcessSandboxDriver({ root }).create({ major: 15, label: 'held until killed' });
process.stdout.write(
  `${JSON.stringify({ id: sandbox.id, socketDir: sandbox.admin.host, dataDir: sandbox.dataDir, pid: process.pid })}\n`,
);
setInterval(() => undefined, 60_000);
