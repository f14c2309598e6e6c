#!/bin/sh
# Initialises and starts the sandbox's server as the image's unprivileged user; arguments go to
# `postgres` (-c settings). The superuser's password arrives as a scram-sha-256 verifier, never in
# clear: PostgreSQL stores a pre-hashed password as it is, so the worker keeps the password and the
# container's configuration holds only what a login cannot be made from.
set -eu
verifier="${HINDSIGHT_SANDBOX_VERIFIER:?the sandbox needs HINDSIGHT_SANDBOX_VERIFIER, the superuser password\'s scram-sha-256 verifier}"
unset HINDSIGHT_SANDBOX_VERIFIER
case "$verifier" in
  SCRAM-SHA-256\$*) ;;
  *) echo "HINDSIGHT_SANDBOX_VERIFIER is not a scram-sha-256 verifier" >&2; exit 1 ;;
esac
case "$verifier" in
  *[!A-Za-z0-9+/=:\$-]*) echo "HINDSIGHT_SANDBOX_VERIFIER holds characters no verifier has" >&2; exit 1 ;;
esac
umask 077
log=/tmp/init.log
# initdb wants a password with scram-sha-256; a random one that nobody keeps, replaced below.
pwfile=$(mktemp)
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$pwfile"
if ! initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C --no-sync >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
rm -f "$pwfile"
# Through single-user mode, because initdb before PostgreSQL 14 hashes a given verifier again.
if ! printf "alter role postgres password '%s';\n" "$verifier" | postgres --single -D "$PGDATA" postgres >"$log" 2>&1 || grep -q 'ERROR' "$log"; then
  cat "$log" >&2
  exit 1
fi
rm -f "$log"
# Over a Docker network the worker comes by TCP: a password there too, as on the socket.
printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
exec postgres -D "$PGDATA" "$@"
