import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../ports.ts';

/** moto's S3 (and IAM) emulation, run from the project's Python virtualenv. */
export interface MotoServer {
  /** e.g. http://127.0.0.1:41234; clients need forcePathStyle. */
  endpoint: string;
  port: number;
  region: string;
  /** moto accepts any credentials until authentication is enabled; these are placeholders. */
  accessKeyId: string;
  secretAccessKey: string;
  /**
   * Creates an IAM user allowed everything on S3 and returns its access key. Must run before
   * `enableAuth`, while moto still accepts unsigned requests.
   */
  createS3User(userName: string): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  /** From now on moto checks every request's signature against its IAM users. */
  enableAuth(): Promise<void>;
  stop(): Promise<void>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MOTO_SERVER_BIN = process.env.HINDSIGHT_MOTO_SERVER ?? path.join(repoRoot, '.venv/bin/moto_server');

async function assertInstalled(): Promise<void> {
  try {
    await access(MOTO_SERVER_BIN, constants.X_OK);
  } catch {
    throw new Error(
      `moto_server not found at ${MOTO_SERVER_BIN}: install it into the project's virtualenv with ` +
        `\`python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'\` (run in ${repoRoot})`,
    );
  }
}

async function waitUntilAnswering(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto_server exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`moto_server did not answer on ${url} within 30 s:\n${output()}`);
}

/**
 * IAM's query API, sent unsigned: moto routes a request by the service named in the credential
 * scope of its Authorization header, and checks no signature while authentication is off.
 */
async function iam(endpoint: string, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ ...params, Version: '2010-05-08' }).toString();
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization:
        'AWS4-HMAC-SHA256 Credential=setup/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=none',
    },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto IAM ${params.Action} failed (${response.status}): ${text}`);
  return text;
}

function xmlValue(xml: string, tag: string): string {
  const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  if (!match?.[1]) throw new Error(`moto IAM answer lacks <${tag}>: ${xml}`);
  return match[1];
}

export async function startMoto(): Promise<MotoServer> {
  await assertInstalled();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(MOTO_SERVER_BIN, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Without this moto would read the developer's ~/.aws files and environment credentials.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_CONFIG_FILE: '/dev/null',
    },
  });
  let log = '';
  const keep = (data: Buffer) => {
    log = (log + data.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitUntilAnswering(`${endpoint}/moto-api/`, child, () => log);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    endpoint,
    port,
    region: 'us-east-1',
    accessKeyId: 'moto-test-key',
    secretAccessKey: randomBytes(20).toString('hex'),
    async createS3User(userName) {
      await iam(endpoint, { Action: 'CreateUser', UserName: userName });
      const policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
      });
      await iam(endpoint, {
        Action: 'PutUserPolicy',
        UserName: userName,
        PolicyName: 's3-all',
        PolicyDocument: policy,
      });
      const key = await iam(endpoint, { Action: 'CreateAccessKey', UserName: userName });
      return { accessKeyId: xmlValue(key, 'AccessKeyId'), secretAccessKey: xmlValue(key, 'SecretAccessKey') };
    },
    async enableAuth() {
      // moto's own control API: authentication applies after the given number of requests.
      const response = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
      if (!response.ok)
        throw new Error(`moto refused to enable authentication: ${response.status} ${await response.text()}`);
    },
    stop,
  };
}
