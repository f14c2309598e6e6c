import { createHash, randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BlobImmutabilityPolicy, BlockBlobClient } from '@azure/storage-blob';
import type { AtomicWrite, ObjectInfo } from '../contract.ts';
import { promiseWritable } from '../shared/streams.ts';
import type { Translate } from './errors.ts';

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

/** Block ids must all have the same length within a blob, including other writers' uncommitted ones. */
const blockId = (writeId: string, index: number): string =>
  Buffer.from(`${writeId}-${String(index).padStart(6, '0')}`).toString('base64');

/**
 * Buffers the stream into blocks and stages them as it goes; nothing is visible until the block
 * list is committed. Blocks never committed stay invisible and the service discards them (after
 * a week, or at the next commit of the same blob), so abandoning a write needs no clean-up.
 */
export class BlockUpload implements AtomicWrite {
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
  /** The immutability policy the blob is committed with, computed at commit (see immutability.ts); none when absent. */
  private readonly policy: () => BlobImmutabilityPolicy | undefined;
  constructor(
    blob: BlockBlobClient,
    key: string,
    translate: Translate,
    policy: () => BlobImmutabilityPolicy | undefined = () => undefined,
  ) {
    this.blob = blob;
    this.key = key;
    this.translate = translate;
    this.policy = policy;
    this.stream = promiseWritable({
      write: (chunk) => this.accept(chunk),
      final: () => this.flush(),
      fail: (error) => this.translate('write', this.key, error),
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
      throw Object.assign(
        new Error(
          `the object exceeds Azure's limit of ${MAX_BLOCKS} blocks (about 351 GiB with this driver's block sizes)`,
        ),
        { code: 'BlockCountExceedsLimit' },
      );
    }
    const { inFlight } = blockPlan(index);
    while (this.inFlight.size >= inFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const id = blockId(this.writeId, index);
    this.blockIds.push(id);
    const md5 = createHash('md5').update(body).digest();
    const stage: Promise<void> = this.blob
      .stageBlock(id, body, body.length, { abortSignal: this.controller.signal, transactionalContentMD5: md5 })
      .then(
        () => undefined,
        (error: unknown) => {
          this.failure ??= error;
        },
      )
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
      const immutabilityPolicy = this.policy();
      const options = { abortSignal: this.controller.signal, ...(immutabilityPolicy ? { immutabilityPolicy } : {}) };
      const response =
        this.blockIds.length === 0
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
