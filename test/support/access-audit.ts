/** What the access tests expect the audit log to hold after the role matrix has run. */
import assert from 'node:assert/strict';
import type { AuditEntry } from '../../lib/catalog/audit.ts';
import type { Role } from '../../services/authz.ts';
import { emailOf } from './access-fixture.ts';

/** Each kind of change is audited with who, from where, and its before/after, secrets masked. */
export function assertMutationsAudited(entries: AuditEntry[], sourceHost: string): void {
  const find = (action: string, target: string, outcome = 'ok') =>
    entries.find((e) => e.action === action && e.targetName === target && e.outcome === outcome);
  const created = find('database.create', 'db-editor');
  assert.ok(created);
  assert.equal(created.actor, emailOf('editor'));
  assert.equal(created.source, '127.0.0.1');
  assert.equal((created.after as { host: string }).host, sourceHost);
  assert.equal(created.before, null);
  const schedule = entries.find(
    (e) => e.action === 'database.schedule' && e.actor === emailOf('editor') && e.source === '127.0.0.1',
  );
  assert.deepEqual(schedule?.before, { schedule: null, timezone: 'UTC' });
  assert.deepEqual(schedule?.after, { schedule: '0 4 * * *', timezone: 'Europe/Paris' });
  const storage = find('storage.create', 's3-admin');
  assert.equal((storage?.after as Record<string, unknown>).secretAccessKey, '[secret]');
  assert.equal((storage?.after as Record<string, unknown>).bucket, 'acme');
  assert.ok(find('storage.delete', 'del-admin')?.before, 'a deletion records what was deleted');
  for (const role of ['editor', 'admin', 'owner'] as Role[]) {
    assert.ok(
      entries.some((e) => e.action === 'backup.download' && e.actor === emailOf(role) && e.outcome === 'ok'),
      `download by ${role}`,
    );
  }
  assert.ok(
    entries.some((e) => e.action === 'backup.download' && e.actor === emailOf('viewer') && e.outcome === 'denied'),
    'a viewer’s download is refused and audited',
  );
  assert.ok(entries.some((e) => e.action === 'restore.start' && e.actor === emailOf('editor') && e.outcome === 'ok'));
  assert.ok(
    entries.some((e) => e.action === 'backup.cancel' && e.outcome === 'failed'),
    'an allowed action that fails is audited as failed',
  );
  assert.ok(entries.some((e) => e.action === 'invitation.create' && e.targetName === 'invited-by-admin@example.org'));
  assert.ok(entries.some((e) => e.action === 'auth.login' && e.outcome === 'ok'));
}
