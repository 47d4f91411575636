#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL server on 127.0.0.1 in a temp directory.
#   eval "$(scripts/pg-throwaway.sh start)"   -> exports SSJ_TEST_POSTGRES_URL and SSJ_PG_DIR
#   scripts/pg-throwaway.sh stop "$SSJ_PG_DIR"
# Installs PostgreSQL with apt-get when no server binaries are found.
set -euo pipefail

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

case "${1:-}" in
start)
  if ! bindir=$(find_bin); then
    echo "PostgreSQL not found: installing it with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bindir=$(find_bin)
  fi
  port=${SSJ_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  dir=$(mktemp -d /tmp/ssj-pg.XXXXXX)
  chmod 755 "$dir"
  run_as=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    run_as=(runuser -u postgres --)
  fi
  "${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U ssj --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
    start >&2
  "${run_as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U ssj ssj_test
  echo "export SSJ_PG_DIR=$dir"
  echo "export SSJ_PG_BIN=$bindir"
  echo "export SSJ_TEST_POSTGRES_URL=postgresql+psycopg://ssj@127.0.0.1:$port/ssj_test"
  ;;
stop)
  dir=${2:?usage: pg-throwaway.sh stop DIR}
  bindir=$(find_bin)
  run_as=()
  [ "$(id -u)" = 0 ] && run_as=(runuser -u postgres --)
  "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start | stop DIR" >&2
  exit 2
  ;;
esac
