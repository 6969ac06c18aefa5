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
        $PRELOAD "$BACKUP" ak 2> "$T/err-$sig" &
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
PRELOAD=
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

# ---- a file system like NFS: no O_TMPFILE, no RENAME_NOREPLACE ----
# There the archive grows under a hidden temporary name. A shim makes
# O_TMPFILE and renameat2(RENAME_NOREPLACE) fail the way NFS does. 200 MiB
# are enough here.
rm -f "$SRC"/big[345]
cat > "$T/nfslike.c" <<'EOF_C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
int openat(int dir, const char *path, int flags, ...) {
        static int (*real)(int, const char *, int, ...);
        va_list ap;
        mode_t mode;
        if ((flags & O_TMPFILE) == O_TMPFILE) {
                errno = EOPNOTSUPP;
                return -1;
        }
        if (!real)
                real = (int (*)(int, const char *, int, ...)) dlsym(RTLD_NEXT, "openat");
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
        return real(dir, path, flags, mode);
}
int openat64(int dir, const char *path, int flags, ...) __attribute__((alias("openat")));
int renameat2(int olddir, const char *old, int newdir, const char *new, unsigned flags) {
        if (flags != 0) {
                errno = EINVAL;
                return -1;
        }
        return renameat(olddir, old, newdir, new);
}
EOF_C
check "build the NFS-like shim" ${CC:-cc} -shared -fPIC -o "$T/nfslike.so" "$T/nfslike.c" -ldl
# (An ASan build wants its runtime first; the shim only wraps two calls.)
PRELOAD="env LD_PRELOAD=$T/nfslike.so ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
earlier=("${after[@]}")
sums_before=$(sha256sum "${earlier[@]}")
expected_listing=$( (printf '%s\n' "${earlier[@]##*/}"; echo .alexandria-ak.lock) | sort)
$PRELOAD "$BACKUP" ak 2> "$T/err-shim" &
pid=$!
T_CLEANUP_HOOK="kill -KILL $pid 2>/dev/null; wait"
tmp_seen=
for _ in $(seq 1 600); do
        tmp_seen=$(ls -A "$DEST" | grep -E '^\.#ak-[0-9]{8}T[0-9]{6}Z\.tar\.gz\.[0-9a-f]{16}$')
        [ -n "$tmp_seen" ] && written_more_than "$pid" $((64 * 1024 * 1024)) && break
        sleep 0.05
done
check "NFS-like: the archive grows under a hidden temporary name ($tmp_seen)" test -n "$tmp_seen"
kill -KILL "$pid"
wait "$pid"
T_CLEANUP_HOOK=
check "NFS-like: backups does not list the temporary file" \
        test "$("$CTL" backups ak)" = "$(printf '%s\n' "${earlier[@]}")"
check "NFS-like: earlier archives byte for byte intact" test "$(sha256sum "${earlier[@]}")" = "$sums_before"
timeout 100 $PRELOAD "$BACKUP" ak 2> "$T/err-shim2"
rc=$?
sed 's/^/#   /' "$T/err-shim2"
check "NFS-like: the next run succeeds (exit $rc)" test $rc -eq 0
check "NFS-like: ... and removes the temporary file the killed run left" \
        grep -qF "Removed $DEST/$tmp_seen, left behind by an interrupted run" "$T/err-shim2"
mapfile -t after < <("$CTL" backups ak)
check "NFS-like: four archives now, the earlier three unchanged" \
        test ${#after[@]} -eq 4 -a "$(sha256sum "${after[@]:0:3}")" = "$sums_before"
check "NFS-like: nothing but archives and the lock file in the destination" \
        test "$(listing)" = "$( (printf '%s\n' "${after[@]##*/}"; echo .alexandria-ak.lock) | sort)"
check "NFS-like: the new archive is complete" bash -c 'tar -tzf "$1" | grep -c "/big[1-5]$" | grep -qx 2' _ "${after[3]:-/nonexistent}"
rm -rf "$SRC" "$DEST"
