/**
 * The notifier form: flat form fields to and from a notifier's configuration, where a secret left
 * blank keeps its stored value and no secret is ever handed back to the browser.
 */
import { DEFAULT_WORKSPACE_ID } from '../../../../../lib/catalog/access.ts';
import { HindsightError } from '../../../../../lib/errors.ts';
import {
  notificationEvents,
  notifierConfigSchema,
  notifierTypes,
  type NotifierConfig,
} from '../../../../../lib/notify/config.ts';
import type { Services } from '../../../../../services/index.ts';
import { parseOrThrow } from '../../../../../services/input.ts';
import type { ConsoleSetupServices, WorkspaceNames } from './setup-types.ts';

/** Secret fields of each notifier type as the form names them (see lib/notify/config.ts). */
const NOTIFIER_SECRET_FIELDS: Record<string, string[]> = {
  email: ['authPass'],
  slack: ['url'],
  discord: ['url'],
  teams: ['url'],
  telegram: ['botToken'],
  webhook: ['url', 'headers', 'secret'],
};

/** Form fields (flat strings) → the notifier configuration lib/notify/config.ts validates. */
export function notifierConfigFromForm(
  type: string,
  f: Record<string, string>,
  stored: NotifierConfig | null,
): unknown {
  const text = (k: string) => (f[k] ?? '').trim();
  const opt = (k: string) => (text(k) === '' ? undefined : text(k));
  const keep = <T>(k: string, current: T | undefined): string | T | undefined => (text(k) === '' ? current : text(k));
  const same = stored && stored.type === type ? stored : null;
  switch (type) {
    case 'email': {
      const s = same as Extract<NotifierConfig, { type: 'email' }> | null;
      const user = opt('authUser');
      const pass = text('authPass') === '' ? s?.auth?.pass : text('authPass');
      return {
        type,
        host: text('host'),
        port: text('port') === '' ? undefined : Number(text('port')),
        secure: f.secure === 'on' || f.secure === 'true',
        starttls: opt('starttls'),
        from: text('from'),
        to: text('to')
          .split(/[,\s]+/)
          .filter(Boolean),
        ...(opt('ca') ? { ca: text('ca') } : {}),
        ...(user ? { auth: { user, pass } } : {}),
      };
    }
    case 'slack':
    case 'discord':
    case 'teams': {
      const s = same as { url: string } | null;
      return { type, url: keep('url', s?.url) };
    }
    case 'telegram': {
      const s = same as Extract<NotifierConfig, { type: 'telegram' }> | null;
      const chat = text('chatId');
      return {
        type,
        botToken: keep('botToken', s?.botToken),
        chatId: /^-?\d+$/.test(chat) ? Number(chat) : chat,
        ...(opt('messageThreadId') ? { messageThreadId: Number(text('messageThreadId')) } : {}),
        ...(opt('apiBaseUrl') ? { apiBaseUrl: text('apiBaseUrl') } : {}),
      };
    }
    case 'webhook': {
      const s = same as Extract<NotifierConfig, { type: 'webhook' }> | null;
      let headers: Record<string, string> | undefined = s?.headers;
      if (text('headers') !== '') {
        headers = {};
        for (const line of text('headers').split(/\r?\n/)) {
          if (line.trim() === '') continue;
          const at = line.indexOf(':');
          if (at <= 0)
            throw new HindsightError(
              'bad_input',
              `headers: each line must be "Name: value" (got "${line.trim().slice(0, 40)}")`,
            );
          headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
      }
      return {
        type,
        url: keep('url', s?.url),
        method: opt('method'),
        ...(headers ? { headers } : {}),
        ...(opt('bodyTemplate') ? { bodyTemplate: text('bodyTemplate') } : {}),
        ...(keep('secret', s?.secret) !== undefined ? { secret: keep('secret', s?.secret) } : {}),
      };
    }
    default:
      throw new HindsightError('bad_input', `type must be one of ${notifierTypes.join(', ')}`);
  }
}

type NotifierPart = Pick<ConsoleSetupServices, 'notifierChoices' | 'notifierForm' | 'saveNotifier' | 'removeNotifier'>;

/** The notifier form's reads and changes, through services/notifiers (the guard decides). */
export function notifierFormServices(services: Services, workspaceNames: WorkspaceNames): NotifierPart {
  return {
    async notifierChoices(actor) {
      const [databases, names] = await Promise.all([services.databases.list(actor), workspaceNames(actor)]);
      return {
        types: [...notifierTypes],
        events: [...notificationEvents],
        databases: databases.map((d) => d.name),
        workspaces: [...names]
          .filter(([id]) => services.ctx.guard.can(actor, id, 'notifier.create'))
          .map(([id, name]) => ({ id, name })),
      };
    },

    async notifierForm(actor, name) {
      const n = await services.notifiers.get(actor, name);
      const secretNames = NOTIFIER_SECRET_FIELDS[n.type] ?? [];
      const stored = await services.notifiers.storedConfig(actor, name);
      const secretsSet = secretNames.filter((f) => {
        const value = f === 'authPass' ? (stored as { auth?: unknown }).auth : (stored as Record<string, unknown>)[f];
        return value !== undefined && !(typeof value === 'object' && value !== null && Object.keys(value).length === 0);
      });
      const settings: Record<string, unknown> = { ...n.settings };
      if (n.type === 'email') {
        const auth = (stored as { auth?: { user: string } }).auth;
        if (auth) settings.authUser = auth.user;
      }
      return { name: n.name, type: n.type, settings, secretsSet, events: n.events, databases: n.databases };
    },

    async saveNotifier(actor, input) {
      const { notifiers } = services;
      const existing = await notifiers.get(actor, input.name).catch((error: unknown) => {
        if ((error as { kind?: string }).kind === 'not_found') return undefined;
        throw error;
      });
      const stored = existing ? await notifiers.storedConfig(actor, input.name) : null;
      const raw = notifierConfigFromForm(input.type, input.fields, stored);
      parseOrThrow(notifierConfigSchema, raw, `notifier "${input.name}"`);
      await notifiers.save(actor, input.name, raw, input.events, input.workspaceId ?? DEFAULT_WORKSPACE_ID);
      // Databases: attach is per database (it replaces that database's set), so touch only the changed ones.
      const before = new Set(existing?.databases ?? []);
      const after = new Set(input.databases);
      const all = await notifiers.list(actor);
      for (const db of new Set([...before, ...after])) {
        if (before.has(db) === after.has(db)) continue;
        const current = all.filter((n) => n.databases.includes(db) && n.name !== input.name).map((n) => n.name);
        await notifiers.attach(actor, db, after.has(db) ? [...current, input.name] : current);
      }
    },

    async removeNotifier(actor, name) {
      await services.notifiers.remove(actor, name);
    },
  };
}
