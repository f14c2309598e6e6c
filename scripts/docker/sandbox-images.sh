#!/usr/bin/env bash
# Builds the docker sandbox driver's images, hindsight-sandbox-pg:<major>, one per PostgreSQL major
# whose server binaries this checkout has (.pg/<major>/native, unpacked by scripts/setup.sh), FROM
# the base image (HINDSIGHT_SANDBOX_BASE_IMAGE, default hindsight-base:bookworm). No registry is
# needed. An image already built from the same base, binaries and recipe is left alone, so running
# this again is quick.
#
#   scripts/docker/sandbox-images.sh            every major found under .pg/
#   scripts/docker/sandbox-images.sh 15 17      only these
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
recipe_dir="$root/docker/sandbox"
base="${HINDSIGHT_SANDBOX_BASE_IMAGE:-hindsight-base:bookworm}"

if ! base_id="$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null)"; then
  echo "sandbox-images: the base image $base is not on this Docker engine: build or load it first (or set HINDSIGHT_SANDBOX_BASE_IMAGE)" >&2
  exit 1
fi

majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then
  for dir in "$root"/.pg/*/; do
    major="$(basename "$dir")"
    [[ "$major" =~ ^[0-9]+$ ]] && majors+=("$major")
  done
fi
if [ ${#majors[@]} -eq 0 ]; then
  echo "sandbox-images: no server binaries under $root/.pg/: run scripts/setup.sh first" >&2
  exit 1
fi

context=""
cleanup() { if [ -n "$context" ]; then rm -rf "$context"; fi; }
trap cleanup EXIT

for major in "${majors[@]}"; do
  native="$root/.pg/$major/native"
  image="hindsight-sandbox-pg:$major"
  if [ ! -x "$native/bin/postgres" ]; then
    echo "sandbox-images: no PostgreSQL $major server in $native: run scripts/setup.sh, or leave $major out" >&2
    exit 1
  fi
  # Same base, same binaries, same recipe: same image.
  recipe="$( { echo "$base_id"; "$native/bin/postgres" --version; cat "$root/.pg/$major/package.json"; cat "$recipe_dir/Dockerfile" "$recipe_dir/start.sh"; } | sha256sum | cut -c1-32)"
  current="$(docker image inspect --format '{{index .Config.Labels "hindsight.sandbox.recipe"}}' "$image" 2>/dev/null || true)"
  if [ "$current" = "$recipe" ]; then
    echo "$image: up to date"
    continue
  fi
  context="$(mktemp -d "${TMPDIR:-/tmp}/hindsight-sandbox-image.XXXXXX")"
  cp -a "$native/." "$context/native/" 2>/dev/null || { mkdir -p "$context/native" && cp -a "$native/." "$context/native/"; }
  # Headers and static libraries serve no running server.
  rm -rf "$context/native/include"
  find "$context/native/lib" -name '*.a' -delete
  cp "$recipe_dir/Dockerfile" "$recipe_dir/start.sh" "$context/"
  echo "$image: building from $base and $("$native/bin/postgres" --version)"
  # The classic builder's notice about BuildKit is noise here: the output is shown only on failure.
  if ! output="$(docker build --quiet --build-arg "BASE=$base" --build-arg "PG_MAJOR=$major" \
    --label "hindsight.sandbox.recipe=$recipe" --tag "$image" "$context" 2>&1)"; then
    echo "$output" >&2
    echo "sandbox-images: building $image failed" >&2
    exit 1
  fi
  rm -rf "$context"
  context=""
  echo "$image: built"
done
