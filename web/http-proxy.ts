/**
 * http-proxy-middleware, loaded so that it prints no deprecation. Its http-proxy copies request
 * headers with `util._extend` (DEP0060: deprecated, same effect as Object.assign) on every proxied
 * request, and reads that function once, when it is first loaded: for that one load it is handed
 * Object.assign, and `util._extend` is put back for everything else.
 */
import { createRequire } from 'node:module';
import util from 'node:util';
import type * as HttpProxyMiddlewareModule from 'http-proxy-middleware';

type HttpProxyMiddleware = typeof HttpProxyMiddlewareModule;

function loadWithoutDeprecation(): HttpProxyMiddleware {
  const slot = util as unknown as Record<string, unknown>;
  const deprecated = slot._extend;
  slot._extend = (target: object, source: object | null) => Object.assign(target, source);
  try {
    return createRequire(import.meta.url)('http-proxy-middleware') as HttpProxyMiddleware;
  } finally {
    slot._extend = deprecated;
  }
}

export const { createProxyMiddleware, responseInterceptor } = loadWithoutDeprecation();
