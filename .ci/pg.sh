#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server on 127.0.0.1, for CI (.ci/run) and the benchmark (bench/run.py).
#   .ci/pg.sh start DIR PORT   -> initialises DIR/data, starts the server, prints its base URL
#   .ci/pg.sh stop DIR         -> stops it and removes DIR
set -euo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
case "${1:-}" in
  start)
    DIR=$2; PORT=$3
    if [ ! -x "$PG_BIN/pg_ctl" ]; then
      echo "PostgreSQL 15 is not installed ($PG_BIN); on Debian: apt-get install postgresql-15, or run make bench BENCH_DB=sqlite" >&2
      exit 1
    fi
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c full_page_writes=off" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$PORT"
    ;;
  stop)
    DIR=$2
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: .ci/pg.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
