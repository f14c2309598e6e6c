/**
 * Writes docs/cli.md from the command table (cli/commands/), the same declaration the parser and
 * `hindsight --help` use. With --check it writes nothing and exits 1 when the file is stale.
 *   scripts/node scripts/docs/cli.ts [--check]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { hindsightCommands } from '../../cli/commands/index.ts';
import { markdownReference } from '../../cli/usage.ts';

export const cliDocPath = fileURLToPath(new URL('../../docs/cli.md', import.meta.url));

export const cliReference = (): string => markdownReference(hindsightCommands);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const wanted = cliReference();
  if (process.argv.includes('--check')) {
    const committed = await readFile(cliDocPath, 'utf8').catch(() => '');
    if (committed !== wanted) {
      process.stderr.write('docs/cli.md is stale: run scripts/node scripts/docs/cli.ts\n');
      process.exit(1);
    }
  } else {
    await writeFile(cliDocPath, wanted);
    process.stdout.write(`wrote ${cliDocPath}\n`);
  }
}
