#!/usr/bin/env bash
# Start (or stop) a private PostgreSQL cluster on 127.0.0.1 for tests; prints its URL on start.
set -eu
cmd=${1:-start}
dir=${JINQIAO_PG_DIR:-/tmp/jinqiao-test-pg}
port=${JINQIAO_PG_PORT:-55432}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "PostgreSQL is not installed" >&2; exit 1; }
run() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
case "$cmd" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
      run "$bindir/initdb -D $dir -U postgres -A trust >/dev/null"
    fi
    if ! run "$bindir/pg_ctl -D $dir status" >/dev/null 2>&1; then
      run "$bindir/pg_ctl -D $dir -l $dir/log -w -o '-c listen_addresses=127.0.0.1 -p $port -k /tmp' start" >/dev/null
    fi
    run "$bindir/psql -h 127.0.0.1 -p $port -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='jinqiao_test'\"" | grep -q 1 \
      || run "$bindir/createdb -h 127.0.0.1 -p $port -U postgres jinqiao_test"
    echo "postgresql+pg8000://postgres@127.0.0.1:$port/jinqiao_test"
    ;;
  stop)
    run "$bindir/pg_ctl -D $dir -m fast stop" >/dev/null 2>&1 || true
    ;;
esac
