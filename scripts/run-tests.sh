#!/usr/bin/env bash
# Run the test suite; start a throw-away PostgreSQL on loopback for the store tests when one can be had.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${JINQIAO_TEST_PG_URL:-}" ]; then
  if url=$(bash scripts/test-postgres.sh start 2>/dev/null); then
    export JINQIAO_TEST_PG_URL="$url"
    trap 'bash scripts/test-postgres.sh stop >/dev/null 2>&1 || true' EXIT
  else
    echo "note: no PostgreSQL available; PostgreSQL store tests will be skipped" >&2
  fi
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
[ $rc -eq 5 ] && { echo "pytest collected no tests" >&2; exit 1; }
exit $rc
