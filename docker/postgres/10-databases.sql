-- Roles and databases for the production compose file (docker/compose.yaml). hindsight-postgres
-- runs this once, when it initialises an empty data directory; changing it later has no effect on
-- an existing volume.
--
-- Passwords come from the container's environment, so none is written here; \getenv needs psql 15
-- or newer (hindsight-postgres:15 has 15). An unset variable is left uninterpolated, which makes
-- the statement fail and, with ON_ERROR_STOP, the whole initialisation with it.
\set ON_ERROR_STOP on
\getenv hindsight_password DB_PASSWORD_HINDSIGHT
\getenv temporal_password DB_PASSWORD_TEMPORAL

-- One role per service, owning only its own databases: a leaked Temporal password must not open
-- the catalog, which holds the (sealed) credentials of every database Hindsight backs up.
create role hindsight login password :'hindsight_password';
create role temporal login password :'temporal_password';

-- The Hindsight catalog. Its migrations run as the owner and need nothing beyond it.
create database hindsight owner hindsight;

-- Temporal keeps workflow state and its visibility store (workflow search) in separate databases;
-- temporal-sql-tool creates the tables in both, as their owner.
create database temporal owner temporal;
create database temporal_visibility owner temporal;

-- By default every role may connect to every database; keep each service to its own.
revoke all on database hindsight from public;
revoke all on database temporal from public;
revoke all on database temporal_visibility from public;
