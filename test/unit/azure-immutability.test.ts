import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planPerStorage } from '../../lib/retention/per-storage.ts';
import { azureStorageConfig } from '../../lib/storage/azure/config.ts';
import { immutabilityPolicy } from '../../lib/storage/azure/immutability.ts';
import { lockDays } from '../../lib/storage/locked.ts';
import { changeFrom, configFrom } from '../../web/src/routes/(app)/storages/config-form.ts';
import { storedValue } from '../../web/src/routes/(app)/storages/storage-form.ts';

// Azure immutability's settings and the retention planning around them. Azurite does not enforce
// immutability policies, so the refusal of a delete before the date is not exercised here.

const DAY = 86_400_000;
const base = {
  type: 'azure',
  container: 'backups',
  accountName: 'hindsightacct',
  accountKey: 'a2V5a2V5a2V5a2V5',
};

const issues = (value: unknown): string[] => {
  const parsed = azureStorageConfig.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('azure immutability settings', () => {
  it('accepts a mode and a whole number of days, and refuses anything else with the rule', () => {
    assert.deepEqual(issues({ ...base, immutability: { mode: 'locked', days: 30 } }), []);
    assert.deepEqual(issues({ ...base, immutability: { mode: 'unlocked', days: 1 } }), []);
    assert.deepEqual(issues({ ...base, immutability: { mode: 'compliance', days: 30 } }), [
      'immutability.mode: immutability.mode must be "unlocked" or "locked"',
    ]);
    assert.deepEqual(issues({ ...base, immutability: { mode: 'locked', days: 1.5 } }), [
      'immutability.days: immutability.days must be a whole number of days',
    ]);
    assert.deepEqual(issues({ ...base, immutability: { mode: 'locked', days: 0 } }), [
      'immutability.days: immutability.days must be between 1 and 146000',
    ]);
    assert.deepEqual(issues({ ...base, immutability: { mode: 'locked', days: 7, legalHold: true } }).length, 1);
  });

  it('sends the mode in Azure words and a date days ahead', () => {
    assert.equal(immutabilityPolicy(undefined), undefined);
    const before = Date.now();
    const policy = immutabilityPolicy({ mode: 'unlocked', days: 2 })!;
    assert.equal(policy.policyMode, 'Unlocked');
    assert.ok(policy.expiriesOn!.getTime() >= before + 2 * DAY && policy.expiriesOn!.getTime() <= Date.now() + 2 * DAY);
    assert.equal(immutabilityPolicy({ mode: 'locked', days: 2 })!.policyMode, 'Locked');
  });

  it("counts an azure storage's days as its lock, as an S3 storage's Object Lock", () => {
    assert.equal(lockDays({ type: 'azure', settings: { immutability: { mode: 'locked', days: 9 } } }), 9);
    assert.equal(lockDays({ type: 'azure', settings: {} }), 0);
    assert.equal(lockDays({ type: 's3', settings: { objectLock: { mode: 'governance', days: 4 } } }), 4);
    // The same field on another type means nothing.
    assert.equal(lockDays({ type: 'sftp', settings: { immutability: { mode: 'locked', days: 9 } } }), 0);
  });

  it('keeps the copies an immutable azure storage still protects, whatever the policy says', () => {
    const now = new Date('2026-11-20T12:00:00Z');
    const backups = [0, 1, 2].map((i) => ({
      id: `b${i}`,
      finishedAt: new Date(now.getTime() - (i + 1) * DAY),
      status: 'complete' as const,
      verified: false,
      inUse: false,
    }));
    const days = lockDays({ type: 'azure', settings: { immutability: { mode: 'unlocked', days: 3 } } });
    const result = planPerStorage({
      now,
      backups,
      databasePlan: null,
      storages: [
        { storage: 'blob', policy: { kind: 'count', keepLast: 1 }, backupIds: ['b0', 'b1', 'b2'], lockDays: days },
      ],
    });
    const blob = result.storages[0]!;
    assert.deepEqual(
      blob.keep.map((k) => [k.id, k.reasons.at(-1)]),
      [
        ['b0', blob.keep[0]!.reasons.at(-1)],
        ['b1', 'locked until 2026-11-21T12:00:00Z'],
      ],
    );
    assert.deepEqual(
      blob.delete.map((d) => d.id),
      ['b2'],
    );
  });
});

describe('the Azure storage form and immutability', () => {
  const azureForm = (fields: Record<string, string>): FormData => {
    const form = new FormData();
    form.set('type', 'azure');
    for (const [name, value] of Object.entries({ ...base, ...fields }))
      if (name !== 'type') form.set(`azure_${name}`, value);
    return form;
  };

  it('turns a mode and days into immutability, which the schema takes, and "off" into none', () => {
    const config = configFrom(azureForm({ immutabilityMode: 'locked', immutabilityDays: '30' }));
    assert.deepEqual(azureStorageConfig.parse(config).immutability, { mode: 'locked', days: 30 });
    assert.equal('immutability' in configFrom(azureForm({ immutabilityMode: 'off', immutabilityDays: '30' })), false);
    assert.equal(changeFrom(azureForm({ immutabilityMode: 'off' })).immutability, null);
  });

  it('shows a stored policy in the two inputs, and "off" when there is none', () => {
    const settings = { container: 'vault', immutability: { mode: 'unlocked', days: 7 } };
    assert.equal(storedValue(settings, 'immutabilityMode'), 'unlocked');
    assert.equal(storedValue(settings, 'immutabilityDays'), 7);
    assert.equal(storedValue({ container: 'vault' }, 'immutabilityMode'), 'off');
  });
});
