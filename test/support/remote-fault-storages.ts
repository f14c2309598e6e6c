/**
 * Azurite, sshd and FTP each behind its own fault proxy, saved as storages of a test platform, with
 * the storage-side check each kind needs: nothing left in storage that could pass for complete.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { isPartialName } from '../../lib/storage/shared/partial-files.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import type { Platform } from './platform.ts';
import { startAzurite, type AzuriteServer } from './servers/azurite.ts';
import { startFtpServer, type FtpServer } from './servers/ftp.ts';
import { startSshd, type SshdServer } from './servers/sshd.ts';

export interface RemoteStorages {
  azurite: AzuriteServer;
  sshd: SshdServer;
  ftp: FtpServer;
  /** One proxy per server; FTP's sits in front of the control connection only. */
  proxies: { azure: FaultProxy; sftp: FaultProxy; ftp: FaultProxy };
  container: string;
  sftpDir: string;
  stop(): Promise<void>;
}

/** Anything started that can be stopped. */
interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts them all; if one fails, stops those that did start before failing: a server left running
 * (sshd is a child process, ftp-srv listens in this process) keeps the test process from exiting.
 */
async function startAll<T extends Stoppable[]>(starts: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s) => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<Stoppable>).value) as T;
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop().catch(() => undefined) : undefined)));
  throw failed.reason;
}

/** Starts the three servers and their proxies, and saves storages `azure`, `sftp` and `ftp` on `platform`. */
export async function startRemoteStorages(platform: Platform): Promise<RemoteStorages> {
  const [azurite, sshd, ftp] = await startAll<[AzuriteServer, SshdServer, FtpServer]>([
    startAzurite(),
    startSshd(),
    startFtpServer(),
  ]);
  const stopServers = () => Promise.all([azurite.stop(), sshd.stop(), ftp.stop()]).then(() => undefined);
  const proxies = await startAll<[FaultProxy, FaultProxy, FaultProxy]>([
    startFaultProxy({ host: '127.0.0.1', port: azurite.port }),
    startFaultProxy({ host: '127.0.0.1', port: sshd.port }),
    startFaultProxy({ host: '127.0.0.1', port: ftp.port }),
  ]).catch(async (error: unknown) => {
    await stopServers();
    throw error;
  });
  const [azure, sftp, ftpProxy] = proxies;
  const stop = async (): Promise<void> => {
    await Promise.all(proxies.map((p) => p.stop()));
    await stopServers();
  };
  const container = 'faults';
  const sftpDir = `${sshd.baseDir}/backups`;
  try {
    await containerClient(azurite, container).create();
    await saveStorages(platform, { azurite, sshd, ftp, azure, sftp, ftpProxy, container, sftpDir });
  } catch (error) {
    await stop();
    throw error;
  }
  return { azurite, sshd, ftp, proxies: { azure, sftp, ftp: ftpProxy }, container, sftpDir, stop };
}

async function saveStorages(
  platform: Platform,
  on: {
    azurite: AzuriteServer;
    sshd: SshdServer;
    ftp: FtpServer;
    azure: FaultProxy;
    sftp: FaultProxy;
    ftpProxy: FaultProxy;
    container: string;
    sftpDir: string;
  },
): Promise<void> {
  const { azurite, sshd, ftp } = on;
  await platform.ops.saveStorage('azure', {
    type: 'azure',
    container: on.container,
    accountName: azurite.accountName,
    accountKey: azurite.accountKey,
    endpoint: `${on.azure.url}/${azurite.accountName}`,
  });
  await platform.ops.saveStorage('sftp', {
    type: 'sftp',
    host: '127.0.0.1',
    port: on.sftp.port,
    username: sshd.username,
    password: sshd.password,
    hostKeySha256: sshd.hostKeySha256,
    path: on.sftpDir,
  });
  await platform.ops.saveStorage('ftp', {
    type: 'ftp',
    host: '127.0.0.1',
    port: on.ftpProxy.port,
    username: ftp.username,
    password: ftp.password,
    path: '/backups',
  });
}

function containerClient(azurite: AzuriteServer, container: string) {
  const credential = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
  return new BlobServiceClient(azurite.endpoint, credential).getContainerClient(container);
}

/**
 * Blobs that hold uncommitted blocks, as Azurite itself lists them (not through the driver). A
 * commit discards the blob's uncommitted blocks, so a write that was retried to completion leaves none.
 */
export async function blobsWithUncommittedBlocks(storages: RemoteStorages): Promise<string[]> {
  const container = containerClient(storages.azurite, storages.container);
  const found: string[] = [];
  for await (const blob of container.listBlobsFlat({ includeUncommitedBlobs: true })) {
    const list = await container.getBlockBlobClient(blob.name).getBlockList('uncommitted');
    if ((list.uncommittedBlocks ?? []).length > 0) found.push(blob.name);
  }
  return found;
}

/** Every file below `root`, as paths relative to it. */
export async function filesBelow(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

/**
 * Files on a file server that are not hidden partials: what the driver lists, hence what could look
 * complete. Each must be one the storage's complete backups account for, which `doctor --deep`
 * checks; here, that none of them belongs to `failedBackupId`.
 */
export async function assertNoVisibleFileOf(root: string, failedBackupId: string): Promise<void> {
  const visible = (await filesBelow(root)).filter((file) => !isPartialName(path.basename(file)));
  assert.deepEqual(
    visible.filter((file) => file.includes(failedBackupId)),
    [],
    `no file of the failed copy ${failedBackupId} is visible under ${root}`,
  );
}
