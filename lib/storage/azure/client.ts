import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type { AzureStorageConfig } from './config.ts';
import { connectionStringSecrets } from './errors.ts';

export const CONNECT_TIMEOUT_MS = 3_000;
/**
 * Silence both ways for this long is a hung service, as for S3 (lib/storage/s3/client.ts): every
 * request either sends its body or waits for an answer the service gives in seconds.
 */
export const IDLE_TIMEOUT_MS = 30_000;
/**
 * Three tries at most 3 s each, 0.5 s apart: an endpoint that refuses or never answers the
 * connection fails in about 10 s instead of retrying for minutes.
 */
const RETRY_OPTIONS = { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4_000 };

/**
 * The SDK has no client-side connect timeout: a black-holed endpoint would hang for the OS's
 * minutes-long SYN retries. Each socket gets a short deadline to connect, then an idle deadline
 * for a service that stops answering. The error carries code ETIMEDOUT, which the SDK's retry
 * policy retries like a refused connection.
 */
function agentWithTimeouts(secure: boolean, timeouts: AzureTimeouts): http.Agent {
  const agent = secure
    ? new https.Agent({ keepAlive: true, timeout: timeouts.idleMs })
    : new http.Agent({ keepAlive: true, timeout: timeouts.idleMs });
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = create(options, callback) as net.Socket | null | undefined;
    if (!socket) return socket;
    let connected = false;
    socket.setTimeout(timeouts.connectMs);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      socket.setTimeout(timeouts.idleMs);
    });
    socket.on('timeout', () => {
      // A download whose reader is busy (a restore waiting on the database) pauses the socket:
      // that silence is the reader's, not the service's. Activity re-arms the timer later.
      if (connected && socket.isPaused()) return;
      const what = connected
        ? `no response for ${timeouts.idleMs / 1000} s`
        : `connection not established within ${timeouts.connectMs / 1000} s`;
      socket.destroy(Object.assign(new Error(`${what} (ETIMEDOUT)`), { code: 'ETIMEDOUT' }));
    });
    return socket;
  };
  return agent;
}

export interface AzureTimeouts {
  connectMs: number;
  idleMs: number;
}

/** The endpoint as shown in messages: without a query, which could hold a SAS token. */
function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '(invalid endpoint)';
  }
}

export interface Clients {
  service: BlobServiceClient;
  container: ContainerClient;
  agent: http.Agent;
  endpoint: string;
  secrets: string[];
}

export function openClients(config: AzureStorageConfig, timeouts: AzureTimeouts): Clients {
  const pipeline = (secure: boolean): StoragePipelineOptions & { agent: http.Agent } => ({
    retryOptions: RETRY_OPTIONS,
    // Not in the StoragePipelineOptions type, but passed through to the core pipeline, which uses it for every request.
    agent: agentWithTimeouts(secure, timeouts),
  });
  let service: BlobServiceClient;
  let options: ReturnType<typeof pipeline>;
  let secrets: string[];
  if (config.connectionString !== undefined) {
    secrets = connectionStringSecrets(config.connectionString);
    // The protocol (and so the agent) is only known once the connection string is parsed.
    const secure = new URL(BlobServiceClient.fromConnectionString(config.connectionString).url).protocol === 'https:';
    options = pipeline(secure);
    service = BlobServiceClient.fromConnectionString(config.connectionString, options);
  } else {
    const accountName = config.accountName ?? '';
    secrets = [config.accountKey ?? ''];
    const url = config.endpoint ?? `https://${accountName}.blob.core.windows.net`;
    options = pipeline(new URL(url).protocol === 'https:');
    service = new BlobServiceClient(url, new StorageSharedKeyCredential(accountName, config.accountKey ?? ''), options);
  }
  return {
    service,
    container: service.getContainerClient(config.container),
    agent: options.agent,
    endpoint: displayUrl(service.url),
    secrets,
  };
}
