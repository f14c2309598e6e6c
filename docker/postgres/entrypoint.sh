#!/bin/sh
# Starts PostgreSQL 15 on $PGDATA, creating the cluster first when the directory is empty. Extra
# arguments go to the server (e.g. -c max_connections=200).
set -eu

fail() { echo "postgres-entrypoint: $*" >&2; exit 1; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || fail "set POSTGRES_PASSWORD: the superuser's password for the new cluster in $PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  # Local connections are this container's own (peer: OS user postgres only); every other one
  # needs a password.
  initdb --pgdata="$PGDATA" --username=postgres --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
  # The init scripts run against a server no other container can reach yet, so a health check
  # over TCP reports ready only once they are done.
  pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses=''" start
  for script in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$script" ] || continue
    echo "postgres-entrypoint: running $script"
    psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 --username=postgres --dbname=postgres --file="$script" \
      || { pg_ctl --pgdata="$PGDATA" --wait --silent stop; rm -rf "${PGDATA:?}"/*; fail "$script failed: the cluster was removed so that the next start tries again"; }
  done
  pg_ctl --pgdata="$PGDATA" --wait --silent stop
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
