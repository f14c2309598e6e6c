import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPitrForm } from '../../web/src/routes/(app)/databases/[name=database]/pitr/form.ts';

const form = (
  over: Partial<{
    baseSchedule: string;
    slotMaxMb: string;
    partialIntervalSeconds: string;
    slotOverLimit: string;
    synchronous: string;
  }> = {},
) => ({
  baseSchedule: '0 2 * * *',
  slotMaxMb: '2048',
  partialIntervalSeconds: '1',
  ...over,
});

describe("console: the PITR panel's settings form", () => {
  it('reads the settings: an empty schedule or slot limit means none, seconds become milliseconds', () => {
    assert.deepEqual(readPitrForm(form({ partialIntervalSeconds: '0.5' }), 'UTC'), {
      ok: true,
      settings: { baseSchedule: '0 2 * * *', slotMaxMb: 2048, partialIntervalMs: 500 },
    });
    assert.deepEqual(readPitrForm(form({ baseSchedule: '', slotMaxMb: '' }), 'UTC'), {
      ok: true,
      settings: { baseSchedule: null, slotMaxMb: null, partialIntervalMs: 1000 },
    });
  });

  it('refuses naming the field: a schedule that never fires, a slot limit or an interval that is no number', () => {
    const refusal = (over: Parameters<typeof form>[0]) => {
      const read = readPitrForm(form(over), 'Europe/Paris');
      return read.ok ? null : read.error;
    };
    assert.match(refusal({ baseSchedule: '30 2 31 2 *' }) ?? '', /^Base-backup schedule: .*day-of-month 31/);
    assert.match(refusal({ baseSchedule: '0 25 * * *' }) ?? '', /^Base-backup schedule: .*hour/);
    assert.match(refusal({ slotMaxMb: '1.5' }) ?? '', /^Slot limit: "1.5" is not a whole number of MB/);
    assert.match(refusal({ partialIntervalSeconds: 'soon' }) ?? '', /^Partial shipping interval: "soon"/);
    assert.match(refusal({ partialIntervalSeconds: '0.01' }) ?? '', /from 0.1 to 3600/);
    assert.match(refusal({ slotOverLimit: 'delete' }) ?? '', /^Over the slot limit: "delete" must be alert or drop/);
  });

  it('reads the policy over the slot limit and synchronous mode when the form offers them', () => {
    assert.deepEqual(readPitrForm(form({ slotOverLimit: 'drop', synchronous: 'on' }), 'UTC'), {
      ok: true,
      settings: {
        baseSchedule: '0 2 * * *',
        slotMaxMb: 2048,
        partialIntervalMs: 1000,
        slotOverLimit: 'drop',
        synchronous: true,
      },
    });
    const off = readPitrForm(form({ slotOverLimit: 'alert', synchronous: 'off' }), 'UTC');
    assert.ok(off.ok && off.settings.synchronous === false && off.settings.slotOverLimit === 'alert');
  });
});
