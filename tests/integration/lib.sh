# Helpers for integration tests: the build installed into a throwaway systemd
# (sandbox.sh), driven from outside. Tests print ok/not ok lines.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox.sh
source "$HERE/sandbox.sh"

BUILD=${ALEXANDRIA_BUILD_DIR:?run through meson test}
T_FAILED=0
T_COUNT=0

ok()   { T_COUNT=$((T_COUNT + 1)); echo "ok - $*"; }
fail() { T_COUNT=$((T_COUNT + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi; }

it_finish() {
        local rc=$?
        sandbox_cleanup_all
        [ -n "${W:-}" ] && [ -z "${KEEP_WORKDIR:-}" ] && rm -rf "$W"
        if [ "$T_FAILED" -ne 0 ]; then
                echo "# $T_FAILED of $T_COUNT checks failed"
                exit 1
        fi
        [ "$T_COUNT" -gt 0 ] || { echo "# no checks ran"; exit 1; }
        exit "$rc"
}

# it_setup: work dir, a DESTDIR install of the build as the sandbox's stage.
it_setup() {
        sandbox_require_root || exit 77
        W=$(mktemp -d /tmp/alexandria-it.XXXXXX)
        trap it_finish EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        STAGE=$W/stage
        DESTDIR=$STAGE meson install -C "$BUILD" --no-rebuild --quiet >"$W/install.log" 2>&1 || {
                cat "$W/install.log"; echo "not ok - meson install into the stage"; exit 1; }
        CTL_IN=$(cd "$STAGE" && find . -path '*/bin/alexandria-ctl' | head -1 | sed 's|^\./|/|; s|^/bin/|/usr/bin/|')
}

sys() { sandbox_system_exec "$@"; }
ctl() { sandbox_system_exec "$CTL_IN" "$@"; }
usr() { sandbox_user_exec "$@"; }
uctl() { sandbox_user_exec "$CTL_IN" --user "$@"; }

# A calendar expression that elapses SECONDS from now (local time inside = host's).
calendar_in() { date -d "@$(( $(date +%s) + $1 ))" '+%Y-%m-%d %H:%M:%S'; }

# wait_for TIMEOUT COMMAND…: polls every 0.5 s.
wait_for() {
        local deadline=$(( $(date +%s) + $1 )); shift
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s)" -ge "$deadline" ] && return 1
                sleep 0.5
        done
}

# Servers a test runs on the host (the sandbox shares the host's network):
# stopped by pid before it_finish stops the sandbox, and SIGTERMed by the
# kernel should the test's shell be killed (setpriv --pdeathsig).
SERVER_PIDS=()
servers_stop() {
        local p i
        for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${SERVER_PIDS[@]}"; do
                for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        SERVER_PIDS=()
}

# http_server_start: httpd.py on 127.0.0.1, logging paths to $W/http.log;
# sets HP to its port.
http_server_start() {
        : >"$W/http.log"
        setpriv --pdeathsig TERM -- /usr/bin/python3 "$HERE/httpd.py" "$W/http.log" "$W/http.port" >"$W/httpd.err" 2>&1 &
        SERVER_PIDS+=($!)
        wait_for 10 test -s "$W/http.port" || { echo "# httpd: $(cat "$W/httpd.err")"; return 1; }
        HP=$(cat "$W/http.port")
}
