# Helpers for functional tests: the real binaries on real files, no systemd.
# Each test sources this, calls `t_setup`, and uses ok/fail/check.
set -uo pipefail

CTL=${ALEXANDRIA_CTL:?run through meson test}
BACKUP=${ALEXANDRIA_BACKUP:?run through meson test}
T_FAILED=0
T_COUNT=0

t_setup() {
        T=$(mktemp -d /tmp/alexandria-test.XXXXXX)
        trap 't_cleanup' EXIT
        # User mode with a private home: nothing lands in /etc or /var.
        export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_DATA_HOME=$T/home/.local/share
        export ALEXANDRIA_CONFIG_DIR=$T/conf ALEXANDRIA_STATE_DIR=$T/state
        mkdir -p "$HOME" "$ALEXANDRIA_CONFIG_DIR/schedules.d"
}

t_cleanup() {
        local rc=$?
        [ -n "${T_CLEANUP_HOOK:-}" ] && eval "$T_CLEANUP_HOOK"
        [ -n "${T:-}" ] && rm -rf "$T"
        if [ "$T_FAILED" -ne 0 ]; then
                echo "# $T_FAILED of $T_COUNT checks failed"
                exit 1
        fi
        exit "$rc"
}

ok()   { T_COUNT=$((T_COUNT + 1)); echo "ok - $*"; }
fail() { T_COUNT=$((T_COUNT + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND…: passes when COMMAND succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi; }

# Writes schedule NAME with the given [Backup] lines (Source=… etc.).
t_schedule() {
        local name=$1; shift
        {
                printf '[Schedule]\nOnCalendar=daily\n[Backup]\n'
                printf '%s\n' "$@"
        } > "$ALEXANDRIA_CONFIG_DIR/schedules.d/$name.conf"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_for SECONDS COMMAND…: polls every 20 ms (tests catch a worker mid-read)
# until COMMAND succeeds; false on timeout.
wait_for() {
        local end=$(($(now_ms) + $1 * 1000)); shift
        until "$@"; do
                [ "$(now_ms)" -ge "$end" ] && return 1
                sleep 0.02
        done
}

# t_backup NAME [WRAPPER...]: one run of the worker for NAME (through
# WRAPPER, e.g. faketime, if given), which must exit 0; $ARCHIVE is the
# archive it reports, $PLAN its "full: …" or "incremental: …" line (FullEvery=).
t_backup() {
        local name=$1 err rc
        shift
        err=$("$@" "$BACKUP" "$name" 2>&1 >/dev/null)
        rc=$?
        ARCHIVE=$(printf '%s\n' "$err" | sed -n "s|^Backup done for $name in \(.*\) (.*|\1|p")
        PLAN=$(printf '%s\n' "$err" | sed -n 's/^  \(full: .*\|incremental: .*\)$/\1/p')
        if [ $rc -ne 0 ] || [ -z "$ARCHIVE" ]; then
                fail "run of $name exits 0 and writes an archive (got $rc)"
                printf '%s\n' "$err" | sed 's/^/#   /'
                return 1
        fi
}

# A listing of everything under $T but $T/out, with modes and sizes: what
# "nothing changed" compares.
t_snapshot() { find "$T" -path "$T/out" -prune -o -printf '%p %m %s\n' | sort; }
# expect_refused DESCRIPTION EXPECTED-MESSAGE-FRAGMENT COMMAND…: bad input
# exits 2, says what is wrong, and changes nothing. The output is in $T/out.
expect_refused() {
        local desc=$1 fragment=$2; shift 2
        local before after rc
        before=$(t_snapshot)
        "$@" >"$T/out" 2>&1; rc=$?
        after=$(t_snapshot)
        if [ "$rc" -ne 2 ]; then
                fail "$desc: exit $rc, expected 2 ($(head -c 400 "$T/out"))"
        elif ! grep -qF -- "$fragment" "$T/out"; then
                fail "$desc: message does not say '$fragment': $(head -c 400 "$T/out")"
        elif [ "$before" != "$after" ]; then
                fail "$desc: something changed on disk: $(diff <(echo "$before") <(echo "$after") | head -5)"
        else
                ok "$desc"
        fi
}
