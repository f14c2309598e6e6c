-- Each audit entry carries an HMAC over its content and the previous entry's MAC, keyed by a key
-- derived from the secret key (lib/catalog/audit-chain.ts): an entry edited, removed or inserted in
-- the catalog breaks the chain at that place, and rewriting the chain needs the key. Entries written
-- before this migration carry none and are reported as unchained.
alter table audit_log add column chain_key text;
alter table audit_log add column prev_mac text;
alter table audit_log add column mac text;
