#!/bin/bash
# A destination that fills up: the run fails with a clear error naming the
# destination (exit 1), leaves no temporary file, and the earlier archive is
# untouched. The destination is a small tmpfs mounted in a private mount
# namespace (this script runs itself again under unshare), so the mount
# never reaches the host.
if [ -z "${ALEXANDRIA_FULL_DISK_INNER:-}" ]; then
        source "$(dirname "$0")/lib.sh"
        ALEXANDRIA_FULL_DISK_INNER=1 ALEXANDRIA_FULL_DISK_OUTER=$$ unshare -m --propagation private bash "$0" "$@"
        rc=$?
        # The outer shell never called t_setup: no trap, report here.
        if ! grep -qE ' /tmp/alexandria-test\.[^ /]*/dest ' /proc/self/mountinfo; then
                ok "no test tmpfs is left in the host's mount table"
        else
                fail "no test tmpfs is left in the host's mount table"
                rc=1
        fi
        exit $rc
fi

source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
mkdir -p "$SRC" "$DEST"
if ! mount -t tmpfs -o size=8m,mode=0700 alexandria-test "$DEST"; then
        fail "mount a tmpfs in a private mount namespace"
        exit 1
fi
T_CLEANUP_HOOK='umount "$DEST"'
check "the tmpfs is mounted here" grep -qF " $DEST " /proc/self/mountinfo
check "the tmpfs is invisible to the host (the outer shell's mount table)" \
        bash -c '! grep -qF " $1 " "/proc/$2/mountinfo"' _ "$DEST" "$ALEXANDRIA_FULL_DISK_OUTER"
check "the destination is an 8 MiB tmpfs" test "$(stat -f -c %T "$DEST")" = tmpfs
listing() { ls -A "$DEST" | sort; }
used_kib() { df -k --output=used "$DEST" | tail -n1 | tr -d ' '; }

# ---- a small archive fits ----
seq 1 10000 > "$SRC/numbers"
head -c 100K /dev/urandom > "$SRC/random"
t_schedule fd "Source=$SRC" "Destination=$DEST"
"$BACKUP" fd 2> "$T/err"
rc=$?
check "a small archive fits (exit $rc)" test $rc -eq 0
mapfile -t first < <("$CTL" backups fd)
check "one archive" test ${#first[@]} -eq 1
first_sum=$(sha256sum "${first[@]}")
expected=$( (printf '%s\n' "${first[@]##*/}"; echo .alexandria-fd.lock) | sort)
used_before=$(used_kib)

# ---- then a source too big for the space left ----
head -c 32M /dev/urandom > "$SRC/big"
timeout 60 "$BACKUP" fd > "$T/out" 2> "$T/err"
rc=$?
sed 's/^/#   stderr: /' "$T/err"
check "the run fails with exit 1 (got $rc)" test $rc -eq 1
check "the error names the destination" grep -qF "$DEST/" "$T/err"
check "the error says the device is full" grep -q "No space left on device" "$T/err"
check "no temporary or partial file is left (ls -A)" test "$(listing)" = "$expected"
[ "$(listing)" = "$expected" ] || ls -lA "$DEST" | sed 's/^/#   /'
check "backups lists only the earlier archive" test "$("$CTL" backups fd)" = "${first[0]}"
check "the earlier archive is byte for byte intact" test "$(sha256sum "${first[@]}")" = "$first_sum"
check "the earlier archive still reads" bash -c 'tar -xzOf "$1" "$2" | cmp -s - "$3"' _ "${first[0]}" "${SRC#/}/numbers" "$SRC/numbers"
check "the space the failed run took is free again" test "$(used_kib)" -le $((used_before + 64))

# ---- a destination that is full before the run starts ----
rm -f "$SRC/big"
head -c 16M /dev/zero > "$DEST/filler" 2>/dev/null
check "the destination is now full" test "$(df -k --output=avail "$DEST" | tail -n1 | tr -d ' ')" -lt 64
timeout 60 "$BACKUP" fd 2> "$T/err"
rc=$?
sed 's/^/#   stderr: /' "$T/err"
check "a run into a full destination fails with exit 1 (got $rc)" test $rc -eq 1
check "... naming the destination" grep -qF "$DEST" "$T/err"
check "... and leaves nothing behind" test "$(listing)" = "$( (echo "$expected"; echo filler) | sort)"
check "... nor touches the earlier archive" test "$(sha256sum "${first[@]}")" = "$first_sum"

# ---- space again: runs work again ----
rm -f "$DEST/filler"
"$BACKUP" fd 2> "$T/err"
rc=$?
check "with space again the next run succeeds (exit $rc)" test $rc -eq 0
check "two archives now" test "$("$CTL" backups fd | wc -l)" -eq 2
