#!/usr/bin/env bash
# Haven search benchmark: "a 10 km search with a cost and an accessibility filter" over a
# generated directory, on SQLite and on PostgreSQL, beside the same query sent straight to
# PostgreSQL + PostGIS. See BENCHMARKS.md for results.
#
#   benches/run.sh                       # 10,000, 100,000 and 1,000,000 services, everything
#   HAVEN_BENCH_SIZES=10000 HAVEN_BENCH_BACKENDS="sqlite postgis" benches/run.sh
#
# What it does, for each size:
#   1. builds `haven` in release mode (once; `cargo build --release`, honouring CARGO_TARGET_DIR);
#   2. generates the data set once with `haven generate` (ndjson of fully nested HSDS 3.0
#      services), cached in $HAVEN_BENCH_DATA_DIR by size and seed;
#   3. sqlite, postgres: imports it into a fresh database with `haven import` (timed; 0
#      rejections expected): SQLite in a temporary file, PostgreSQL in a fresh `haven_bench`
#      database on the throwaway server of scripts/pg-test-server.sh ($HAVEN_PG_DIR); imports
#      it again (timed; nothing should change); starts `haven serve` (HAVEN_DEMO=false
#      HAVEN_LOG=warn HAVEN_SEARCH_RATE=0) on a free 127.0.0.1 port, samples a few queries
#      with curl (status, matches, items), warms up with wrk, then runs wrk --latency for
#      HAVEN_BENCH_SECONDS with benches/search.lua cycling through 50 search paths centred on
#      the generated towns, then times ten keywords asked once each with curl, then keyword
#      searches (repeated, and each asked once) and open-now searches for
#      HAVEN_BENCH_OTHER_SECONDS each; records requests/s, p50/p99,
#      errors, the server's peak RSS (VmHWM) and CPU;
#   4. postgis: loads the same records (benches/postgis.py: point, status, cost and
#      accessibility codes) into a PostGIS table with a GiST index (covering the filtered
#      columns) on the same server, and runs the same query (ST_DWithin 10 km, the two
#      filters, nearest 20) as prepared statements with pgbench, as many clients as wrk has
#      connections, for the same time, with the index walked nearest-first (bitmap scans off);
# then prints a markdown table with each row's ratio to PostGIS at its size, and a machine
# line, and stops everything it started.
#
# Environment (all optional):
#   HAVEN_BENCH_SIZES           services per data set ("10000 100000 1000000")
#   HAVEN_BENCH_SEED            generator seed (1)
#   HAVEN_BENCH_SECONDS         measured load per row, seconds (20)
#   HAVEN_BENCH_WARMUP          warm-up load per row, seconds (5)
#   HAVEN_BENCH_BACKENDS        "sqlite postgres postgis"
#   HAVEN_BENCH_PG_MAX          skip Haven on PostgreSQL above this many services (no limit)
#   HAVEN_BENCH_CONNECTIONS     wrk connections and pgbench clients (2)
#   HAVEN_BENCH_THREADS         wrk and pgbench threads (2)
#   HAVEN_BENCH_QUERIES         distinct query paths (50)
#   HAVEN_BENCH_IMPORT_TIMEOUT  give up an import after this many seconds (7200); what was
#                               committed by then is measured, and the table says so
#   HAVEN_BENCH_DATA_DIR        cache for generated data (${TMPDIR:-/tmp}/haven-bench-data)
#   HAVEN_BENCH_OTHER_SECONDS   load per keyword and open-now row, seconds (10)
#   HAVEN_BENCH_SQLITE_KEEP     keep each loaded SQLite database in this directory, and serve
#                               one found there instead of importing again (its import columns
#                               then say "reused"; empty the directory when the schema changes)
#   HAVEN_BENCH_SKIP_BUILD=1    use the existing release binary
#   HAVEN_PG_DIR                PostgreSQL test server directory (${TMPDIR:-/tmp}/haven-bench-pg)
#   CARGO_TARGET_DIR            where cargo builds (target/)
#
# Needs: cargo, python3, curl, wrk and pgbench (wrk and PostGIS are installed with apt-get if
# missing), psql and PostgreSQL server binaries (scripts/pg-test-server.sh installs them).
# Everything listens on 127.0.0.1 only. Raw logs stay in the run directory it prints.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="${TMPDIR:-/tmp}"
SIZES="${HAVEN_BENCH_SIZES:-${HAVEN_BENCH_SERVICES:-10000 100000 1000000}}"
SEED="${HAVEN_BENCH_SEED:-1}"
DURATION="${HAVEN_BENCH_SECONDS:-20}"
WARMUP="${HAVEN_BENCH_WARMUP:-5}"
BACKENDS="${HAVEN_BENCH_BACKENDS:-sqlite postgres postgis}"
CONNECTIONS="${HAVEN_BENCH_CONNECTIONS:-2}"
THREADS="${HAVEN_BENCH_THREADS:-2}"
NQUERIES="${HAVEN_BENCH_QUERIES:-50}"
IMPORT_TIMEOUT="${HAVEN_BENCH_IMPORT_TIMEOUT:-7200}"
OTHER_SECONDS="${HAVEN_BENCH_OTHER_SECONDS:-10}"
KEEP_DIR="${HAVEN_BENCH_SQLITE_KEEP:-}"
PG_MAX="${HAVEN_BENCH_PG_MAX:-100000000}"
DATA_DIR="${HAVEN_BENCH_DATA_DIR:-$TMP/haven-bench-data}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
export HAVEN_PG_DIR="${HAVEN_PG_DIR:-$TMP/haven-bench-pg}"
PG_SCRIPT="$ROOT/scripts/pg-test-server.sh"

log() { echo "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

for n in $SIZES; do [[ "$n" =~ ^[0-9]+$ ]] || die "HAVEN_BENCH_SIZES must be whole numbers, got '$n'"; done
for v in PG_MAX SEED DURATION WARMUP CONNECTIONS THREADS NQUERIES IMPORT_TIMEOUT OTHER_SECONDS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
for b in $BACKENDS; do
    case "$b" in sqlite|postgres|postgis) ;; *) die "unknown backend '$b' (sqlite, postgres, postgis)" ;; esac
done

RUN_DIR="$(mktemp -d "$TMP/haven-bench-run.XXXXXX")"
SERVER_PID=""
PG_STARTED=0

cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$PG_STARTED" = 1 ]; then
        "$PG_SCRIPT" stop >/dev/null 2>&1 || log "could not stop the PostgreSQL test server"
    fi
    rm -f "$RUN_DIR"/*.db "$RUN_DIR"/*.db-wal "$RUN_DIR"/*.db-shm
    log "logs kept in $RUN_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    log "wrk not found; installing the Debian package"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2 ||
        { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
          $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2; } ||
        die "could not install wrk"
fi
for tool in python3 curl; do command -v "$tool" >/dev/null 2>&1 || die "$tool is required"; done

# --- build ------------------------------------------------------------------------------
if [ "${HAVEN_BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building release binary (CARGO_TARGET_DIR=$TARGET)"
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release) >&2
fi
BIN="$TARGET/release/haven"
# The source state measured (recorded now: the tree may change while the benchmark runs).
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
[ "${HAVEN_BENCH_SKIP_BUILD:-0}" = 1 ] && commit="$commit (prebuilt binary from $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC'))"
[ -x "$BIN" ] || die "no binary at $BIN"

# --- data -------------------------------------------------------------------------------
mkdir -p "$DATA_DIR"
QUERIES="$RUN_DIR/queries.txt"
"$BIN" generate --seed "$SEED" --queries "$NQUERIES" >"$QUERIES"

prepare_data() { # sets DATA and DATA_MB for $SERVICES
    DATA="$DATA_DIR/haven-generate-n$SERVICES-seed$SEED.ndjson"
    if [ ! -s "$DATA" ]; then
        log "generating $SERVICES services (seed $SEED) into $DATA"
        "$BIN" generate --services "$SERVICES" --seed "$SEED" >"$DATA.part"
        mv "$DATA.part" "$DATA"
    else
        log "using cached $DATA"
    fi
    DATA_MB="$(du -mL "$DATA" | cut -f1)"
}

# --- helpers ----------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cpu_ticks() { # utime + stime of a process, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

ms() { # microseconds -> "1.23 ms"
    awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'
}

field() { # field NAME LINE -> value of NAME=value in LINE
    sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"
}

ROWS=()
OTHER_ROWS=()
NOTES=()
IMPORTS=()
declare -A POSTGIS_RPS=()

pg_start() { # sets ADMIN to the throwaway server's admin URL, starting it when needed
    if "$PG_SCRIPT" status >/dev/null 2>&1; then
        ADMIN="$("$PG_SCRIPT" url | tail -n1)"
    else
        ADMIN="$("$PG_SCRIPT" start | tail -n1)"
        PG_STARTED=1
    fi
}

stop_pg() {
    if [ "$PG_STARTED" = 1 ]; then
        "$PG_SCRIPT" stop >/dev/null 2>&1 || true
        PG_STARTED=0
    fi
}

bench_backend() {
    local backend="$1" url import_log t0 t1 import_s rate imported rejected summary status reused=0
    import_log="$RUN_DIR/import-$backend.log"
    case "$backend" in
        sqlite)
            if [ -n "$KEEP_DIR" ]; then
                mkdir -p "$KEEP_DIR"
                url="sqlite://$KEEP_DIR/haven-n$SERVICES-seed$SEED.db"
                [ -s "${url#sqlite://}" ] && reused=1
            else
                url="sqlite://$RUN_DIR/haven-bench.db"
            fi
            ;;
        postgres)
            local admin
            pg_start
            admin="$ADMIN"
            psql "$admin" -v ON_ERROR_STOP=1 -qX \
                -c "DROP DATABASE IF EXISTS haven_bench" -c "CREATE DATABASE haven_bench" >&2
            url="${admin%/*}/haven_bench"
            PG_VERSION="$(psql "$url" -qXAt -c "SHOW server_version")"
            ;;
    esac

    # Import (unless a kept database is served again).
    if [ "$reused" = 1 ]; then
        log "[$backend] serving the kept ${url#sqlite://}"
        import_s="reused"
        IMPORTS+=("$SERVICES, $backend: the database loaded by an earlier run was served again (${url#sqlite://})")
    else
            log "[$backend] importing $SERVICES services ($DATA_MB MB of ndjson)"
        t0="$(date +%s.%N)"
        status=0
        # GNU time (if present) reports the importer's peak RSS; it wraps `timeout`, so a stopped
        # import is still reported.
        local timer=()
        [ -x /usr/bin/time ] && timer=(/usr/bin/time -f 'IMPORT_TIME elapsed=%e maxrss_kb=%M')
        DATABASE_URL="$url" HAVEN_LOG=warn "${timer[@]}" timeout "$IMPORT_TIMEOUT" \
            "$BIN" import "$DATA" >"$import_log" 2>&1 || status=$?
        t1="$(date +%s.%N)"
        import_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
        summary="$(grep '^imported:' "$import_log" | tail -n1 || true)"
        rejected="$(sed -n 's/.* \([0-9]*\) rejected$/\1/p' <<<"$summary")"
        local import_rss
        import_rss="$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' "$import_log" | tail -n1)"
        if [ "$status" = 124 ]; then
            NOTES+=("$backend: the import was stopped after ${IMPORT_TIMEOUT}s (HAVEN_BENCH_IMPORT_TIMEOUT); the search ran over what had been committed.")
        elif [ "$status" != 0 ]; then
            NOTES+=("$backend: \`haven import\` exited with status $status: $(grep -v '^IMPORT_TIME' "$import_log" | tail -n 3 | tr '\n' ' ')")
        fi
        if [ -n "$rejected" ] && [ "$rejected" != 0 ]; then
            NOTES+=("$backend: $rejected records rejected; first: $(grep -m1 '^rejected' "$import_log")")
        fi
        log "[$backend] import: ${import_s}s, exit $status, ${summary:-no summary}"
        IMPORTS+=("$SERVICES, $backend: ${summary:-no summary line} in ${import_s} s (exit status $status)${import_rss:+, importer peak RSS $((import_rss / 1024)) MB}")
        # The same file again: nothing should change, and it should not take much longer.
        if [ "$status" = 0 ]; then
            t0="$(date +%s.%N)"
            DATABASE_URL="$url" HAVEN_LOG=warn timeout "$IMPORT_TIMEOUT" \
                "$BIN" import "$DATA" >"$import_log.again" 2>&1 || true
            t1="$(date +%s.%N)"
            IMPORTS+=("$SERVICES, $backend, the same file again: $(grep '^imported:' "$import_log.again" | tail -n1) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s")
            log "[$backend] again: $(tail -n1 "$import_log.again")"
        fi
    fi

    # Serve.
    local port base serve_log
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    serve_log="$RUN_DIR/serve-$backend.log"
    # wrk sends thousands of searches a second from one address: the rate limit is off.
    DATABASE_URL="$url" HAVEN_ADDR="127.0.0.1:$port" HAVEN_DEMO=false HAVEN_LOG=warn HAVEN_SEARCH_RATE=0 \
        "$BIN" serve >"$serve_log" 2>&1 &
    SERVER_PID=$!
    local waited=0
    until curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$serve_log" >&2; die "[$backend] haven serve exited"; }
        [ "$waited" -lt 600 ] || die "[$backend] haven serve not ready after 120 s"
        sleep 0.2
        waited=$((waited + 1))
    done

    # How many services are searchable (the import's count, checked through the API).
    imported="$(curl -fsS "$base/services?per_page=1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["total_items"])')"
    [ "$imported" = "$SERVICES" ] ||
        NOTES+=("$backend: the API lists $imported services, not $SERVICES.")
    local import_cell="$import_s s" rate_cell
    if [ "$reused" = 1 ]; then
        import_cell="reused"
        rate_cell="–"
    else
        rate_cell="$(awk -v n="$imported" -v s="$import_s" 'BEGIN { printf "%.0f", n / s }')/s"
    fi

    # Sample queries: status, matches within 10 km, items on the first page, latency.
    local sample
    sample="$(python3 - "$base" "$QUERIES" <<'PY'
import json, sys, time, urllib.request
base, path = sys.argv[1], sys.argv[2]
paths = [l.strip() for l in open(path) if l.strip()]
step = max(1, len(paths) // 10)
totals, items, errors = [], [], []
for p in paths[::step][:10]:
    try:
        with urllib.request.urlopen(base + p, timeout=30) as r:
            body = json.load(r)
            totals.append(body["total_items"])
            items.append(len(body["contents"]))
            for c in body["contents"]:
                d = c.get("distance")
                if d is None or d > 10000:
                    errors.append("%s: item %s at distance %r" % (p, c.get("id"), d))
    except Exception as e:  # an HTTP error or a malformed page
        errors.append("%s: %s" % (p, e))
print("matches=%.0f min=%d max=%d items=%.1f sampled=%d errors=%d" % (
    sum(totals) / max(1, len(totals)), min(totals or [0]), max(totals or [0]),
    sum(items) / max(1, len(items)), len(totals), len(errors)))
for e in errors[:3]:
    print("SAMPLE_ERROR " + e)
PY
)"
    echo "$sample" >"$RUN_DIR/sample-$backend.txt"
    if grep -q '^SAMPLE_ERROR' <<<"$sample"; then
        NOTES+=("$backend: sample query problem: $(grep -m1 '^SAMPLE_ERROR' <<<"$sample" | cut -c14-)")
    fi
    sample="$(head -n1 <<<"$sample")"
    log "[$backend] sample: $sample"

    # Warm up, then measure.
    export HAVEN_BENCH_QUERIES="$QUERIES"
    log "[$backend] warm-up ${WARMUP}s"
    timeout $((WARMUP + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" \
        -s "$ROOT/benches/search.lua" "$base" >"$RUN_DIR/warmup-$backend.txt" 2>&1 || true
    local load cpu0 cpu1 wrk_out line
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    cpu0="$(cpu_ticks "$SERVER_PID")"
    log "[$backend] measuring ${DURATION}s at $CONNECTIONS connections, $THREADS threads (load average $load)"
    wrk_out="$RUN_DIR/wrk-$backend.txt"
    timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
        -s "$ROOT/benches/search.lua" "$base" >"$wrk_out" 2>&1 || die "[$backend] wrk failed: $(tail -n 5 "$wrk_out")"
    cpu1="$(cpu_ticks "$SERVER_PID")"
    cat "$wrk_out" >&2
    line="$(grep '^HAVEN_BENCH ' "$wrk_out" | tail -n1)"
    [ -n "$line" ] || die "[$backend] no summary line from wrk"

    local rps p50 p99 errs sockerr rss cpu
    rps="$(awk -v x="$(field rps "$line")" 'BEGIN { printf "%.0f", x }')"
    p50="$(ms "$(field p50_us "$line")")"
    p99="$(ms "$(field p99_us "$line")")"
    errs="$(field http_errors "$line")"
    sockerr=$(( $(field connect_errors "$line") + $(field read_errors "$line") + $(field write_errors "$line") + $(field timeouts "$line") ))
    [ "$errs" = 0 ] || NOTES+=("$backend: $errs responses with status >= 400 under load (see $serve_log).")
    [ "$sockerr" = 0 ] || NOTES+=("$backend: $sockerr socket errors or timeouts under load.")
    rss="$(awk '/^VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$SERVER_PID/status")"
    cpu="$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" -v s="$DURATION" \
        'BEGIN { printf "%.2f", (b - a) / hz / s }')"
    if grep -qiE ' (ERROR|WARN) ' "$serve_log"; then
        NOTES+=("$backend: the server logged warnings or errors: $(grep -m1 -iE ' (ERROR|WARN) ' "$serve_log" | cut -c1-300)")
    fi

    local label="$backend"
    [ "$backend" = postgres ] && label="PostgreSQL ${PG_VERSION%% *}"
    [ "$backend" = sqlite ] && label="SQLite (bundled)"
    ROWS+=("$SERVICES|$rps|| $imported | $label | $import_cell | $rate_cell | $rps | $p50 | $p99 | @RATIO@ | $errs | $rss | $cpu | $(field matches "$sample") ($(field min "$sample")–$(field max "$sample")) | $(field items "$sample") | $load |")

    # Searches the database answers rather than the near-here index: keywords over the whole
    # directory, and the near-here query restricted to what is open now. The server keeps
    # the page of a keyword search until the directory changes, so `keyword` (ten words,
    # asked again and again) measures kept answers, and `keyword_first` the database's own
    # work: the ten words with page sizes 21, 22, ... 100 and pages 1 to 3 (the threads take
    # the list in turn, once), each search new to the server as long as the row makes fewer
    # than its 2,400 requests (else the table says "repeats").
    local kind qfile interleave words="naloxone syringe counselling housing methadone crisis peer recovery buprenorphine shelter"
    for kind in keyword keyword_first open_now; do
        qfile="$RUN_DIR/queries-$kind.txt"
        case "$kind" in
            keyword)
                for w in $words; do echo "/services?search=$w&per_page=20"; done >"$qfile"
                ;;
            keyword_first)
                for p in 1 2 3; do
                    for n in $(seq 21 100); do
                        for w in $words; do echo "/services?search=$w&per_page=$n&page=$p"; done
                    done
                done >"$qfile"
                ;;
            open_now) sed 's/$/\&open_now=true/' "$QUERIES" >"$qfile" ;;
        esac
        wrk_out="$RUN_DIR/wrk-$backend-$kind.txt"
        if [ "$kind" = keyword ]; then
            # Each word once, one at a time, before any of its answers is kept: what a searcher
            # waits for the first time a word is asked after a change. The warm-up below then
            # asks every word, so the `keyword` row measures kept answers alone (a 5-s warm-up
            # of 2 connections used to reach only some of the words when each took a second).
            local w t cold=()
            for w in $words; do
                t="$(curl -fsS -o /dev/null -w '%{time_total}' --max-time 60 \
                    "$base/services?search=$w&per_page=20")" || die "[$backend] keyword '$w' failed"
                cold+=("$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000000 }')")
            done
            # In the order asked first: the first search after the server starts also opens a
            # connection and fills its caches (BENCHMARKS.md).
            log "[$backend] keyword_cold, microseconds in the order asked ($words): ${cold[*]}"
            mapfile -t cold < <(printf '%s\n' "${cold[@]}" | sort -n)
            log "[$backend] keyword_cold: microseconds ${cold[*]}"
            OTHER_ROWS+=("| $imported | $label | keyword_cold (slowest in the p99 column) | – | $(ms "${cold[$(( ${#cold[@]} / 2 ))]}") | $(ms "${cold[-1]}") | 0 |")
        fi
        # Warmed up like the main row, so the items these searches show are rendered once
        # before measuring (a first pass over a million services reads them from disk);
        # `keyword_first` follows `keyword`, which rendered most of its items.
        if [ "$kind" != keyword_first ]; then
            HAVEN_BENCH_QUERIES="$qfile" timeout $((WARMUP + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" \
                -d"${WARMUP}s" -s "$ROOT/benches/search.lua" "$base" >/dev/null 2>&1 || true
        fi
        interleave=0
        [ "$kind" = keyword_first ] && interleave="$THREADS"
        HAVEN_BENCH_INTERLEAVE="$interleave" HAVEN_BENCH_QUERIES="$qfile" timeout $((OTHER_SECONDS + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" \
            -d"${OTHER_SECONDS}s" --latency -s "$ROOT/benches/search.lua" "$base" >"$wrk_out" 2>&1 ||
            die "[$backend] wrk failed: $(tail -n 5 "$wrk_out")"
        line="$(grep '^HAVEN_BENCH ' "$wrk_out" | tail -n1)"
        [ -n "$line" ] || die "[$backend] no summary line from wrk ($kind)"
        log "[$backend] $kind: $line"
        local shown="$kind"
        if [ "$kind" = keyword_first ] && [ "$(field requests "$line")" -gt "$(wc -l <"$qfile")" ]; then
            shown="$kind (repeats)"
        fi
        OTHER_ROWS+=("| $imported | $label | $shown | $(awk -v x="$(field rps "$line")" 'BEGIN { printf "%.0f", x }') | $(ms "$(field p50_us "$line")") | $(ms "$(field p99_us "$line")") | $(field http_errors "$line") |")
    done

    # The RSS column is the peak during the main load; keyword searches may raise it.
    NOTES+=("$SERVICES, $backend: server peak RSS after the keyword and open-now rows too: $(awk '/^VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$SERVER_PID/status").")
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    if [ "$backend" = postgres ]; then
        # Neither its disk nor its autovacuum should stay for the next row.
        psql "${url%/*}/postgres" -qX -c "DROP DATABASE IF EXISTS haven_bench" >&2 || true
        stop_pg
    fi
    [ -n "$KEEP_DIR" ] || rm -f "$RUN_DIR"/haven-bench.db*
}

# The same query straight against PostgreSQL + PostGIS: a GiST index over the same generated
# records, prepared statements, pgbench with the same number of clients.
bench_postgis() {
    command -v pgbench >/dev/null 2>&1 || die "pgbench is required (Debian: postgresql-client)"
    local admin url dir out line tps failed lat load
    pg_start
    admin="$ADMIN"
    psql "$admin" -v ON_ERROR_STOP=1 -qX \
        -c "DROP DATABASE IF EXISTS haven_postgis" -c "CREATE DATABASE haven_postgis" >&2
    url="${admin%/*}/haven_postgis"
    # Extensions need a superuser: the throwaway server's `postgres`, over its local socket.
    local port super
    port="${admin##*:}"
    port="${port%%/*}"
    super=(psql -h "$HAVEN_PG_DIR" -p "$port" -U postgres -d haven_postgis -v ON_ERROR_STOP=1 -qX)
    if ! "${super[@]}" -c "CREATE EXTENSION IF NOT EXISTS postgis" >&2 2>"$RUN_DIR/postgis.err"; then
        log "PostGIS missing; installing the Debian package"
        local major
        major="$(psql "$url" -qXAt -c "SHOW server_version_num" | cut -c1-2)"
        if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-$major-postgis-3" >&2 ||
            die "could not install postgresql-$major-postgis-3"
        "${super[@]}" -c "CREATE EXTENSION postgis" >&2
    fi
    log "[postgis] loading $SERVICES services"
    psql "$url" -v ON_ERROR_STOP=1 -qX -c "CREATE TABLE bench_place (id text, lat float8, lon float8, active boolean, cost text[], accessibility text[])" >&2
    python3 "$ROOT/benches/postgis.py" table "$DATA" |
        psql "$url" -v ON_ERROR_STOP=1 -qX -c "\\copy bench_place FROM STDIN WITH (FORMAT csv)" >&2
    psql "$url" -v ON_ERROR_STOP=1 -qX \
        -c "ALTER TABLE bench_place ADD COLUMN geog geography(Point, 4326)" \
        -c "UPDATE bench_place SET geog = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography" \
        -c "CREATE INDEX bench_place_geog ON bench_place USING gist (geog) INCLUDE (id, active, cost, accessibility)" \
        -c "VACUUM ANALYZE bench_place" >&2
    dir="$RUN_DIR/pgbench-$SERVICES"
    mkdir -p "$dir"
    python3 "$ROOT/benches/postgis.py" scripts "$QUERIES" "$dir"
    local scripts=()
    for f in "$dir"/q*.sql; do scripts+=(-f "$f"); done
    # PostGIS at its best: the planner underestimates how many rows a geography box holds and
    # often picks a bitmap scan and a sort, ten times slower here than walking the GiST index
    # nearest-first; bitmap scans are turned off so every query walks the index, and the index
    # covers the filtered columns so the walk need not visit the table.
    export PGOPTIONS="-c enable_bitmapscan=off"
    log "[postgis] warm-up ${WARMUP}s"
    pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$WARMUP" "${scripts[@]}" "$url" >"$dir/warmup.txt" 2>&1 ||
        die "[postgis] pgbench failed: $(tail -n 5 "$dir/warmup.txt")"
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    log "[postgis] measuring ${DURATION}s at $CONNECTIONS clients (load average $load)"
    out="$dir/pgbench.txt"
    (cd "$dir" && pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" \
        --log --log-prefix=txn "${scripts[@]}" "$url") >"$out" 2>&1 ||
        die "[postgis] pgbench failed: $(tail -n 5 "$out")"
    tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | tail -n1)"
    failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out" | tail -n1)"
    lat="$(python3 "$ROOT/benches/postgis.py" latency "$dir"/txn.*)"
    tps="$(awk -v x="$tps" 'BEGIN { printf "%.0f", x }')"
    POSTGIS_RPS[$SERVICES]="$tps"
    ROWS+=("$SERVICES|$tps|| $SERVICES | PostgreSQL + PostGIS $(psql "$url" -qXAt -c "SELECT postgis_lib_version()"), pgbench | – | – | $tps | $(ms "$(field p50_us "$lat")") | $(ms "$(field p99_us "$lat")") | 1.00 | ${failed:-0} | – | – | – | 20 | $load |")
    unset PGOPTIONS
    psql "$admin" -qX -c "DROP DATABASE IF EXISTS haven_postgis" >&2 || true
    stop_pg
}

for SERVICES in $SIZES; do
    prepare_data
    for backend in $BACKENDS; do
        if [ "$backend" = postgres ] && [ "$SERVICES" -gt "$PG_MAX" ]; then
            NOTES+=("Haven on PostgreSQL was not run at $SERVICES services (HAVEN_BENCH_PG_MAX=$PG_MAX).")
            continue
        fi
        case "$backend" in
            postgis) bench_postgis ;;
            *) bench_backend "$backend" ;;
        esac
    done
done

# --- report -----------------------------------------------------------------------------
model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
mem="$(free -h | awk '/^Mem:/ { print $2 }')"

echo
echo "Search: \`GET /service_at_locations?lat=..&lon=..&proximity=10000&cost=free,sliding_scale&accessibility=wheelchair&per_page=20\`,"
echo "$NQUERIES points around the generated towns; wrk ${DURATION} s, $THREADS threads, $CONNECTIONS connections, after ${WARMUP} s of warm-up."
echo
echo "| services | database | import | import rate | requests/s | p50 | p99 | × PostGIS | errors | server peak RSS | server CPU (cores) | matches per query, avg (min–max) | items per page | load avg before |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for r in "${ROWS[@]}"; do
    IFS='|' read -r size rps _ <<<"$r"
    ratio="–"
    if [ -n "${POSTGIS_RPS[$size]:-}" ] && [ "${POSTGIS_RPS[$size]}" != 0 ]; then
        ratio="$(awk -v a="$rps" -v b="${POSTGIS_RPS[$size]}" 'BEGIN { printf "%.2f", a / b }')"
    fi
    row="${r#*||}"
    echo "|${row/@RATIO@/$ratio}"
done

if [ "${#OTHER_ROWS[@]}" -gt 0 ]; then
    echo
    echo "Other searches: \`keyword\` is \`GET /services?search=WORD&per_page=20\` over 10 words, answered from"
    echo "kept pages after the first time; \`keyword_first\` is the same 10 words with page sizes 21, 22, ... (up"
    echo "to 100) and pages 1 to 3, each asked once (\"repeats\" when the row made more than those 2,400 requests);"
    echo "\`open_now\` is the query above with \`open_now=true\`. wrk ${OTHER_SECONDS} s each, after ${WARMUP} s of"
    echo "warm-up but for \`keyword_first\`, same connections. \`keyword_cold\` is each of the 10 words asked once,"
    echo "one at a time with curl, before anything kept its answer: p50 is the median of the 10, p99 the slowest."
    echo
    echo "| services | database | search | requests/s | p50 | p99 | errors |"
    echo "|---:|---|---|---:|---:|---:|---:|"
    printf '%s\n' "${OTHER_ROWS[@]}"
fi
echo
echo "Machine: $(nproc) CPUs ($model), $mem RAM, Linux $(uname -r); haven $commit; wrk $(wrk -v 2>&1 | head -n1 | awk '{ print $2 }'); data seed $SEED."
echo
echo "Imports:"
for n in "${IMPORTS[@]}"; do echo "- $n"; done
if [ "${#NOTES[@]}" -gt 0 ]; then
    echo
    echo "Notes:"
    for n in "${NOTES[@]}"; do echo "- $n"; done
fi
