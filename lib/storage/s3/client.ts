import { S3Client, type S3ClientConfig, type ServerSideEncryption, type StorageClass } from '@aws-sdk/client-s3';
import type { S3ObjectLock, S3StorageConfig } from './config.ts';
import type { S3ErrorContext } from './errors.ts';

/** Connection failures must surface in seconds: 3 attempts × 3 s connect timeout. */
const CONNECT_TIMEOUT_MS = 3000;
export const MAX_ATTEMPTS = 3;
/** A server that accepted a request but went silent; uploads keep the socket busy while sending. */
const SOCKET_IDLE_TIMEOUT_MS = 30_000;
/**
 * Reads wait at most this long for the response headers. The body then has no idle limit: a
 * restore may stop reading for a long while (an index build) and the stream must survive that.
 */
const READ_HEADERS_TIMEOUT_MS = 30_000;

/** Knobs for tests; production uses the defaults. */
export interface S3Tuning {
  /** Parts numbered up to this are buffered in memory, later ones spooled to disk. */
  memoryParts?: number;
  /** Called whenever the memory held by an open write changes: the part buffers filling or uploading. */
  onBufferedBytes?: (bytes: number) => void;
}

export interface S3Context {
  client: S3Client;
  /** Uploads spooled parts; built without SDK retries since a stream body cannot be replayed. */
  streamClient: () => S3Client;
  bucket: string;
  objectKey: (key: string) => string;
  errors: S3ErrorContext;
  putOptions: { StorageClass?: StorageClass; ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string };
  tuning: S3Tuning;
  /** Every object but the connection test's probe is written locked with this; none when absent. */
  lock: S3ObjectLock | undefined;
}

type Role = 'control' | 'stream' | 'read';

/** Each role gets the timeouts and retries that suit it; see the constants above. */
function clientConfig(config: S3StorageConfig, role: Role): S3ClientConfig {
  return {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: role === 'stream' ? 1 : MAX_ATTEMPTS,
    requestHandler:
      role === 'read'
        ? {
            connectionTimeout: CONNECT_TIMEOUT_MS,
            requestTimeout: READ_HEADERS_TIMEOUT_MS,
            throwOnRequestTimeout: true,
            socketTimeout: 0,
          }
        : { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: SOCKET_IDLE_TIMEOUT_MS },
    ...(config.endpoint
      ? {
          endpoint: config.endpoint,
          // Many S3-compatible stores reject the SDK's default CRC trailers; integrity is checked
          // by the backup format itself. A locked write must carry a checksum, so Object Lock keeps them.
          ...(config.objectLock ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED' as const }),
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : { followRegionRedirects: true }),
    ...(config.accessKeyId && config.secretAccessKey
      ? {
          credentials: {
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey,
            ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
          },
        }
      : {}),
  };
}

/** The clients of one driver: control requests at once, the stream and read clients when first needed. */
export function openS3Context(options: { label: string; config: S3StorageConfig; prefix: string; tuning: S3Tuning }): {
  ctx: S3Context;
  readClient: () => S3Client;
  close: () => void;
} {
  const { config, prefix } = options;
  const endpoint = config.endpoint ?? `https://s3.${config.region}.amazonaws.com`;
  const client = new S3Client(clientConfig(config, 'control'));
  let streamClient: S3Client | undefined;
  let readClient: S3Client | undefined;
  const ctx: S3Context = {
    client,
    streamClient: () => (streamClient ??= new S3Client(clientConfig(config, 'stream'))),
    bucket: config.bucket,
    objectKey: (key) => `${prefix}${key}`,
    errors: {
      label: options.label,
      bucket: config.bucket,
      endpoint,
      secrets: [config.secretAccessKey, config.sessionToken].filter((s): s is string => Boolean(s)),
    },
    putOptions: {
      ...(config.storageClass ? { StorageClass: config.storageClass } : {}),
      ...(config.serverSideEncryption ? { ServerSideEncryption: config.serverSideEncryption } : {}),
      ...(config.sseKmsKeyId ? { SSEKMSKeyId: config.sseKmsKeyId } : {}),
    },
    tuning: options.tuning,
    lock: config.objectLock,
  };
  return {
    ctx,
    readClient: () => (readClient ??= new S3Client(clientConfig(config, 'read'))),
    close() {
      client.destroy();
      streamClient?.destroy();
      readClient?.destroy();
    },
  };
}

/**
 * The pages of a listing S3 returns in pages: `send` asks for the page at `marker` (undefined for
 * the first); `next` reads the following page's marker from a truncated page.
 */
export async function* listingPages<P extends { IsTruncated?: boolean | undefined }, M>(
  send: (marker: M | undefined) => Promise<P>,
  next: (page: P) => M | undefined,
): AsyncGenerator<P> {
  let marker: M | undefined;
  do {
    const page = await send(marker);
    yield page;
    marker = page.IsTruncated ? next(page) : undefined;
  } while (marker);
}
