#!/usr/bin/env bash
# Checks the Helm chart from a clean machine: finds a helm 3 at least as new as the pinned one, or
# builds the pinned one from source through the Go module proxy into .tools/ (git-ignored; several
# minutes on 2 cores the first time, nothing after), then runs deploy/helm/check.sh, which lints
# the chart (also --strict), renders it with helm template and checks what was rendered.
#
#   npm run test:helm            HELM=/path/to/helm npm run test:helm
#
# No helm release binary is downloaded: only Go modules are fetched, which is what works without
# internet access beyond the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
tools_dir=$PWD/.tools/helm-$HELM_VERSION

say() { printf '[helm] %s\n' "$*"; }

# True when the helm given is helm 3 at the pinned minor or newer: the chart is checked against it.
suitable() {
  local version
  [[ -x $1 ]] || return 1
  version=$("$1" version --template '{{.Version}}' 2>/dev/null) || return 1
  [[ $version =~ ^v3\.([0-9]+) ]] || return 1
  local pinned_minor=${HELM_VERSION#v3.}; pinned_minor=${pinned_minor%%.*}
  ((BASH_REMATCH[1] >= pinned_minor))
}

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
  return 1
}

build_helm() {
  local go
  go=$(find_go) || { echo "[helm] error: no helm $HELM_VERSION or newer found and no Go toolchain to build it: install Go 1.26 or newer (helm $HELM_VERSION needs it), or set HELM" >&2; exit 2; }
  say "building helm $HELM_VERSION from source with $("$go" version | cut -d' ' -f3) into ${tools_dir#"$PWD"/} (once; several minutes)"
  mkdir -p "$tools_dir"
  # The version flag is what the release build sets, so `helm version` names the exact release.
  GOBIN=$tools_dir GOFLAGS=-mod=mod GOTOOLCHAIN=local nice -n 10 "$go" install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

if [[ -n ${HELM:-} ]]; then
  suitable "$HELM" || { echo "[helm] error: HELM=$HELM is not helm 3 at ${HELM_VERSION%.*} or newer" >&2; exit 2; }
  helm=$HELM
elif suitable "$tools_dir/helm"; then
  helm=$tools_dir/helm
elif command -v helm >/dev/null 2>&1 && suitable "$(command -v helm)"; then
  helm=$(command -v helm)
else
  build_helm
  suitable "$tools_dir/helm" || { echo "[helm] error: the helm built into $tools_dir does not report $HELM_VERSION" >&2; exit 1; }
  helm=$tools_dir/helm
fi

HELM=$helm exec bash deploy/helm/check.sh
