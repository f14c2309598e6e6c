import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s3StorageConfig } from '../../lib/storage/s3/config.ts';
import { changeFrom, configFrom } from '../../web/src/routes/(app)/storages/config-form.ts';
import { storedValue } from '../../web/src/routes/(app)/storages/storage-form.ts';

// The console's S3 form shows the Object Lock as two inputs, a mode and days, stored as one setting.

const s3Form = (fields: Record<string, string>): FormData => {
  const form = new FormData();
  form.set('type', 's3');
  form.set('s3_bucket', 'vault');
  for (const [name, value] of Object.entries(fields)) form.set(`s3_${name}`, value);
  return form;
};

describe('the S3 storage form and Object Lock', () => {
  it('turns a mode and days into objectLock, which the schema takes', () => {
    const config = configFrom(s3Form({ objectLockMode: 'compliance', objectLockDays: '30' }));
    assert.deepEqual(config.objectLock, { mode: 'compliance', days: 30 });
    assert.deepEqual(s3StorageConfig.parse(config).objectLock, { mode: 'compliance', days: 30 });
  });

  it('leaves it out when off, and an edit set to off drops the stored one', () => {
    assert.equal('objectLock' in configFrom(s3Form({ objectLockMode: 'off', objectLockDays: '30' })), false);
    assert.equal(changeFrom(s3Form({ objectLockMode: 'off' })).objectLock, null);
  });

  it('has the schema name the days when a mode is chosen without them', () => {
    const parsed = s3StorageConfig.safeParse(configFrom(s3Form({ objectLockMode: 'governance', objectLockDays: '' })));
    assert.deepEqual(
      parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ['objectLock.days: objectLock.days must be between 1 and 36500'],
    );
  });

  it('shows a stored lock in the two inputs, and "off" when there is none', () => {
    const settings = { bucket: 'vault', objectLock: { mode: 'governance', days: 7 } };
    assert.equal(storedValue(settings, 'objectLockMode'), 'governance');
    assert.equal(storedValue(settings, 'objectLockDays'), 7);
    assert.equal(storedValue({ bucket: 'vault' }, 'objectLockMode'), 'off');
    assert.equal(storedValue({ bucket: 'vault' }, 'objectLockDays'), undefined);
    assert.equal(storedValue(settings, 'bucket'), 'vault');
  });
});
