#!/usr/bin/env bash
# Makes this machine able to build and run Hindsight's images, with nothing but Debian's packages:
# the Docker engine (docker.io) and Compose (docker-compose), a running dockerd, and the base image
# hindsight-base:bookworm, a Debian bookworm root file system made with debootstrap from the same
# mirror apt uses here. No image registry is needed. Every step checks first, so a second run takes
# a second or two.
#
#   sudo scripts/docker/engine.sh
#
# Environment: HINDSIGHT_DOCKER_LOG (dockerd's log, default /var/log/hindsight-dockerd.log),
# HINDSIGHT_BASE_IMAGE (default hindsight-base:bookworm), HINDSIGHT_DEBIAN_MIRROR (default: read
# from apt's sources).
set -euo pipefail

BASE_IMAGE=${HINDSIGHT_BASE_IMAGE:-hindsight-base:bookworm}
SUITE=bookworm
DOCKERD_LOG=${HINDSIGHT_DOCKER_LOG:-/var/log/hindsight-dockerd.log}
ENGINE_WAIT_SECONDS=60

say() { printf '[engine] %s\n' "$*" >&2; }
fail() { printf '[engine] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages, starts dockerd and imports the base image): sudo $0"

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# ---- packages -------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# Compose v2 (`docker compose`) where the client has it; otherwise Debian's docker-compose.
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get to install them: install Docker Engine, Compose and debootstrap by hand"
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed: check the network and /etc/apt/sources.list*"
  # shellcheck disable=SC2046 # one word per package, deduplicated
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

# ---- the engine -----------------------------------------------------------------------------
if ! engine_answers; then
  if pgrep -x dockerd >/dev/null; then
    say "dockerd runs but does not answer yet; waiting"
  else
    say "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid: the engine outlives this script and the shell that started it.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  for _ in $(seq "$ENGINE_WAIT_SECONDS"); do
    engine_answers && break
    sleep 1
  done
  if ! engine_answers; then
    say "the last lines of $DOCKERD_LOG:"
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    fail "the Docker engine did not answer 'docker info' within ${ENGINE_WAIT_SECONDS} s (see the log above)"
  fi
fi

# ---- the base image -------------------------------------------------------------------------
# The mirror apt uses here: deb822 sources first (Debian 12+), then the one-line format.
debian_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v -- '-security' | head -n 1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -v -- '-security' | awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

debian_security_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*-security\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb[[:space:]].*-security' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian-security}"
}

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  mirror=${HINDSIGHT_DEBIAN_MIRROR:-$(debian_mirror)}
  rootfs=$(mktemp -d /tmp/hindsight-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  say "making $BASE_IMAGE: debootstrap --variant=minbase $SUITE from $mirror (a few minutes)"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; fail "debootstrap of $SUITE from $mirror failed (log above; set HINDSIGHT_DEBIAN_MIRROR to another mirror)"; }
  rm -f "$rootfs.log"
  # debootstrap lists the release alone; images built on it must get point and security updates.
  security=${HINDSIGHT_DEBIAN_SECURITY_MIRROR:-$(debian_security_mirror)}
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
    "$mirror" "$SUITE" "$mirror" "$SUITE" "$security" "$SUITE" > "$rootfs/etc/apt/sources.list"
  # Images built on it run apt-get update themselves; the package lists debootstrap left are stale.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  say "made $BASE_IMAGE"
fi
say "engine ready: $(docker version --format 'server {{.Server.Version}}' 2>/dev/null), base image $BASE_IMAGE"
