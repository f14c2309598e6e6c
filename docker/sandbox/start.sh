#!/bin/sh
# Initialises and starts the sandbox's server as the image's unprivileged user; arguments go to
# `postgres` (-c settings). The superuser's password arrives as a scram-sha-256 verifier, never in
# clear: PostgreSQL stores a pre-hashed password as it is, so the worker keeps the password and the
# container's configuration holds only what a login cannot be made from.
set -eu
: "${HINDSIGHT_SANDBOX_VERIFIER:?the sandbox needs HINDSIGHT_SANDBOX_VERIFIER, the superuser password's scram-sha-256 verifier}"
umask 077
pwfile=$(mktemp)
printf '%s\n' "$HINDSIGHT_SANDBOX_VERIFIER" >"$pwfile"
unset HINDSIGHT_SANDBOX_VERIFIER
if ! initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C --no-sync >/tmp/initdb.log 2>&1; then
  cat /tmp/initdb.log >&2
  exit 1
fi
rm -f "$pwfile" /tmp/initdb.log
# Over a Docker network the worker comes by TCP: a password there too, as on the socket.
printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
exec postgres -D "$PGDATA" "$@"
