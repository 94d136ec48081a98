# Start and stop a throw-away PostgreSQL server for the tests (sourced by scripts/test.sh).
#
# Installs Debian's postgresql package when no server binaries are found (as root), starts a
# fresh cluster in a temporary folder on a private port as the `postgres` user (PostgreSQL
# refuses to run as root), exports FLOWCAP_TEST_POSTGRES_URL, and stops and deletes it again.

pg_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

pg_install_if_missing() {
  [ -n "$(pg_bin_dir)" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  else
    echo "test.sh: PostgreSQL is not installed and this user cannot install it" >&2
    return 1
  fi
}

pg_free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

pg_start() {
  pg_install_if_missing || return 1
  local bin; bin=$(pg_bin_dir)
  PG_DATA=$(mktemp -d /tmp/flowcap-pg.XXXXXX)
  PG_PORT=$(pg_free_port)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PG_DATA"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$PG_DATA/db" -A trust -U postgres --no-sync >"$PG_DATA/initdb.log" 2>&1 \
    || { cat "$PG_DATA/initdb.log" >&2; return 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DATA/db" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
    start >/dev/null || { cat "$PG_DATA/server.log" >&2; return 1; }
  PG_AS=("${as[@]}")
  PG_BIN=$bin
  export FLOWCAP_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "test.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT" >&2
}

pg_stop() {
  [ -n "${PG_DATA:-}" ] || return 0
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA/db" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DATA"
  PG_DATA=
}
