/**
 * The worker's /metrics names databases and their outcomes: it is served without a token on
 * loopback only. Beyond it, a worker without HINDSIGHT_METRICS_TOKEN refuses to open the port,
 * naming the three ways out, and with a token a scrape without it is answered 401.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { startMetricsServer } from '../../worker/metrics.ts';

describe("the worker's /metrics", () => {
  it('refuses to listen beyond loopback without a token, naming the fixes', async () => {
    await assert.rejects(startMetricsServer(new Registry(), { host: '0.0.0.0', port: 0 }), (error: Error) => {
      assert.match(error.message, /would listen on 0\.0\.0\.0:0 without a token: set HINDSIGHT_METRICS_TOKEN/);
      assert.match(error.message, /HINDSIGHT_WEB_HOST=127\.0\.0\.1/);
      assert.match(error.message, /unset HINDSIGHT_WORKER_METRICS_PORT/);
      return true;
    });
  });

  it('serves loopback without a token, and beyond it only to the token', async () => {
    const open = await startMetricsServer(new Registry(), { host: '127.0.0.1', port: 0 });
    assert.equal((await fetch(`${open.url}/metrics`)).status, 200);
    await open.close();
    const guarded = await startMetricsServer(new Registry(), {
      host: '0.0.0.0',
      port: 0,
      token: 'a-token-of-16-chars',
    });
    const url = guarded.url.replace('0.0.0.0', '127.0.0.1');
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    const scraped = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer a-token-of-16-chars' } });
    assert.equal(scraped.status, 200);
    await guarded.close();
  });
});
