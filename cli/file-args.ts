/**
 * Files named on the command line, looked at before any work starts, so that a mistyped path gets
 * an answer naming it and the fix instead of a raw "ENOENT: no such file or directory, open …".
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { HindsightError } from '../lib/errors.ts';

/** The file's stats, or the errno code that stat failed with. */
async function statOf(file: string): Promise<Stats | string> {
  try {
    return await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    return code;
  }
}

/** `what` (e.g. "--key file") at `file` exists and is a file; otherwise an error saying so and `fix`. */
export async function requireInputFile(file: string, what: string, fix: string): Promise<void> {
  const info = await statOf(file);
  if (info === 'ENOENT' || info === 'ENOTDIR')
    throw new HindsightError('not_found', `${what} ${file} does not exist: ${fix}`);
  if (info === 'EACCES')
    throw new HindsightError('access_denied', `${what} ${file} cannot be reached by this user: check its permissions`);
  if (typeof info === 'string') throw new HindsightError('bad_input', `${what} ${file} cannot be read (${info})`);
  if (info.isDirectory()) throw new HindsightError('bad_input', `${what} ${file} is a directory: ${fix}`);
}

/** The directory an output file (-o) goes into exists; otherwise an error naming it and how to make it. */
export async function requireOutputDirectory(output: string): Promise<void> {
  const dir = path.dirname(path.resolve(output));
  const info = await statOf(dir);
  if (info === 'ENOENT' || info === 'ENOTDIR')
    throw new HindsightError(
      'not_found',
      `-o ${output}: directory ${dir} does not exist: create it first (mkdir -p ${dir}) or write somewhere else`,
    );
  if (typeof info === 'string') throw new HindsightError('bad_input', `-o ${output}: directory ${dir} (${info})`);
  if (!info.isDirectory()) throw new HindsightError('bad_input', `-o ${output}: ${dir} is not a directory`);
}
