#!/bin/bash
# A file that shrinks or grows while it is archived: the run ends with
# warnings (exit 3) that name the file and say what the entry holds, and
# the archive is still a clean tar that GNU tar extracts.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
BIG=$SRC/changing.bin
SIZE=$((150 * 1024 * 1024))
mkdir -p "$SRC" "$DEST"

# Reproducible incompressible data (AES-CTR keystream), so that what the
# archive holds can be compared with what the file held without a copy.
gen() { openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 \
        -in /dev/zero 2>/dev/null | head -c "$1"; }

# The worker has the file open and has read more than 8 MiB of it: the
# size it stores in the header is fixed, the read is under way.
reading_big() {
        ls -l "/proc/$1/fd" 2>/dev/null | grep -qF -- "-> $BIG" || return 1
        local rchar
        rchar=$(sed -n 's/^rchar: //p' "/proc/$1/io" 2>/dev/null)
        [ "${rchar:-0}" -gt $((8 * 1024 * 1024)) ]
}

# scenario NAME CHANGE: runs the worker on a fresh $BIG and applies CHANGE
# (a function) while the worker reads it. Sets $rc, $A (archive), $X (extracted file).
scenario() {
        local name=$1 change=$2 pid
        rm -rf "$DEST"/* "$T/x"
        gen "$SIZE" > "$BIG"
        printf 'unchanged\n' > "$SRC/steady"
        t_schedule "$name" "Source=$SRC" "Destination=$DEST"
        "$BACKUP" "$name" > "$T/out" 2> "$T/err" &
        pid=$!
        T_CLEANUP_HOOK="kill -KILL $pid 2>/dev/null; wait"
        if wait_for 60 reading_big "$pid"; then
                ok "$name: the worker is reading $BIG"
                $change
        else
                fail "$name: the worker is reading $BIG (it never opened it, or finished first)"
        fi
        local end=$(($(now_ms) + 120000))
        while kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
                [ "$(now_ms)" -ge "$end" ] && { kill -KILL "$pid"; break; }
                sleep 0.1
        done
        wait "$pid"
        rc=$?
        T_CLEANUP_HOOK=
        sed 's/^/#   stderr: /' "$T/err"
        A=$("$CTL" backups "$name")
        X=$T/x/${BIG#/}
        mkdir -p "$T/x"
        if [ -n "$A" ] && tar -xzf "$A" -C "$T/x" 2> "$T/tar.err" && [ ! -s "$T/tar.err" ]; then
                ok "$name: GNU tar extracts the archive cleanly"
        else
                fail "$name: GNU tar extracts the archive cleanly"
                sed 's/^/#   tar: /' "$T/tar.err"
        fi
        check "$name: the other file is intact" cmp -s "$SRC/steady" "$T/x/${SRC#/}/steady"
}

# ---- shrinks while read ----
NEW=$((4 * 1024 * 1024))
shrink() { truncate -s "$NEW" "$BIG"; }
scenario shrink shrink
check "shrink: exit 3 (got $rc)" test "$rc" -eq 3
check "shrink: a warning on stderr names the file and says it shrank" \
        grep -qF "warning: $BIG: shrank from $SIZE to $NEW bytes while being read" "$T/err"
held=$(sed -n 's/.*the entry holds the first \([0-9]*\) bytes, then zeros.*/\1/p' "$T/err")
check "shrink: the warning says how much of the file the entry holds ($held)" test -n "$held" -a "${held:-0}" -ge "$NEW"
check "shrink: the entry keeps the size from its header" test "$(stat -c %s "$X" 2>/dev/null)" = "$SIZE"
check "shrink: the entry holds the data read" cmp -s -n "${held:-1}" "$X" <(gen "${held:-0}")
check "shrink: ... then zeros, as the warning says" bash -c 'tail -c +$(($2 + 1)) "$1" | { [ "$(tr -d "\0" | head -c 1 | wc -c)" -eq 0 ]; }' _ "$X" "${held:-0}"
rm -rf "$T/x"

# ---- grows while read ----
grow() { head -c $((1024 * 1024)) /dev/urandom >> "$BIG"; }
scenario grow grow
check "grow: exit 3 (got $rc)" test "$rc" -eq 3
check "grow: a warning on stderr names the file and says it grew" \
        grep -qF "warning: $BIG: grew from $SIZE to $((SIZE + 1024 * 1024)) bytes while being read" "$T/err"
check "grow: the entry holds exactly the size it had when the run began" test "$(stat -c %s "$X" 2>/dev/null)" = "$SIZE"
check "grow: ... with the file's data" cmp -s "$X" <(gen "$SIZE")
rm -rf "$T/x"

# ---- control: the same file left alone is no warning ----
scenario steady true
check "steady: exit 0 (got $rc)" test "$rc" -eq 0
check "steady: no warning" bash -c '! grep -q warning "$1"' _ "$T/err"
check "steady: the entry equals the file" cmp -s "$X" "$BIG"
rm -rf "$T/x" "$BIG" "$DEST"
