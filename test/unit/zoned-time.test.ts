import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zonedToRfc3339 } from '../../services/restores/zoned-time.ts';
import { notifierConfigFromForm } from '../../web/src/lib/server/view/notifier-form.ts';
import { notifierConfigSchema } from '../../lib/notify/config.ts';
import { localDateTime, wallClock } from '../../lib/time-zone.ts';

describe('a wall time in a zone as RFC 3339 with an offset', () => {
  it('uses the offset in force at that moment, across DST', () => {
    assert.deepEqual(zonedToRfc3339('2026-11-23T11:15', 'Europe/Paris').rfc3339, '2026-11-23T11:15:00+01:00');
    assert.deepEqual(zonedToRfc3339('2026-07-01T11:15:30', 'Europe/Paris').rfc3339, '2026-07-01T11:15:30+02:00');
    assert.equal(zonedToRfc3339('2026-07-01T11:15:30', 'Europe/Paris').utc.toISOString(), '2026-07-01T09:15:30.000Z');
    assert.equal(zonedToRfc3339('2026-03-01T00:00', 'America/St_Johns').rfc3339, '2026-03-01T00:00:00-03:30');
    assert.equal(zonedToRfc3339('2026-11-23T10:00:00', 'UTC').rfc3339, '2026-11-23T10:00:00Z');
  });

  it('refuses a skipped wall time, an unknown zone and a malformed value with what to fix', () => {
    assert.throws(() => zonedToRfc3339('2026-03-29T02:30', 'Europe/Paris'), /does not exist in Europe\/Paris/);
    assert.throws(
      () => zonedToRfc3339('2026-03-29T02:30', 'Mars/Olympus'),
      /timezone "Mars\/Olympus" is not an IANA name/,
    );
    assert.throws(() => zonedToRfc3339('29/03/2026 02:30', 'UTC'), /must look like 2026-11-23T10:15/);
  });
});

describe('notifier form fields to a configuration', () => {
  it('keeps stored secrets when their fields are blank, and replaces them when given', () => {
    const stored = notifierConfigSchema.parse({
      type: 'webhook',
      url: 'https://hooks.example.org/abc',
      headers: { Authorization: 'Bearer x' },
      secret: 'sixteen-chars-secret',
    });
    const kept = notifierConfigSchema.parse(
      notifierConfigFromForm('webhook', { url: '', method: 'GET', headers: '', secret: '' }, stored),
    );
    assert.deepEqual(kept, { ...stored, method: 'GET' });
    const replaced = notifierConfigSchema.parse(
      notifierConfigFromForm(
        'webhook',
        { url: 'https://other.example.org/x', headers: 'X-Key: 1\nX-Other: two', secret: '' },
        stored,
      ),
    );
    assert.equal(replaced.type === 'webhook' && replaced.url, 'https://other.example.org/x');
    assert.deepEqual(replaced.type === 'webhook' && replaced.headers, { 'X-Key': '1', 'X-Other': 'two' });
  });

  it("builds an email configuration, and never carries another type's secret over", () => {
    const email = notifierConfigSchema.parse(
      notifierConfigFromForm(
        'email',
        {
          host: 'smtp.example.org',
          port: '465',
          secure: 'on',
          from: 'h@example.org',
          to: 'a@example.org, b@example.org',
          authUser: 'u',
          authPass: 'p',
        },
        null,
      ),
    );
    assert.deepEqual(email, {
      type: 'email',
      host: 'smtp.example.org',
      port: 465,
      secure: true,
      starttls: 'optional',
      from: 'h@example.org',
      to: ['a@example.org', 'b@example.org'],
      auth: { user: 'u', pass: 'p' },
    });
    const slackStored = notifierConfigSchema.parse({ type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' });
    assert.equal(
      notifierConfigSchema.safeParse(notifierConfigFromForm('discord', { url: '' }, slackStored)).success,
      false,
    );
  });
});

describe('wall clock in a zone', () => {
  it('shows the zone’s own date and time on either side of a DST change, padded as datetime-local writes it', () => {
    assert.equal(localDateTime(new Date('2026-03-29T00:59:59Z'), 'Europe/Paris'), '2026-03-29T01:59:59');
    assert.equal(localDateTime(new Date('2026-03-29T01:00:00Z'), 'Europe/Paris'), '2026-03-29T03:00:00');
    assert.equal(localDateTime(new Date('2026-01-05T03:04:05Z'), 'America/New_York'), '2026-01-04T22:04:05');
    assert.deepEqual(wallClock(new Date('2026-07-01T00:00:00Z'), 'UTC'), {
      year: '2026',
      month: '07',
      day: '01',
      hour: '00',
      minute: '00',
      second: '00',
    });
  });

  it('refuses an unknown zone', () => {
    assert.throws(() => wallClock(new Date(), 'Mars/Olympus'), RangeError);
  });
});
