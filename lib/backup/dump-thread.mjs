// Entry of the dump thread: a worker thread starts without the parent's TypeScript loader.
import { register } from 'tsx/esm/api';

register();
await import('./dump-thread-entry.ts');
