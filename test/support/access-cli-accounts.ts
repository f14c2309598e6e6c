/**
 * The CLI's one password path and invitations: `user create` refused without `--owner` and as a
 * user, `member add` refused before an invitation was accepted, then an invited account that signs
 * in with the password it chose.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AccessService } from '../../services/access.ts';
import type { HindsightCli } from './hindsight-cli.ts';

export async function inviteFromCli(
  hindsight: HindsightCli,
  access: AccessService,
  dir: string,
  made: string,
): Promise<string> {
  const password = 'a long enough password';
  const passwordFile = path.join(dir, 'new-user.password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  // Three refusals, whose processes run side by side. An account with a password is for the operator's owner only;
  // everyone else is invited. member add reaches only accounts that accepted an invitation to the workspace.
  await Promise.all([
    assert.rejects(
      hindsight(['user', 'create', made, '--workspace', 'blue', '--password-file', passwordFile]),
      /makes an owner of the installation only \(--owner\): invite everyone else, .*hindsight user invite \S+ --workspace blue/,
    ),
    assert.rejects(
      hindsight(['user', 'create', made, '--owner', '--password-file', passwordFile], 'blue@example.org'),
      /only the local operator on the server makes an account with a password/,
    ),
    assert.rejects(
      hindsight(['member', 'add', made, 'blue', 'viewer']),
      /no account "\S+" accepted an invitation to workspace "blue": invite them first/,
    ),
  ]);
  await assert.rejects(access.actorForEmail(made, 'test'), /does not exist/);
  const invited = await hindsight(['user', 'invite', made, '--workspace', 'blue', '--role', 'viewer']);
  const token = /\/login\/invite\/([A-Za-z0-9_-]+)\n$/.exec(invited.stdout)?.[1];
  assert.ok(token, invited.stdout);
  await access.acceptWithPassword({ token, password, ip: '127.0.0.1', userAgent: null });
  return password;
}
