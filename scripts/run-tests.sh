#!/usr/bin/env bash
# Run the test suite; start a private, throw-away PostgreSQL on loopback for the store tests when one can be had.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${JINQIAO_TEST_PG_URL:-}" ]; then
  # Each run gets its own cluster directory and port, so runs side by side never stop each other's database.
  export JINQIAO_PG_DIR="$(mktemp -d /tmp/jinqiao-test-pg.XXXXXX)"
  export JINQIAO_PG_PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  chmod 755 "$JINQIAO_PG_DIR"
  if url=$(bash scripts/test-postgres.sh start 2>/tmp/jinqiao-test-pg.log); then
    export JINQIAO_TEST_PG_URL="$url"
    trap 'bash scripts/test-postgres.sh stop >/dev/null 2>&1 || true; rm -rf "$JINQIAO_PG_DIR"' EXIT
  else
    echo "note: no PostgreSQL available ($(tail -n 1 /tmp/jinqiao-test-pg.log)); PostgreSQL store tests will be skipped" >&2
    rm -rf "$JINQIAO_PG_DIR"
  fi
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
[ $rc -eq 5 ] && { echo "pytest collected no tests" >&2; exit 1; }
exit $rc
