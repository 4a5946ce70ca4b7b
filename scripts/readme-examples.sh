#!/usr/bin/env bash
# Run the curl examples of README.md against a demo server.
#
#   scripts/readme-examples.sh            # from the repository root (or anywhere in it)
#   scripts/readme-examples.sh --list     # only print the extracted commands
#
# Examples are the lines starting with `curl ` inside ```sh (or bash/shell)
# fenced blocks between the lines `<!-- examples:start -->` and
# `<!-- examples:end -->`; a line ending in a backslash continues on the next.
# Each command has `http://127.0.0.1:8080` rewritten to the demo server's
# address and `-sS --fail-with-body` added after `curl`. An example passes when
# curl succeeds (HTTP < 400) and, if the body is JSON with a `total_items`
# field, that field is > 0.
#
# The demo server is target/debug/haven (built with `cargo build` if absent;
# override with HAVEN_BIN) started as `haven serve` with
#   DATABASE_URL=sqlite://$TMPDIR/demo.db HAVEN_ADDR=127.0.0.1:$PORT HAVEN_DEMO=true
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
README="${README:-README.md}"
START_MARK='<!-- examples:start -->'
END_MARK='<!-- examples:end -->'
DEFAULT_BASE='http://127.0.0.1:8080'
READY_TIMEOUT="${HAVEN_READY_TIMEOUT:-60}"

[ -f "$README" ] || { echo "readme-examples: $README not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "readme-examples: python3 is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "readme-examples: curl is required" >&2; exit 1; }

# --- extract ------------------------------------------------------------------
# One command per output line (continuations joined).
extract() {
    python3 - "$README" "$START_MARK" "$END_MARK" <<'PY'
import sys
path, start, end = sys.argv[1:4]
lines = open(path, encoding="utf-8").read().splitlines()
inside = in_fence = False
fence_ok = False
cmds, cur = [], None
saw_start = saw_end = False
for raw in lines:
    line = raw.rstrip()
    if line.strip() == start:
        inside, saw_start = True, True
        continue
    if line.strip() == end:
        if not inside:
            sys.exit(f"{path}: '{end}' without '{start}'")
        inside, saw_end = False, True
        continue
    if not inside:
        continue
    s = line.strip()
    if s.startswith("```"):
        if in_fence:
            in_fence = False
            if cur is not None:
                sys.exit(f"{path}: example ends with a backslash at end of block: {cur}")
        else:
            in_fence = True
            fence_ok = s[3:].strip().split(" ")[0].lower() in ("sh", "bash", "shell", "console")
        continue
    if not (in_fence and fence_ok):
        continue
    if cur is not None:
        part = s
        if part.endswith("\\"):
            cur += " " + part[:-1].strip()
        else:
            cmds.append(cur + " " + part)
            cur = None
        continue
    if s.startswith("curl "):
        if s.endswith("\\"):
            cur = s[:-1].rstrip()
        else:
            cmds.append(s)
if saw_start and not saw_end:
    sys.exit(f"{path}: '{start}' without '{end}'")
for c in cmds:
    print(c)
PY
}

mapfile -t EXAMPLES < <(extract)
# (the process substitution's exit status is lost; re-run to surface parse errors)
extract >/dev/null

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${EXAMPLES[@]}"
    exit 0
fi

if [ "${#EXAMPLES[@]}" -eq 0 ]; then
    echo "readme-examples: no examples found in $README between '$START_MARK' and '$END_MARK'" >&2
    exit 1
fi
echo "readme-examples: ${#EXAMPLES[@]} example(s) in $README"

# --- demo server ----------------------------------------------------------------
BIN="${HAVEN_BIN:-$ROOT/target/debug/haven}"
if [ ! -x "$BIN" ]; then
    echo "readme-examples: $BIN missing; running cargo build"
    cargo build --bin haven
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/haven-readme.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="${HAVEN_EXAMPLES_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
BASE="http://127.0.0.1:$PORT"

echo "readme-examples: starting $BIN serve on 127.0.0.1:$PORT (log: $WORK/server.log)"
DATABASE_URL="sqlite://$WORK/demo.db" HAVEN_ADDR="127.0.0.1:$PORT" HAVEN_DEMO=true \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq $((READY_TIMEOUT * 5))); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "readme-examples: server exited early; log:" >&2
        tail -n 50 "$WORK/server.log" >&2 || true
        exit 1
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/readyz" || true)"
    if [ "$code" = 200 ]; then ready=1; break; fi
    sleep 0.2
done
if [ "$ready" != 1 ]; then
    echo "readme-examples: server not ready after ${READY_TIMEOUT}s (GET /readyz); log:" >&2
    tail -n 50 "$WORK/server.log" >&2 || true
    exit 1
fi
echo "readme-examples: server ready"

# --- run ---------------------------------------------------------------------------
passed=0
failed=0
i=0
for example in "${EXAMPLES[@]}"; do
    i=$((i + 1))
    cmd="${example//"$DEFAULT_BASE"/$BASE}"
    cmd="curl -sS --fail-with-body ${cmd#curl }"
    echo "--- [$i/${#EXAMPLES[@]}] $example"
    body="$WORK/body.$i"
    set +e
    bash -o pipefail -c "$cmd" >"$body" 2>"$WORK/err.$i"
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: curl exited $rc: $(head -c 300 "$WORK/err.$i" | tr '\n' ' ')"
        echo "      body: $(head -c 500 "$body" | tr '\n' ' ')"
        failed=$((failed + 1))
        continue
    fi
    set +e
    verdict="$(python3 - "$body" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
try:
    doc = json.loads(data)
except ValueError:
    print(f"ok ({len(data)} bytes, not JSON)")
    sys.exit(0)
if isinstance(doc, dict) and "total_items" in doc:
    t = doc["total_items"]
    if not isinstance(t, int) or isinstance(t, bool) or t <= 0:
        print(f"total_items is {t!r}, expected > 0")
        sys.exit(1)
    print(f"ok (JSON, total_items={t})")
else:
    kind = type(doc).__name__
    print(f"ok (JSON {kind}, {len(data)} bytes)")
PY
)"
    vrc=$?
    set -e
    if [ "$vrc" -eq 0 ]; then
        echo "$verdict"
        passed=$((passed + 1))
    else
        echo "FAIL: $verdict"
        failed=$((failed + 1))
    fi
done

echo "readme-examples: $passed passed, $failed failed (of ${#EXAMPLES[@]})"
if [ "$failed" -ne 0 ]; then
    echo "readme-examples: server log (last 30 lines):"
    tail -n 30 "$WORK/server.log" || true
    exit 1
fi
