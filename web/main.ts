import { readFile } from 'node:fs/promises';
import { loadConfig } from '../lib/config.ts';
import { KeyringCodec } from '../temporal/keyring-codec.ts';
import { errorMessage } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { connectTemporalClient } from '../temporal/client.ts';
import { startAuditPurge } from '../services/audit-retention.ts';
import { createServices } from '../services/index.ts';
import { openRuntime } from '../services/runtime.ts';
import { startWebServer } from './server.ts';
import { createConsoleServices } from './src/lib/server/view/index.ts';

const logger = createLogger('web');

async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = await openRuntime(config);
  const temporal = await connectTemporalClient(config, runtime);
  const services = createConsoleServices(createServices(runtime, temporal));
  const token = config.codecTokenFile ? (await readFile(config.codecTokenFile, 'utf8')).trim() : undefined;
  const codec = { codec: new KeyringCodec(runtime.keyring, 'pass'), token, corsOrigin: config.codecCorsOrigin };
  const server = await startWebServer({
    services,
    codec,
    host: config.webHost,
    port: config.webPort,
    publicUrl: config.publicUrlSetting,
    metricsToken: config.metricsToken,
    trustProxy: config.trustProxy,
    log: (msg) => logger.info(msg),
  });
  const stopPurge = startAuditPurge(services.access, config.auditRetentionDays, (msg) => logger.info(msg));
  if (token) logger.info(`codec endpoint on ${server.url}/codec for ${config.codecCorsOrigin}`);
  logger.info(`console listening on ${server.url}`);
  const setupToken = await services.auth.issueSetupToken();
  if (setupToken)
    logger.info(
      `no account yet: open ${config.publicUrlSetting ?? server.url}/setup?token=${setupToken} to create the owner (the token is single-use, valid 24 hours)`,
    );
  const stop = async () => {
    stopPurge();
    await server.close();
    await temporal.connection.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  logger.error(`console failed to start: ${errorMessage(error)}`);
  process.exit(1);
});
