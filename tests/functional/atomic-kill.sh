#!/bin/bash
# A run killed in the middle leaves no trace: no partial archive, no
# temporary file, earlier archives byte for byte intact, and the next run
# works.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
mkdir -p "$SRC" "$DEST"
seq 1 5000 > "$SRC/numbers"
t_schedule ak "Source=$SRC" "Destination=$DEST"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() {
        local end=$(($(now_ms) + $1 * 1000)); shift
        until "$@"; do
                [ "$(now_ms)" -ge "$end" ] && return 1
                sleep 0.05
        done
}
# More than $2 bytes of archive written by process $1.
written_more_than() {
        local w
        w=$(sed -n 's/^wchar: //p' "/proc/$1/io" 2>/dev/null)
        [ "${w:-0}" -gt "$2" ]
}
listing() { ls -A "$DEST" | sort; }

# ---- two earlier archives ----
for i in 1 2; do
        "$BACKUP" ak 2> "$T/err"
        rc=$?
        check "earlier run $i exits 0 (got $rc)" test $rc -eq 0
done
mapfile -t earlier < <("$CTL" backups ak)
check "two earlier archives" test ${#earlier[@]} -eq 2
sums_before=$(sha256sum "${earlier[@]}")
expected_listing=$( (printf '%s\n' "${earlier[@]##*/}"; echo .alexandria-ak.lock) | sort)
check "the destination holds the archives and the lock file only" test "$(listing)" = "$expected_listing"

# ---- 500 MiB of incompressible data: a run of several seconds ----
for i in 1 2 3 4 5; do
        head -c 100M /dev/urandom > "$SRC/big$i"
done
big_sums=$(cd "$SRC" && sha256sum big?)

# kill_mid_run SIGNAL BYTES: starts a run, waits until it wrote BYTES of archive, sends SIGNAL.
kill_mid_run() {
        local sig=$1 bytes=$2 pid
        "$BACKUP" ak 2> "$T/err-$sig" &
        pid=$!
        T_CLEANUP_HOOK="kill -KILL $pid 2>/dev/null; wait"
        if wait_for 60 written_more_than "$pid" "$bytes"; then
                ok "SIG$sig: the run is under way ($bytes bytes of archive written)"
        else
                fail "SIG$sig: the run is under way ($bytes bytes of archive written)"
        fi
        check "SIG$sig: the run is still going when it is killed" kill -0 "$pid"
        kill -"$sig" "$pid"
        wait "$pid"
        status=$?
        T_CLEANUP_HOOK=
        check "SIG$sig: the worker died of the signal (status $status)" test "$status" -eq $((128 + $(kill -l "$sig")))
        mapfile -t now < <("$CTL" backups ak)
        check "SIG$sig: backups lists only the two earlier archives" test "$(printf '%s\n' "${now[@]}")" = "$(printf '%s\n' "${earlier[@]}")"
        check "SIG$sig: no partial or temporary file in the destination (ls -A)" test "$(listing)" = "$expected_listing"
        if [ "$(listing)" != "$expected_listing" ]; then
                ls -lA "$DEST" | sed 's/^/#   /'
        fi
        check "SIG$sig: earlier archives byte for byte intact" test "$(sha256sum "${earlier[@]}")" = "$sums_before"
}
kill_mid_run KILL $((200 * 1024 * 1024))
# What systemd sends when a run is stopped.
kill_mid_run TERM $((64 * 1024 * 1024))

# ---- the next run is not hindered ----
timeout 100 "$BACKUP" ak 2> "$T/err-next"
rc=$?
check "the next run succeeds (exit $rc)" test $rc -eq 0
sed 's/^/#   /' "$T/err-next"
mapfile -t after < <("$CTL" backups ak)
check "three archives now" test ${#after[@]} -eq 3
check "the earlier two are still first, unchanged" test "$(sha256sum "${after[@]:0:2}")" = "$sums_before"
new=${after[2]:-/nonexistent}
check "the new archive is complete: all 500 MiB come back out with GNU tar" bash -c '
        for i in 1 2 3 4 5; do
                printf "%s  big%s\n" "$(tar -xzOf "$1" "$2/big$i" | sha256sum | cut -d" " -f1)" "$i"
        done | diff - <(printf "%s\n" "$3")' _ "$new" "${SRC#/}" "$big_sums"
check "the destination holds archives and the lock file only" \
        test "$(listing)" = "$( (printf '%s\n' "${after[@]##*/}"; echo .alexandria-ak.lock) | sort)"
rm -rf "$SRC" "$DEST"
