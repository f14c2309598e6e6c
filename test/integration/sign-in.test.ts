/**
 * The sign-in suites in one process: single sign-on, invitations, the second factor, the console's defences and
 * the password lifecycle each start a platform, and three of them Chromium, which on two busy cores cost more
 * than many of their tests. Here they share one PostgreSQL server, one Temporal dev server and one browser
 * (test/support/shared-servers.ts), each suite with its own catalog, console and browser contexts, so each sees
 * exactly the world it would alone. Each file in sign-in/ also runs alone: `scripts/node --test <file>`.
 */
import { holdSharedServersForThisFile } from '../support/shared-servers.ts';

holdSharedServersForThisFile();

await import('./sign-in/console-hardening.test.ts');
await import('./sign-in/password-lifecycle.test.ts');
await import('./sign-in/second-factor.test.ts');
await import('./sign-in/sso.test.ts');
await import('./sign-in/invitations.test.ts');
