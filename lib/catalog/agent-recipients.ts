import type pg from 'pg';
import { withTransaction } from './db.ts';

/**
 * The recipients (public keys) whose identities an agent holds: all of them replace what the agent
 * said before, so a recipient dropped from its HINDSIGHT_IDENTITY_FILES is forgotten at its next start.
 */
export async function advertiseRecipients(pool: pg.Pool, agent: string, recipients: readonly string[]): Promise<void> {
  await withTransaction(pool, async (tx) => {
    await tx.query('delete from agent_recipients where agent = $1 and not (recipient = any($2::text[]))', [
      agent,
      recipients,
    ]);
    await tx.query(
      `insert into agent_recipients (agent, recipient) select $1, unnest($2::text[])
       on conflict (agent, recipient) do update set seen_at = now()`,
      [agent, recipients],
    );
  });
}

/** The agents that said they hold the recipient's identity, the one heard from last first. */
export async function agentsHolding(pool: pg.Pool, recipient: string): Promise<string[]> {
  const { rows } = await pool.query<{ agent: string }>(
    'select agent from agent_recipients where recipient = $1 order by seen_at desc, agent',
    [recipient],
  );
  return rows.map((r) => r.agent);
}

export function createAgentRecipientStore(pool: pg.Pool) {
  return {
    advertise: (agent: string, recipients: readonly string[]) => advertiseRecipients(pool, agent, recipients),
    holding: (recipient: string) => agentsHolding(pool, recipient),
  };
}
