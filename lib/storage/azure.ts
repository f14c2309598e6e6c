import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BlobServiceClient, StorageSharedKeyCredential, type BlockBlobClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { z } from 'zod';
import { HindsightError, type ErrorKind } from '../errors.ts';
import { assertRange, assertSafeKey, storageError, type AtomicWrite, type ObjectInfo, type StorageDriver, type StorageOperation } from './contract.ts';

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A prefix is a relative path like a key; surrounding slashes are tolerated and ignored. */
const normalizePrefix = (prefix: string | undefined): string => (prefix ?? '').replace(/^\/+|\/+$/g, '');

function parsesAsConnectionString(value: string): boolean {
  try {
    BlobServiceClient.fromConnectionString(value);
    return true;
  } catch {
    return false;
  }
}

export const azureStorageConfig = z.object({
  type: z.literal('azure'),
  container: z.string({ error: 'container is required' })
    .regex(CONTAINER_NAME, 'container must be 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit'),
  prefix: z.string()
    .refine((p) => {
      const normalized = normalizePrefix(p);
      return normalized === '' || normalized.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && !part.includes('\0'));
    }, 'prefix must be a relative path without empty, "." or ".." segments')
    .optional(),
  connectionString: z.string().min(1, 'connectionString must not be empty')
    .refine(parsesAsConnectionString, 'connectionString is not a valid Azure Storage connection string (copy it from the storage account\'s "Access keys" page)')
    .optional(),
  accountName: z.string().regex(ACCOUNT_NAME, 'accountName must be 3-24 lowercase letters and digits').optional(),
  accountKey: z.string().regex(BASE64, 'accountKey must be the base64 key shown on the storage account\'s "Access keys" page').optional(),
  endpoint: z.url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL, e.g. https://<account>.blob.core.windows.net' }).optional(),
}).superRefine((config, ctx) => {
  if (config.connectionString !== undefined) {
    for (const field of ['accountName', 'accountKey', 'endpoint'] as const) {
      if (config[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} cannot be combined with connectionString: give one or the other` });
    }
    return;
  }
  if (config.accountName === undefined) ctx.addIssue({ code: 'custom', path: ['accountName'], message: 'give either connectionString, or accountName and accountKey' });
  if (config.accountKey === undefined) ctx.addIssue({ code: 'custom', path: ['accountKey'], message: 'give either connectionString, or accountName and accountKey' });
});
export type AzureStorageConfig = z.infer<typeof azureStorageConfig>;

export const azureSecretFields = ['connectionString', 'accountKey'] as const;

const MiB = 1024 * 1024;
/** Azure's limit on committed blocks per blob. */
const MAX_BLOCKS = 50_000;
/** The first blocks are small so that the common object uploads with overlap; later ones grow to reach a large total size. */
const SMALL_BLOCKS = 10_000;

/**
 * Block size and how many stage requests may run at once for the block at `index`. The buffered
 * bytes of a write are at most (inFlight + 1) × size: 12 MiB, then 16 MiB. With 50,000 blocks the
 * largest object is 10,000 × 4 MiB + 40,000 × 8 MiB ≈ 351 GiB.
 */
function blockPlan(index: number): { size: number; inFlight: number } {
  return index < SMALL_BLOCKS ? { size: 4 * MiB, inFlight: 2 } : { size: 8 * MiB, inFlight: 1 };
}

const CONNECT_TIMEOUT_MS = 3_000;
const IDLE_TIMEOUT_MS = 120_000;
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
  const agent = secure ? new https.Agent({ keepAlive: true, timeout: timeouts.idleMs }) : new http.Agent({ keepAlive: true, timeout: timeouts.idleMs });
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
      const what = connected ? `no response for ${timeouts.idleMs / 1000} s` : `connection not established within ${timeouts.connectMs / 1000} s`;
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

interface AzureFailure {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
  name?: string;
  message?: string;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'REQUEST_SEND_ERROR']);
const AUTH_CODES = new Set(['AuthenticationFailed', 'AuthorizationFailure', 'AuthorizationPermissionMismatch', 'AuthorizationProtocolMismatch', 'AuthorizationResourceTypeMismatch', 'AuthorizationServiceMismatch', 'AuthorizationSourceIPMismatch', 'InsufficientAccountPermissions', 'InvalidAuthenticationInfo', 'AccountIsDisabled', 'KeyBasedAuthenticationNotPermitted']);
const SPACE_CODES = new Set(['RequestBodyTooLarge', 'BlockCountExceedsLimit', 'BlockListTooLong', 'BlobTooLarge', 'ContainerQuotaExceeded', 'AccountQuotaExceeded']);

/** HEAD responses carry no body: their error code only arrives in a header, which the SDK puts in details. */
const errorCodeOf = (failure: AzureFailure): string | undefined =>
  (typeof failure.code === 'string' ? failure.code : undefined) ?? failure.details?.errorCode;

/** The first line of the service's message (the rest is a request id and a time stamp). */
function providerText(failure: AzureFailure): string {
  const first = (failure.message ?? '').split('\n')[0]?.trim() ?? '';
  const code = errorCodeOf(failure);
  const status = failure.statusCode;
  const tag = [code && !first.includes(code) ? code : undefined, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  if (!first) return tag ? `the service answered ${tag}` : 'the service request failed';
  return tag ? `${first} (${tag})` : first;
}

/** Removes credentials, should a message ever echo them, and SAS signatures in URLs. */
function redactor(secrets: string[]): (text: string) => string {
  const words = secrets.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const word of words) out = out.split(word).join('[redacted]');
    return out.replace(/([?&]sig=)[^&\s]+/gi, '$1[redacted]');
  };
}

function connectionStringSecrets(connectionString: string): string[] {
  const secrets = [connectionString];
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim().toLowerCase();
    if (name === 'accountkey' || name === 'sharedaccesssignature') secrets.push(part.slice(at + 1).trim());
  }
  return secrets;
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

interface Clients {
  service: BlobServiceClient;
  container: ContainerClient;
  agent: http.Agent;
  endpoint: string;
  secrets: string[];
}

function openClients(config: AzureStorageConfig, timeouts: AzureTimeouts): Clients {
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
  return { service, container: service.getContainerClient(config.container), agent: options.agent, endpoint: displayUrl(service.url), secrets };
}

/** Block ids must all have the same length within a blob, including other writers' uncommitted ones. */
const blockId = (writeId: string, index: number): string => Buffer.from(`${writeId}-${String(index).padStart(6, '0')}`).toString('base64');

type Translate = (operation: StorageOperation, key: string, error: unknown) => HindsightError;

/**
 * Buffers the stream into blocks and stages them as it goes; nothing is visible until the block
 * list is committed. Blocks never committed stay invisible and the service discards them (after
 * a week, or at the next commit of the same blob), so abandoning a write needs no clean-up.
 */
class BlockUpload implements AtomicWrite {
  readonly stream: Writable;
  private readonly writeId = randomBytes(6).toString('hex');
  private readonly controller = new AbortController();
  private readonly blockIds: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private block: Buffer | undefined;
  private filled = 0;
  private size = 0;
  private failure: unknown;
  private settled = false;

  private readonly blob: BlockBlobClient;
  private readonly key: string;
  private readonly translate: Translate;
  constructor(
    blob: BlockBlobClient,
    key: string,
    translate: Translate,
  ) {
    this.blob = blob;
    this.key = key;
    this.translate = translate;
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.accept(chunk).then(() => callback(), (error: unknown) => callback(this.translate('write', this.key, error)));
      },
      final: (callback) => {
        this.flush().then(() => callback(), (error: unknown) => callback(this.translate('write', this.key, error)));
      },
    });
  }

  private async accept(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    let at = 0;
    while (at < chunk.length) {
      const { size } = blockPlan(this.blockIds.length);
      this.block ??= Buffer.allocUnsafe(size);
      const take = Math.min(size - this.filled, chunk.length - at);
      chunk.copy(this.block, this.filled, at, at + take);
      this.filled += take;
      this.size += take;
      at += take;
      if (this.filled === size) await this.stageBlock();
    }
  }

  /** Starts staging the filled block; waits first while the plan's number of stages is running. */
  private async stageBlock(): Promise<void> {
    const body = (this.block ?? Buffer.alloc(0)).subarray(0, this.filled);
    this.block = undefined;
    this.filled = 0;
    const index = this.blockIds.length;
    if (index >= MAX_BLOCKS) {
      throw Object.assign(new Error(`the object exceeds Azure's limit of ${MAX_BLOCKS} blocks (about 351 GiB with this driver's block sizes)`), { code: 'BlockCountExceedsLimit' });
    }
    const { inFlight } = blockPlan(index);
    while (this.inFlight.size >= inFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const id = blockId(this.writeId, index);
    this.blockIds.push(id);
    const md5 = createHash('md5').update(body).digest();
    const stage: Promise<void> = this.blob
      .stageBlock(id, body, body.length, { abortSignal: this.controller.signal, transactionalContentMD5: md5 })
      .then(() => undefined, (error: unknown) => { this.failure ??= error; })
      .finally(() => this.inFlight.delete(stage));
    this.inFlight.add(stage);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    this.throwIfFailed();
  }

  /** At the stream's end: stage the rest, unless the whole object fits one request at commit. */
  private async flush(): Promise<void> {
    if (this.blockIds.length > 0 && this.filled > 0) await this.stageBlock();
    await this.drain();
  }

  async commit(): Promise<ObjectInfo> {
    if (this.settled) throw this.translate('write', this.key, new Error('write already settled'));
    this.settled = true;
    try {
      if (!this.stream.writableFinished) await finished(this.stream);
      await this.drain();
      const options = { abortSignal: this.controller.signal };
      const response = this.blockIds.length === 0
        ? await this.blob.upload((this.block ?? Buffer.alloc(0)).subarray(0, this.filled), this.filled, options)
        : await this.blob.commitBlockList(this.blockIds, options);
      return { key: this.key, size: this.size, modifiedAt: response.lastModified ?? new Date() };
    } catch (error) {
      throw this.translate('write', this.key, error);
    } finally {
      this.block = undefined;
    }
  }

  /** Stops at once: staged blocks were never committed, so they are invisible and expire on their own. */
  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.controller.abort();
    this.stream.destroy();
    this.block = undefined;
    await Promise.allSettled([...this.inFlight]);
  }
}

/** Hands the download to the caller with provider errors translated, and releases it if the caller stops reading. */
function translatedStream(source: Readable, onError: (error: unknown) => Error): Readable {
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  source.on('error', (error) => out.destroy(onError(error)));
  out.once('close', () => { if (!source.destroyed) source.destroy(); });
  source.pipe(out);
  return out;
}

/**
 * Azure Blob Storage: objects are block blobs named `<prefix>/<key>` in one container. Writes
 * stage blocks and commit the block list, which makes the blob visible in one step.
 */
export function createAzureStorage(options: { name: string; config: AzureStorageConfig; timeouts?: Partial<AzureTimeouts> }): StorageDriver {
  const { config } = options;
  const label = `azure "${options.name}"`;
  const timeouts: AzureTimeouts = { connectMs: CONNECT_TIMEOUT_MS, idleMs: IDLE_TIMEOUT_MS, ...options.timeouts };
  let clients: Clients;
  try {
    clients = openClients(config, timeouts);
  } catch (error) {
    // Only reached with a config that bypassed the schema; the SDK's message never holds the secret, but be sure.
    const scrub = redactor(config.connectionString ? connectionStringSecrets(config.connectionString) : [config.accountKey ?? '']);
    throw storageError('bad_input', label, 'connect', '', scrub((error as Error).message));
  }
  const { container, agent, endpoint } = clients;
  const scrub = redactor(clients.secrets);
  const prefix = normalizePrefix(config.prefix);
  const blobName = (key: string): string => {
    assertSafeKey(key);
    return prefix ? `${prefix}/${key}` : key;
  };

  function kindAndDetail(failure: AzureFailure): { kind: ErrorKind; detail: string } {
    const code = errorCodeOf(failure);
    const status = failure.statusCode;
    if (code === 'ContainerNotFound') {
      // A settings problem, not a missing object: reading it as not_found would look like a removed backup.
      return { kind: 'bad_input', detail: `container "${config.container}" does not exist (create it or fix the name)` };
    }
    if (code && NETWORK_CODES.has(code)) return { kind: 'unreachable', detail: `endpoint ${endpoint} is unreachable: ${failure.message ?? code}` };
    if (failure.name === 'AbortError') return { kind: 'tool_failed', detail: 'the request was cancelled' };
    if (status === 401 || status === 403 || (code && AUTH_CODES.has(code))) {
      // A wrong key shows as a signature the service cannot verify; other refusals are permissions or firewalls.
      const badSignature = code === 'AuthenticationFailed' || /failed to authenticate/i.test(failure.message ?? '');
      return { kind: 'access_denied', detail: `${providerText(failure)}${badSignature ? '; check the account name and key, or the connection string' : ''}` };
    }
    if (status === 404 || code === 'BlobNotFound') return { kind: 'not_found', detail: providerText(failure) };
    if (status === 413 || (code && (SPACE_CODES.has(code) || /quota/i.test(code)))) return { kind: 'no_space', detail: providerText(failure) };
    if (status === 400 || status === 411 || status === 416) return { kind: 'bad_input', detail: providerText(failure) };
    if (status !== undefined && status >= 500) return { kind: 'unreachable', detail: `endpoint ${endpoint} failed: ${providerText(failure)}` };
    return { kind: 'tool_failed', detail: status !== undefined || code ? providerText(failure) : (failure.message ?? String(failure)) };
  }

  const translate: Translate = (operation, key, error) => {
    if (error instanceof HindsightError) return error;
    const { kind, detail } = kindAndDetail((error ?? {}) as AzureFailure);
    return storageError(kind, label, operation, key, scrub(detail));
  };

  const statusOf = (error: unknown): number | undefined => (error as AzureFailure | undefined)?.statusCode;
  const isMissingBlob = (error: unknown): boolean => statusOf(error) === 404 && errorCodeOf(error as AzureFailure) !== 'ContainerNotFound';

  async function stat(key: string): Promise<ObjectInfo | undefined> {
    const name = blobName(key);
    try {
      const properties = await container.getBlobClient(name).getProperties();
      return { key, size: properties.contentLength ?? 0, modifiedAt: properties.lastModified ?? new Date(0) };
    } catch (error) {
      if (isMissingBlob(error)) return undefined;
      throw translate('stat', key, error);
    }
  }

  return {
    label,

    async openWrite(key) {
      const name = blobName(key);
      return new BlockUpload(container.getBlockBlobClient(name), key, translate);
    },

    async openRead(key, range) {
      assertRange(range);
      const blob = container.getBlobClient(blobName(key));
      const empty = async (): Promise<Readable> => {
        try {
          await blob.getProperties();
        } catch (error) {
          throw translate('read', key, error);
        }
        return Readable.from([]);
      };
      if (range && range.end === range.start) return empty();
      const offset = range?.start ?? 0;
      const count = range?.end !== undefined ? range.end - offset : undefined;
      try {
        const response = await blob.download(offset, count, { maxRetryRequests: 5 });
        const body = response.readableStreamBody as Readable | undefined;
        if (!body) return Readable.from([]);
        return translatedStream(body, (error) => translate('read', key, error));
      } catch (error) {
        // Azure refuses a range starting at or past the end; the contract reads that as no bytes.
        if (statusOf(error) === 416) {
          const info = await stat(key).catch(() => undefined);
          if (info && offset >= info.size) return Readable.from([]);
        }
        throw translate('read', key, error);
      }
    },

    stat,

    async list(dir) {
      const parts = dir.split('/').filter(Boolean);
      if (parts.length > 0) assertSafeKey(parts.join('/'));
      const rootPrefix = prefix ? `${prefix}/` : '';
      const listPrefix = `${rootPrefix}${parts.map((part) => `${part}/`).join('')}`;
      const out: ObjectInfo[] = [];
      try {
        const pages = container.listBlobsFlat({ ...(listPrefix ? { prefix: listPrefix } : {}), includeMetadata: true }).byPage({ maxPageSize: 5000 });
        for await (const page of pages) {
          for (const item of page.segment.blobItems) {
            // Accounts with a hierarchical namespace list directories as empty marker blobs.
            if (item.metadata?.['hdi_isfolder'] === 'true') continue;
            out.push({ key: item.name.slice(rootPrefix.length), size: item.properties.contentLength ?? 0, modifiedAt: item.properties.lastModified });
          }
        }
      } catch (error) {
        throw translate('list', dir, error);
      }
      return out.sort((a, b) => a.key.localeCompare(b.key));
    },

    async remove(key) {
      const name = blobName(key);
      try {
        await container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
      } catch (error) {
        throw translate('remove', key, error);
      }
    },

    async sweepAbandonedWrites() {
      // An abandoned write leaves only uncommitted blocks: they are never listed or readable, the
      // service has no call to delete them, and it discards them itself after a week (or when the
      // same blob is next committed). There is nothing visible to remove.
      return 0;
    },

    async close() {
      agent.destroy();
    },
  };
}
