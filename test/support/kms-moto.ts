import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import type { MotoServer } from './servers/moto.ts';

/** moto's KMS, reached as an administrator would: creates keys and changes their state. */
export interface KmsAdmin {
  createKey(alias?: string): Promise<string>;
  disable(keyId: string): Promise<void>;
  enable(keyId: string): Promise<void>;
  scheduleDeletion(keyId: string): Promise<void>;
  cancelDeletion(keyId: string): Promise<void>;
  close(): void;
}

/** moto changes a key's state only when named by its bare id, not its ARN. */
const bareId = (keyId: string): string => keyId.replace(/^arn:.*:key\//, '');

export function kmsAdmin(moto: MotoServer): KmsAdmin {
  const client = new KMSClient({
    region: moto.region,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
  });
  return {
    async createKey(alias) {
      const answer = await client.send(new CreateKeyCommand({ Description: 'hindsight test key' }));
      const arn = answer.KeyMetadata?.Arn;
      if (!arn) throw new Error('moto created a KMS key without an ARN');
      if (alias) await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: arn }));
      return arn;
    },
    disable: async (keyId) => void (await client.send(new DisableKeyCommand({ KeyId: bareId(keyId) }))),
    enable: async (keyId) => void (await client.send(new EnableKeyCommand({ KeyId: bareId(keyId) }))),
    scheduleDeletion: async (keyId) =>
      void (await client.send(new ScheduleKeyDeletionCommand({ KeyId: bareId(keyId), PendingWindowInDays: 7 }))),
    cancelDeletion: async (keyId) => void (await client.send(new CancelKeyDeletionCommand({ KeyId: bareId(keyId) }))),
    close: () => client.destroy(),
  };
}
