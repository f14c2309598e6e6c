/** What the no-secrets test drives through the product: notifiers with secrets, every page, CLI commands, a second factor. */
import { Secret, TOTP } from 'otpauth';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { NotifierOperations } from '../../services/notifiers/work.ts';
import type { HostServices } from '../../web/src/lib/server/view/index.ts';
import { ROLE, secrets } from './no-secrets-fixture.ts';

const EVENTS = ['backup_failed', 'backup_succeeded'];

const mailTo = (smtpPort: number, pass: string) => ({
  type: 'email',
  host: '127.0.0.1',
  port: smtpPort,
  from: 'hindsight@example.com',
  to: ['dba@example.com'],
  auth: { user: 'ops', pass },
});

/** A Slack URL with its token in the path, mail with SMTP auth; and wrong ones of each. */
export async function saveSecretNotifiers(notifiers: NotifierOperations, httpUrl: string, smtpPort: number) {
  const slack = (token: string) => ({ type: 'slack', url: `${httpUrl}/services/T0SLACK/B0SLACK/${token}` });
  await notifiers.saveNotifier('slack', slack(secrets['slack webhook token']), EVENTS);
  await notifiers.saveNotifier('mail', mailTo(smtpPort, secrets['smtp password']), EVENTS);
  await notifiers.saveNotifier('slack-wrong', slack(secrets['wrong slack webhook token']), EVENTS);
  await notifiers.saveNotifier('mail-wrong', mailTo(smtpPort, secrets['wrong smtp password']), EVENTS);
}

/** Every GET of the API and the console, each expected to answer 200. */
export function pagesToRead(backupId: string, failedBackupId: string): string[] {
  return [
    '/api/v1/me',
    '/api/v1/overview',
    '/api/v1/databases',
    '/api/v1/databases/shop/backups',
    '/api/v1/databases/shop-wrong/backups',
    '/api/v1/storages',
    `/api/v1/backups/${backupId}`,
    `/api/v1/backups/${failedBackupId}`,
    `/api/v1/backups/${backupId}/download`,
    '/api/v1/audit',
    '/api/v1/users',
    '/api/v1/workspaces',
    '/',
    '/storages',
    '/databases/new',
    '/notifiers',
    '/notifiers?edit=slack',
    '/notifiers?edit=mail',
    '/restore?database=shop',
    '/databases/shop',
    '/settings',
    '/metrics',
    '/api/v1/notifiers',
    '/api/v1/tokens',
    '/api/v1/databases/shop/verifications',
    '/api/v1/databases/shop/pitr',
    '/api/v1/openapi.json',
  ];
}

/** The CLI, with --json where it has it: each command with whether it succeeds (0) or fails (1). */
export function cliRuns(
  backupId: string,
  source: PgTarget,
  wrongUrl: string,
  ssoSecretFile: string,
): Array<[string[], number]> {
  const copyUrl = targetUrl({ ...source, database: 'shop_cli_copy' });
  const badUrl = `postgres://${ROLE}:${secrets['wrong database password']}@127.0.0.1:0/x?sslmode=nonsense`;
  return [
    [['db', 'list', '--json'], 0],
    [['storage', 'list', '--json'], 0],
    [['storage', 'test', 's3', '--json'], 0],
    [['backups', 'shop', '--json'], 0],
    [['backups', 'shop-wrong', '--json'], 0],
    [['verifications', 'shop', '--json'], 0],
    [['notifier', 'list', '--json'], 0],
    [['notifier', 'test', 'mail', '--json'], 0],
    [['notifier', 'test', 'slack-wrong', '--json'], 1],
    [['notifier', 'deliveries', '--json'], 0],
    [['audit', '--json'], 0],
    [['user', 'list', '--json'], 0],
    [['restore', 'shop', '--backup', backupId, '--to', copyUrl, '--wait', '--json'], 0],
    [['db', 'add', 'shop-cli-wrong', '--url', wrongUrl, '--json'], 1],
    [['restore', 'shop', '--to', badUrl, '--json'], 1],
    [['doctor', '--json'], 0],
    [
      [
        'sso',
        'add',
        'corp',
        '--issuer',
        'https://id.example.invalid/realms/ops',
        '--client-id',
        'hindsight',
        '--client-secret-file',
        ssoSecretFile,
        '--no-check',
        '--map',
        'ops=default:admin',
        '--json',
      ],
      0,
    ],
    [['sso', 'list', '--json'], 0],
    [['user', 'invite', 'someone@example.org', '--role', 'viewer', '--json'], 0],
  ];
}

/**
 * An authenticator app and recovery codes for `email`, then a sign-in through the second step with
 * a code and with a recovery code: the secret and the codes, for the scan to look for.
 */
export async function enrolSecondFactor(services: HostServices, email: string, password: string) {
  const client = { ip: '127.0.0.1', userAgent: 'no-secrets test' };
  const actor = await services.access.actorForEmail(email, client.ip);
  const enrolment = await services.secondFactors.startTotpEnrolment(actor);
  if (!enrolment) throw new Error(`${email} has an authenticator app already`);
  const code = (offset: number) =>
    new TOTP({ secret: Secret.fromBase32(enrolment.secret) }).generate({ timestamp: Date.now() + offset * 30_000 });
  const recoveryCodes = await services.secondFactors.confirmTotp(actor, code(0));
  for (const complete of [
    (token: string) => services.secondFactors.completeWithTotp(token, code(1), client),
    (token: string) => services.secondFactors.completeWithRecoveryCode(token, recoveryCodes[0]!, client),
  ]) {
    const step = await services.auth.login({ email, password, ...client });
    if (!('secondFactor' in step)) throw new Error(`${email} signed in without the second step`);
    await complete(step.secondFactor.token);
  }
  return {
    'totp secret': enrolment.secret,
    'totp uri': enrolment.uri,
    ...Object.fromEntries(recoveryCodes.map((c, i) => [`recovery code ${i + 1}`, c])),
  };
}
