-- Public-key mode: the recipients whose private keys each agent holds (its HINDSIGHT_IDENTITY_FILES),
-- written by the agent when it starts. Verification of a backup encrypted for one of them is sent to
-- that agent's queue. Only public keys are kept here; an agent that stops listing a recipient
-- removes it at its next start.
create table agent_recipients (
  agent text not null check (agent ~ '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$'),
  recipient text not null,
  seen_at timestamptz not null default now(),
  primary key (agent, recipient)
);
create index agent_recipients_recipient on agent_recipients (recipient);
