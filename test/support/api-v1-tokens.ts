/** What the API token tests expect of the catalog and the audit log once tokens were made and used. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Platform } from './platform.ts';

/**
 * The catalog holds hashes only: no `secrets` (past their shown prefix) in api_tokens, each one's
 * SHA-256 there; the editor's token work is audited, the second secret nowhere in the audit log.
 */
export async function assertTokensKeptAsHashes(platform: Platform, secrets: [string, string]): Promise<void> {
  const { rows } = await platform.runtime.catalog.pool.query('select * from api_tokens');
  const stored = JSON.stringify(rows);
  for (const secret of secrets) {
    assert.ok(!stored.includes(secret.slice(10)), 'no secret (past its shown prefix) in api_tokens');
    assert.ok(
      rows.some((r: { token_sha256: string }) => r.token_sha256 === createHash('sha256').update(secret).digest('hex')),
    );
  }
  const audit = await platform.runtime.catalog.access.listAudit({ actor: 'editor@example.org' });
  assert.ok(audit.some((e) => e.action === 'apiToken.create' && e.outcome === 'ok'));
  assert.ok(audit.some((e) => e.action === 'apiToken.create' && e.outcome === 'denied'));
  assert.ok(audit.some((e) => e.action === 'apiToken.revoke' && e.outcome === 'ok'));
  assert.ok(!JSON.stringify(audit).includes(secrets[1].slice(10)), 'the audit log holds no secret');
}
