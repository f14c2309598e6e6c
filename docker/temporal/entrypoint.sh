#!/bin/sh
# The Temporal image's commands (docker/compose.yaml runs each as its own service):
#
#   server      the Temporal server (frontend, history, matching, worker) on PostgreSQL
#   schema      creates or upgrades Temporal's two databases' schemas, then exits; safe to repeat
#   namespace   waits for the server, then creates the namespace and Hindsight's search attributes; safe to repeat
#   dev         `temporal server start-dev`, SQLite in /var/lib/temporal (no PostgreSQL needed)
#   temporal …  the temporal CLI
#
# PostgreSQL settings: TEMPORAL_DB_HOST, TEMPORAL_DB_PORT (5432), TEMPORAL_DB_USER,
# TEMPORAL_DB_PASSWORD or TEMPORAL_DB_PASSWORD_FILE, TEMPORAL_DB_NAME (temporal),
# TEMPORAL_VISIBILITY_DB_NAME (temporal_visibility). Namespace: TEMPORAL_ADDRESS (temporal:7233),
# TEMPORAL_NAMESPACE (default), TEMPORAL_RETENTION (720h).
set -eu

fail() { echo "temporal: $*" >&2; exit 1; }

db_settings() {
  if [ -n "${TEMPORAL_DB_PASSWORD_FILE:-}" ]; then
    TEMPORAL_DB_PASSWORD=$(cat "$TEMPORAL_DB_PASSWORD_FILE") || fail "cannot read TEMPORAL_DB_PASSWORD_FILE $TEMPORAL_DB_PASSWORD_FILE"
    export TEMPORAL_DB_PASSWORD
  fi
  [ -n "${TEMPORAL_DB_HOST:-}" ] || fail "set TEMPORAL_DB_HOST to the PostgreSQL server holding Temporal's databases"
  [ -n "${TEMPORAL_DB_USER:-}" ] || fail "set TEMPORAL_DB_USER"
  [ -n "${TEMPORAL_DB_PASSWORD:-}" ] || fail "set TEMPORAL_DB_PASSWORD or TEMPORAL_DB_PASSWORD_FILE"
}

schema() {
  db_settings
  dir=/etc/temporal/schema/postgresql/v12
  for pair in "${TEMPORAL_DB_NAME:-temporal}:temporal" "${TEMPORAL_VISIBILITY_DB_NAME:-temporal_visibility}:visibility"; do
    db=${pair%%:*}
    kind=${pair#*:}
    # setup-schema -v 0.0 only creates the version table (a no-op when it exists); update-schema
    # then applies the versions still missing, so a newer image upgrades an existing database.
    set -- --plugin postgres12 --endpoint "$TEMPORAL_DB_HOST" --port "${TEMPORAL_DB_PORT:-5432}" \
      --user "$TEMPORAL_DB_USER" --password "$TEMPORAL_DB_PASSWORD" --database "$db"
    temporal-sql-tool "$@" setup-schema -v 0.0
    temporal-sql-tool "$@" update-schema -d "$dir/$kind/versioned"
  done
  echo "temporal: schemas of ${TEMPORAL_DB_NAME:-temporal} and ${TEMPORAL_VISIBILITY_DB_NAME:-temporal_visibility} are current"
}

# host:port with the host resolved by the system's resolver. The CLI's gRPC resolver also asks DNS
# for a service-config TXT record; on an internal network Docker's DNS forwards that question to
# servers it cannot reach, and the answer outlasts the CLI's deadline.
resolved() {
  ip=$(getent hosts "${1%:*}" | awk '{ print $1; exit }')
  echo "${ip:-${1%:*}}:${1##*:}"
}

namespace() {
  address=$(resolved "${TEMPORAL_ADDRESS:-temporal:7233}")
  ns=${TEMPORAL_NAMESPACE:-default}
  tries=0
  until temporal operator cluster health --address "$address" 2>/dev/null | grep -q SERVING; do
    tries=$((tries + 1))
    [ "$tries" -lt 90 ] || fail "Temporal at $address is not serving after 3 minutes"
    sleep 2
  done
  if ! temporal operator namespace describe --address "$address" --namespace "$ns" >/dev/null 2>&1; then
    # Histories of finished workflows are kept 30 days; the backups' own record is the catalog.
    temporal operator namespace create --address "$address" --namespace "$ns" --retention "${TEMPORAL_RETENTION:-720h}"
  fi
  # A new namespace reaches every Temporal service only after a cache refresh (seconds).
  tries=0
  until attributes=$(temporal operator search-attribute list --address "$address" --namespace "$ns" 2>/dev/null); do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || fail "namespace $ns did not become usable"
    sleep 2
  done
  for name in HindsightDatabase HindsightKind; do
    if ! printf '%s\n' "$attributes" | grep -qw "$name"; then
      temporal operator search-attribute create --address "$address" --namespace "$ns" --name "$name" --type Keyword
    fi
  done
  echo "temporal: namespace $ns ready"
}

case "${1:-server}" in
  server)
    db_settings
    # The address the services advertise to each other: this container's own.
    TEMPORAL_BROADCAST_ADDRESS=${TEMPORAL_BROADCAST_ADDRESS:-$(hostname -i | awk '{ print $1 }')}
    export TEMPORAL_BROADCAST_ADDRESS
    # No authorizer: the frontend is reached only on an internal network (docker/compose.yaml), and
    # the Hindsight worker refuses every payload not encrypted with its key.
    exec temporal-server --root /etc/temporal --config . --env config --allow-no-auth start
    ;;
  schema) schema ;;
  namespace) namespace ;;
  dev)
    shift
    exec temporal server start-dev --ip 0.0.0.0 --db-filename /var/lib/temporal/temporal.db \
      --namespace "${TEMPORAL_NAMESPACE:-default}" \
      --search-attribute HindsightDatabase=Keyword --search-attribute HindsightKind=Keyword "$@"
    ;;
  *)
    if [ -n "${TEMPORAL_ADDRESS:-}" ]; then TEMPORAL_ADDRESS=$(resolved "$TEMPORAL_ADDRESS"); export TEMPORAL_ADDRESS; fi
    exec "$@"
    ;;
esac
