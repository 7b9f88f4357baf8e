#!/usr/bin/env bash
# Installs what the tests need (the package with its test extras; hipcc from the distribution for the
# HIP compile checks) and runs the whole test suite. The README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hipcc >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing hipcc (HIP compile checks) ..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hipcc >/dev/null) \
      || echo "warning: could not install hipcc; HIP compile checks will be reported as skipped"
  else
    echo "warning: hipcc not installed and cannot be installed here; HIP compile checks will be skipped"
  fi
fi

python -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec python -m pytest "$@"
