#!/bin/bash
# One run per schedule at a time: a second run is refused at once (exit 4),
# and the lock (flock on an open descriptor) never outlives its holder.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
BIG=$SRC/big.bin
mkdir -p "$SRC" "$DEST"
# Incompressible data: gzip takes a few seconds over it, long enough to
# start a second run while the first holds the lock.
head -c 128M /dev/urandom > "$BIG"
printf 'small\n' > "$SRC/small"
t_schedule c "Source=$SRC" "Destination=$DEST"
LOCK=$DEST/.alexandria-c.lock

# The worker opens data files only after it has taken the lock.
reading_big() { ls -l "/proc/$1/fd" 2>/dev/null | grep -qF -- "-> $BIG"; }
lock_is_held() { ! flock -n "$LOCK" true; }
# wait_pid PID SECONDS: waits for a background job, kills it after SECONDS; sets $status.
wait_pid() {
        if ! wait_for "$2" bash -c '! kill -0 "$1" 2>/dev/null || grep -q "^State:.*Z" "/proc/$1/status"' _ "$1"; then
                kill -KILL "$1" 2>/dev/null
        fi
        wait "$1"
        status=$?
}
archives() { "$CTL" backups c | wc -l; }

# ---- a second run while the first one runs ----
"$BACKUP" c 2> "$T/err1" &
pid1=$!
T_CLEANUP_HOOK='kill -KILL $pid1 $pid3 2>/dev/null; wait'
pid3=
check "first run is reading its data (lock taken)" wait_for 30 reading_big "$pid1"
check "the lock is a flock held by the running worker" lock_is_held

start=$(now_ms)
timeout 20 "$BACKUP" c > "$T/out2" 2> "$T/err2"
rc=$?
took=$(($(now_ms) - start))
check "second run exits 4 (got $rc)" test $rc -eq 4
check "second run is refused at once (${took} ms)" test $took -lt 2000
check "second run says another run of the schedule is in progress" grep -q "Another run of schedule 'c' is in progress" "$T/err2"
sed 's/^/#   stderr: /' "$T/err2"
check "the first run is still running" kill -0 "$pid1"
check "the refused run wrote nothing" test "$(ls -A "$DEST")" = .alexandria-c.lock

# A different schedule sharing the destination has its own lock.
mkdir -p "$T/src2"
printf 'other\n' > "$T/src2/f"
t_schedule d "Source=$T/src2" "Destination=$DEST"
timeout 20 "$BACKUP" d 2> "$T/err-d"
check "another schedule with the same destination runs meanwhile (exit 0)" test $? -eq 0

wait_pid "$pid1" 90
pid1=
check "first run succeeds (exit $status)" test "$status" -eq 0
check "one archive after the first run" test "$(archives)" -eq 1
check "the lock is free once the first run is gone" flock -n "$LOCK" true

timeout 90 "$BACKUP" c 2> "$T/err3"
rc=$?
check "a new run after the first finished succeeds (exit $rc)" test $rc -eq 0
check "two archives now" test "$(archives)" -eq 2

# ---- a killed run leaves no lock behind ----
"$BACKUP" c 2> "$T/err4" &
pid3=$!
check "third run is reading its data" wait_for 30 reading_big "$pid3"
check "... and holds the lock" lock_is_held
kill -KILL "$pid3"
wait "$pid3"
rc=$?
check "SIGKILL ended it (status $rc)" test $rc -eq 137
pid3=
check "the lock file itself stays (it is never removed)" test -f "$LOCK"
check "the kernel released the lock with the process" flock -n "$LOCK" true

start=$(now_ms)
timeout 90 "$BACKUP" c 2> "$T/err5"
rc=$?
check "the next run is not blocked and succeeds (exit $rc)" test $rc -eq 0
sed 's/^/#   stderr: /' "$T/err5" | grep -v '^#   stderr: Backup done'
check "three archives of c now" test "$(archives)" -eq 3
check "nothing but archives and locks in the destination" \
        test -z "$(ls -A "$DEST" | grep -vE '^(c|d)-[0-9]{8}T[0-9]{6}Z\.tar\.gz$|^\.alexandria-(c|d)\.lock$')"
for a in $("$CTL" backups c); do
        check "archive $(basename "$a") is complete (GNU tar gives back the data)" \
                bash -c 'tar -xzOf "$1" "$2" | cmp -s - "$3"' _ "$a" "${BIG#/}" "$BIG"
done
rm -f "$BIG"
