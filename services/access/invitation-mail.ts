/**
 * Sends an invitation's link by email, through an email notifier of the invited workspace (its
 * SMTP server and sender; the invited address as recipient). The link is a secret: it goes into
 * the mail only, never into a log, the audit log or an error. Without such a notifier, or when its
 * server refuses, the link is handed to the admin instead, with the reason it was not mailed.
 */
import { sendMail } from '../../lib/notify/send.ts';
import type { Runtime } from '../runtime.ts';

export type InvitationMailResult = { emailed: true; via: string } | { emailed: false; reason: string };

/** Whether the invitation went out by email, as the API and the CLI's JSON answer it. */
export const mailFields = (mail: InvitationMailResult) =>
  mail.emailed
    ? { emailed: true as const, emailedVia: mail.via }
    : { emailed: false as const, notEmailed: mail.reason };

export interface InvitationMail {
  email: string;
  workspaceId: number;
  workspace: string;
  role: string;
  link: string;
  expiresAt: Date;
}

/** The text of the mail: who invites to what, the link, and until when it works. */
export function invitationMailText(mail: InvitationMail): string {
  return [
    `You are invited to Hindsight as ${mail.role} of workspace "${mail.workspace}".`,
    '',
    'Open this link to choose your password (or sign in through your identity provider) and accept:',
    mail.link,
    '',
    `It works once, until ${mail.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    'If you did not expect this invitation, ignore this mail.',
    '',
  ].join('\n');
}

export async function emailInvitation(runtime: Runtime, mail: InvitationMail): Promise<InvitationMailResult> {
  const notifiers = runtime.catalog.notifiers;
  const smtp = (await notifiers.list()).find((n) => n.type === 'email' && n.workspaceId === mail.workspaceId);
  if (!smtp)
    return {
      emailed: false,
      reason: `workspace "${mail.workspace}" has no email notifier to send it through: send the link yourself, or add an email notifier (its SMTP server sends invitations too)`,
    };
  const config = await notifiers.config(smtp.name);
  if (config.type !== 'email') return { emailed: false, reason: `notifier "${smtp.name}" is not an email notifier` };
  try {
    await sendMail(`notifier "${smtp.name}" (email)`, config, {
      to: [mail.email],
      subject: `[Hindsight] You are invited to workspace ${mail.workspace}`,
      text: invitationMailText(mail),
      headers: { 'X-Hindsight-Event': 'invitation' },
    });
    return { emailed: true, via: smtp.name };
  } catch (error) {
    return { emailed: false, reason: `${(error as Error).message}: send the link yourself` };
  }
}
