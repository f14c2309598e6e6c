import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { parseTrustProxy, trustProxyProblem } from '../../lib/trust-proxy.ts';

describe('HINDSIGHT_TRUST_PROXY', () => {
  it('is off unless set, and reads a hop count or a list of proxies', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(parseTrustProxy('off'), false);
    assert.equal(parseTrustProxy('0'), false);
    assert.equal(parseTrustProxy('2'), 2);
    assert.deepEqual(parseTrustProxy('10.0.0.5, 10.1.0.0/16,loopback,fd00::/8'), [
      '10.0.0.5',
      '10.1.0.0/16',
      'loopback',
      'fd00::/8',
    ]);
    assert.deepEqual(loadConfig({ HINDSIGHT_TRUST_PROXY: '1' }).trustProxy, 1);
  });

  it('refuses what is neither, naming the variable and the bad entry', () => {
    assert.equal(trustProxyProblem('10.0.0.1,true'), trustProxyProblem('true'));
    assert.match(trustProxyProblem('10.0.0.0/33') ?? '', /not 10\.0\.0\.0\/33/);
    assert.match(trustProxyProblem('proxy.example') ?? '', /not proxy\.example/);
    assert.throws(
      () => loadConfig({ HINDSIGHT_TRUST_PROXY: '10.0.0.1,everyone' }),
      /HINDSIGHT_TRUST_PROXY: must be off, a hop count or a list .*not everyone/,
    );
  });
});
