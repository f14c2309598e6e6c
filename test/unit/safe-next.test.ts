import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeNext } from '../../web/src/lib/safe-next.ts';

describe('the page after sign-in (next=)', () => {
  it('keeps a path on this console, with its query and fragment', () => {
    for (const path of ['/', '/databases/shop', '/audit?action=backup&since=2026-01-01', '/settings#tokens', '/a%20b'])
      assert.equal(safeNext(path), path);
  });

  it('sends every other origin, however written or encoded, to /', () => {
    const hostile = [
      '//evil.example',
      '//evil.example/path',
      '/\\evil.example',
      '\\\\evil.example',
      '/%5Cevil.example',
      '/%5cevil.example',
      '/%2F%2Fevil.example',
      '%2F%2Fevil.example',
      '/%252F%252Fevil.example',
      '/%25252F%25252Fevil.example',
      '/%2525255Cevil.example',
      'https://evil.example/',
      'HTTPS://evil.example',
      'javascript:alert(1)',
      '/\t/evil.example',
      '/%09/evil.example',
      '/\n/evil.example',
      'evil.example',
      '/%E0%A4%A',
      '',
      null,
      undefined,
    ];
    for (const value of hostile) assert.equal(safeNext(value), '/', String(value));
  });
});
