#!/bin/bash
# One run per schedule at a time: a second run is refused at once (exit 4),
# and the lock (flock on an open descriptor) never outlives its holder.
#
# The first run is held, not raced: one of its files is under a write lease
# (as Samba and NFS servers hold them), so the worker cannot open it and
# warns, and its stderr is a pipe that is already full, so that warning
# blocks it in write(2) — while it holds the lock, until the test drains the
# pipe. Nothing depends on how fast anything is.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
mkdir -p "$SRC" "$DEST"
head -c 1M /dev/urandom > "$SRC/data.bin"
printf 'small\n' > "$SRC/small"
printf 'leased\n' > "$SRC/leased"        # not empty: an empty file is never opened
t_schedule c "Source=$SRC" "Destination=$DEST"
LOCK=$DEST/.alexandria-c.lock

# The holder: takes the lease, fills the FIFO, says "ready"; on "drain" it
# lets go of the lease and reads the FIFO to its end (the worker's exit).
cat > "$T/hold.py" <<'PY'
import fcntl, os, signal, sys
leased, fifo, log = sys.argv[1:4]
signal.signal(signal.SIGIO, signal.SIG_IGN)     # the lease break notice
lease_fd = os.open(leased, os.O_RDONLY)
fcntl.fcntl(lease_fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
try:
    while True:
        os.write(w, b"#" * 4096)
except BlockingIOError:
    pass
while True:                                     # the last bytes of a nearly full pipe
    try:
        os.write(w, b"#")
    except BlockingIOError:
        break
os.close(w)                                     # the pipe stays full: its reader is open
print("ready", flush=True)
sys.stdin.readline()
os.close(lease_fd)
os.set_blocking(r, True)
with open(log, "wb") as out:
    while chunk := os.read(r, 65536):
        out.write(chunk.replace(b"#", b""))
print("drained", flush=True)
PY

# hold_run: starts a worker held as above; sets $pid and the holder's coprocess
hold_run() {
        rm -f "$T/fifo" && mkfifo "$T/fifo"
        coproc HOLDER { python3 "$T/hold.py" "$SRC/leased" "$T/fifo" "$T/held-stderr"; }
        local line
        read -r -t 30 line <&"${HOLDER[0]}"
        [ "$line" = ready ] || { fail "the holder is ready (said '$line')"; return 1; }
        "$BACKUP" c 2> "$T/fifo" &
        pid=$!
}
# release_run: drains the held worker's stderr and waits for it; sets $status
release_run() {
        echo drain >&"${HOLDER[1]}"
        wait "$pid"
        status=$?
        local line
        read -r -t 60 line <&"${HOLDER[0]}"
        [ "$line" = drained ] || fail "the holder drained the pipe (said '$line')"
        wait 2>/dev/null        # the holder, whose PID bash forgets once it is reaped
}
# Who holds the lock, from /proc/locks: probing it with flock(1) would take it
# for a moment, and a worker starting just then would find it busy.
lock_held_by() {
        local inode
        inode=$(stat -c %i "$LOCK" 2>/dev/null) || return 1
        grep -Eq "^[0-9]+: FLOCK +ADVISORY +WRITE +$1 [0-9a-f]+:[0-9a-f]+:$inode " /proc/locks
}
# in write(2) on its stderr: where the kernel says it waits (pipe_write,
# anon_pipe_write), or just asleep where the kernel hides that ("0")
blocked_in_write() {
        local wchan
        wchan=$(cat "/proc/$1/wchan" 2>/dev/null) || return 1
        case $wchan in
        *pipe_write*) return 0 ;;
        0) grep -q '^State:[[:space:]]*S' "/proc/$1/status" ;;
        *) return 1 ;;
        esac
}
archives() { "$CTL" backups c | wc -l; }
T_CLEANUP_HOOK='[ -n "${pid:-}" ] && kill -KILL $pid 2>/dev/null; [ -n "${HOLDER_PID:-}" ] && kill -KILL $HOLDER_PID 2>/dev/null; wait'

# ---- a second run while the first one runs ----
hold_run
check "the first run holds the lock" wait_for 30 lock_held_by "$pid"
check "the first run is held in write(2) of its warning" wait_for 30 blocked_in_write "$pid"

"$BACKUP" c > "$T/out2" 2> "$T/err2"
rc=$?
check "second run exits 4 (got $rc)" test $rc -eq 4
check "second run says another run of the schedule is in progress" grep -q "Another run of schedule 'c' is in progress" "$T/err2"
sed 's/^/#   stderr: /' "$T/err2"
# It did not wait for the lock: the first run has not let go of it.
check "the first run is still running" kill -0 "$pid"
check "... and still holds the lock" lock_held_by "$pid"
check "the refused run wrote nothing" test "$(ls -A "$DEST")" = .alexandria-c.lock

# A different schedule sharing the destination has its own lock.
mkdir -p "$T/src2"
printf 'other\n' > "$T/src2/f"
t_schedule d "Source=$T/src2" "Destination=$DEST"
timeout 20 "$BACKUP" d 2> "$T/err-d"
check "another schedule with the same destination runs meanwhile (exit 0)" test $? -eq 0

release_run
pid=
check "first run succeeds, with the leased file as its warning (exit $status)" test "$status" -eq 3
check "its warning names the file it could not open" grep -q "$SRC/leased: cannot open" "$T/held-stderr"
sed 's/^/#   stderr: /' "$T/held-stderr"
check "one archive after the first run" test "$(archives)" -eq 1
check "the lock is free once the first run is gone" flock -n "$LOCK" true

timeout 90 "$BACKUP" c 2> "$T/err3"
rc=$?
check "a new run after the first finished succeeds (exit $rc)" test $rc -eq 0
check "two archives now" test "$(archives)" -eq 2

# ---- a killed run leaves no lock behind ----
hold_run
check "third run holds the lock" wait_for 30 lock_held_by "$pid"
check "... and is held" wait_for 30 blocked_in_write "$pid"
kill -KILL "$pid"
wait "$pid"
rc=$?
check "SIGKILL ended it (status $rc)" test $rc -eq 137
pid=
release_run
check "the lock file itself stays (it is never removed)" test -f "$LOCK"
check "the kernel released the lock with the process" flock -n "$LOCK" true

timeout 90 "$BACKUP" c 2> "$T/err5"
rc=$?
check "the next run is not blocked and succeeds (exit $rc)" test $rc -eq 0
sed 's/^/#   stderr: /' "$T/err5" | grep -v '^#   stderr: Backup done'
check "three archives of c now" test "$(archives)" -eq 3
check "nothing but archives and locks in the destination" \
        test -z "$(ls -A "$DEST" | grep -vE '^(c|d)-[0-9]{8}T[0-9]{6}Z\.tar\.gz$|^\.alexandria-(c|d)\.lock$')"
for a in $("$CTL" backups c); do
        check "archive $(basename "$a") is complete (GNU tar gives back the data)" \
                bash -c 'tar -xzOf "$1" "$2" | cmp -s - "$3"' _ "$a" "${SRC#/}/data.bin" "$SRC/data.bin"
done
