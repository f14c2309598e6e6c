import { HindsightError } from '../../errors.ts';
import { writeNewFileSynced } from '../../durable-files.ts';

/** Writes a new identity file, owner-only (0600) and synced; an existing file is never overwritten. */
export async function writeIdentityFile(file: string, text: string): Promise<void> {
  try {
    await writeNewFileSynced(file, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new HindsightError(
        'conflict',
        `${file} already exists: an identity file is never overwritten (its backups would become unreadable); choose another --output`,
      );
    if (code === 'ENOENT')
      throw new HindsightError('not_found', `the directory of ${file} does not exist: create it first`);
    throw error;
  }
}
