/** The data plane thread's entry: the real dump pipeline behind the port (started by plane.ts). */
import { parentPort } from 'node:worker_threads';
import { runDumpJob } from './run-job.ts';
import { serveDataPlane } from './serve.ts';

if (!parentPort) throw new Error('lib/dataplane/thread.ts runs as a worker thread (DataPlane starts it)');
serveDataPlane(parentPort, runDumpJob);
