#!/usr/bin/env bash
# Schemathesis, for the API fuzzing of `npm run test:faults`, in a virtualenv of its own
# (.venv-fuzz): its dependencies must not move the versions moto needs in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMATHESIS_VERSION=4.32.5
if ! compgen -G ".venv-fuzz/lib/python3*/site-packages/schemathesis-$SCHEMATHESIS_VERSION.dist-info" >/dev/null; then
  echo "[setup] installing Schemathesis $SCHEMATHESIS_VERSION into .venv-fuzz"
  python3 -m venv .venv-fuzz || { echo "python3 -m venv failed: install python3-venv (apt-get install python3-venv)" >&2; exit 1; }
  .venv-fuzz/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
