#!/usr/bin/env bash
# Throwaway PostgreSQL server for Haven's test suite (and benchmarks).
#
#   scripts/pg-test-server.sh start   # prints the connection URL as its last line
#   scripts/pg-test-server.sh stop    # stops the server and deletes its directory
#   scripts/pg-test-server.sh status  # exit 0 if running (prints the URL)
#   scripts/pg-test-server.sh url     # prints the URL of the running server
#
# Typical use:
#   export HAVEN_TEST_DATABASE_URL="$(scripts/pg-test-server.sh start | tail -n1)"
#   cargo test
#   scripts/pg-test-server.sh stop
#
# The cluster is created with initdb/pg_ctl directly (never the system service)
# in $HAVEN_PG_DIR (default /tmp/haven-pg), listens only on 127.0.0.1, and has a
# role `haven` (password `haven`, CREATEDB) so tests can create one database
# each. Durability is switched off (fsync=off, ...): it is for tests only.
#
# Environment:
#   HAVEN_PG_DIR      state directory (default /tmp/haven-pg)
#   HAVEN_CI_PG_PORT  port (default 55432; if the default is taken another free
#                     port is chosen; an explicitly set port that is taken is an error)
#   HAVEN_PG_BIN      directory holding initdb/pg_ctl (default: newest
#                     /usr/lib/postgresql/*/bin; installed with apt if absent)
#   HAVEN_PG_KEEP=1   `stop` keeps the data directory
#
# As root the server runs as the `postgres` user (via runuser); as any other
# user it runs as that user.
set -euo pipefail

PG_DIR="${HAVEN_PG_DIR:-/tmp/haven-pg}"
DEFAULT_PORT=55432
PG_USER=haven
PG_PASSWORD=haven

MARKER=.haven-pg-test-server

log() { echo "pg-test-server: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

find_pg_bin() {
    if [ -n "${HAVEN_PG_BIN:-}" ]; then
        [ -x "$HAVEN_PG_BIN/pg_ctl" ] || die "HAVEN_PG_BIN=$HAVEN_PG_BIN has no pg_ctl"
        echo "$HAVEN_PG_BIN"
        return 0
    fi
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return 0
    fi
    return 1
}

install_pg() {
    log "PostgreSQL server binaries not found; installing Debian's postgresql package"
    # Don't let the package create and start the system cluster on 5432: we
    # only want the binaries.
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
        as_root tee /etc/postgresql-common/createcluster.d/haven-no-main-cluster.conf >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends postgresql >&2
}

# Run a command as the cluster's owner.
if [ "$(id -u)" -eq 0 ]; then
    OWNER=postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    OWNER="$(id -un)"
    as_owner() { "$@"; }
fi

port_in_use() {
    # Something accepting connections on 127.0.0.1:$1?
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    if [ -n "${HAVEN_CI_PG_PORT:-}" ]; then
        port_in_use "$HAVEN_CI_PG_PORT" &&
            die "port $HAVEN_CI_PG_PORT (HAVEN_CI_PG_PORT) is already in use"
        echo "$HAVEN_CI_PG_PORT"
        return
    fi
    local p
    for p in "$DEFAULT_PORT" $(seq 55433 55532); do
        if ! port_in_use "$p"; then echo "$p"; return; fi
    done
    die "no free port in 55432-55532; set HAVEN_CI_PG_PORT"
}

# Delete $PG_DIR, but only if this script created it (or it is empty).
remove_dir() {
    case "$PG_DIR" in ""|/|/tmp|/tmp/|"$HOME"|"$HOME/") die "refusing to remove '$PG_DIR'" ;; esac
    [ -e "$PG_DIR" ] || return 0
    if [ ! -e "$PG_DIR/$MARKER" ] && [ -n "$(ls -A "$PG_DIR" 2>/dev/null)" ]; then
        die "$PG_DIR exists and was not created by this script; remove it or set HAVEN_PG_DIR"
    fi
    rm -rf "$PG_DIR" 2>/dev/null || as_root rm -rf "$PG_DIR"
}

url_for() { echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$1/postgres"; }

is_running() {
    local bin
    [ -f "$PG_DIR/data/postmaster.pid" ] || return 1
    bin="$(find_pg_bin)" || return 1
    as_owner "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

cmd_start() {
    local bin port
    if is_running && [ -f "$PG_DIR/port" ]; then
        log "already running in $PG_DIR"
        url_for "$(cat "$PG_DIR/port")"
        return 0
    fi
    bin="$(find_pg_bin)" || { install_pg; bin="$(find_pg_bin)" || die "postgresql install gave no pg_ctl"; }
    log "using $("$bin/postgres" --version)"
    command -v psql >/dev/null 2>&1 || [ -x "$bin/psql" ] || die "psql not found"

    # Fresh directory, owned by the cluster owner.
    if [ -e "$PG_DIR" ]; then
        log "removing stale $PG_DIR"
        remove_dir
    fi
    mkdir -p "$PG_DIR"
    : >"$PG_DIR/$MARKER"
    if [ "$(id -u)" -eq 0 ]; then chown "$OWNER": "$PG_DIR"; fi
    chmod 700 "$PG_DIR"
    as_owner test -w "$PG_DIR" ||
        die "$PG_DIR is not writable by $OWNER (is a parent directory private?)"

    log "initdb in $PG_DIR/data"
    as_owner "$bin/initdb" -D "$PG_DIR/data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 ||
        { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }

    cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# --- haven test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    # The port is given at start, so that another can be tried: a port found free may be
    # taken before the server binds it (these ports are in Linux's range for the local end of
    # outgoing connections, which tests open by the thousand).
    local tries=0
    while :; do
        port="$(pick_port)"
        log "starting on 127.0.0.1:$port"
        if as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -o "-p $port" \
            -w -t 60 start >&2; then
            break
        fi
        tries=$((tries + 1))
        if [ -z "${HAVEN_CI_PG_PORT:-}" ] && [ "$tries" -lt 5 ] &&
            grep -q "could not create any TCP/IP sockets" "$PG_DIR/server.log"; then
            log "port $port was taken meanwhile; trying another"
            sleep 1
            continue
        fi
        tail -n 50 "$PG_DIR/server.log" >&2 || true
        die "server did not start"
    done
    echo "$port" >"$PG_DIR/port"

    as_owner "$bin/psql" -h "$PG_DIR" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" >&2

    # Check the URL really works over TCP with the password.
    PGPASSWORD="$PG_PASSWORD" "$bin/psql" -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres \
        -v ON_ERROR_STOP=1 -qAt -c "select 1" >/dev/null ||
        die "cannot connect as $PG_USER over TCP"

    log "ready (stop with: $0 stop)"
    url_for "$port"
}

cmd_stop() {
    local bin
    if [ -f "$PG_DIR/data/postmaster.pid" ] && bin="$(find_pg_bin)"; then
        log "stopping server in $PG_DIR"
        as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >&2 ||
            log "pg_ctl stop failed (already stopped?)"
    else
        log "no server running in $PG_DIR"
    fi
    if [ "${HAVEN_PG_KEEP:-0}" != 1 ]; then
        remove_dir
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status)
        if is_running; then url_for "$(cat "$PG_DIR/port")"; else log "not running"; exit 1; fi ;;
    url)
        [ -f "$PG_DIR/port" ] || die "not started"
        url_for "$(cat "$PG_DIR/port")" ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
