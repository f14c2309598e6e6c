/**
 * Stands in for a worker that dies mid-verification with a docker sandbox: creates one (socket
 * directories under the root given as first argument), prints it as one JSON line, then waits to
 * be killed.
 */
import { createDockerSandboxDriver } from '../../lib/sandbox/docker.ts';

const [root, namePrefix] = process.argv.slice(2);
if (!root || !namePrefix) {
  process.stderr.write('usage: docker-sandbox-holder.ts <sandbox root> <container name prefix>\n');
  process.exit(2);
}
const sandbox = await createDockerSandboxDriver({ root, namePrefix }).create({ major: 15, label: 'held until killed' });
process.stdout.write(`${JSON.stringify({ id: sandbox.id, socketDir: sandbox.admin.host, pid: process.pid })}\n`);
setInterval(() => undefined, 60_000);
