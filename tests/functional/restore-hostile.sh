#!/bin/bash
# Restore against archives made to do harm, and where the kernel refuses
# openat2: a hard-link entry carrying data never rewrites an existing file,
# a partial restore of hard links writes their data (not zeros), a crafted
# manifest is reported as damaged (no crash), and the per-component walk
# that replaces openat2 refuses the same symlink tricks. Runs under
# ASan/UBSan too (tools/test).
source "$(dirname "$0")/lib.sh"
t_setup

rc=0
check_rc() { [ "$rc" = "$1" ]; }
no_temporaries() { [ -z "$(find "$1" -name '.alexandria-restore-*' 2>/dev/null)" ]; }

# 1. A hard link that carries data, to a file that exists in the target.
mkdir -p "$T/h" "$T/t1/etc"
echo secret > "$T/t1/etc/shadow"; chmod 640 "$T/t1/etc/shadow"; touch -d 2001-01-01 "$T/t1/etc/shadow"
python3 - "$T/h/h-20260101T000000Z.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("tmp/innocent"); ti.type = tarfile.LNKTYPE; ti.linkname = "etc/shadow"
    ti.size = 1; ti.mode = 0o666; ti.pax_headers = {"size": "1"}   # pax: the link carries data
    t.addfile(ti, io.BytesIO(b"x"))
    # and one to a file that exists but this restore did not write, without data
    ti = tarfile.TarInfo("tmp/other"); ti.type = tarfile.LNKTYPE; ti.linkname = "etc/shadow"
    t.addfile(ti)
PY
"$CTL" restore h "$T/h/h-20260101T000000Z.tar" --to "$T/t1" 2>"$T/err"; rc=$?
check "a data-carrying hard link to an existing file: exit 1" check_rc 1
check "the existing file keeps its content" grep -qx secret "$T/t1/etc/shadow"
check "and its mode, mtime and link count" test "$(stat -c '%a %Y %h' "$T/t1/etc/shadow")" = "640 $(date -d 2001-01-01 +%s) 1"
check "the link is refused with a message" grep -q "Refusing hard link 'tmp/innocent' to 'etc/shadow': that is no regular file this restore wrote" "$T/err"
check "so is the one without data" grep -q "Refusing hard link 'tmp/other' to 'etc/shadow'" "$T/err"
check "no link was made" test ! -e "$T/t1/tmp/innocent" -a ! -e "$T/t1/tmp/other"

# ... and to a file this restore wrote: linked, the data is not written into it.
python3 - "$T/h/h-20260102T000000Z.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("a"); ti.size = 5; ti.mode = 0o600; t.addfile(ti, io.BytesIO(b"first"))
    ti = tarfile.TarInfo("b"); ti.type = tarfile.LNKTYPE; ti.linkname = "a"
    ti.size = 3; ti.mode = 0o666; ti.pax_headers = {"size": "3"}
    t.addfile(ti, io.BytesIO(b"xyz"))
PY
"$CTL" restore h "$T/h/h-20260102T000000Z.tar" --to "$T/t2" 2>"$T/err"; rc=$?
check "a data-carrying link to a file this restore wrote: exit 0" check_rc 0
check "it is a link to that file" test "$(stat -c %i "$T/t2/a")" = "$(stat -c %i "$T/t2/b")"
check "whose content and mode are its own" test "$(cat "$T/t2/a") $(stat -c %a "$T/t2/a")" = "first 600"

# 2. A partial restore of hard links whose data lies outside the selection.
src=$T/src
mkdir -p "$src/hd" "$src/other"
printf 'abc\n' > "$src/hl1"; ln "$src/hl1" "$src/hl2"; ln "$src/hl1" "$src/hd/hl3"
chmod 0751 "$src/hd"; touch -d 2002-02-02 "$src/hd"
t_schedule links "Source=$src" "Destination=$T/dest"
"$BACKUP" links >/dev/null 2>&1
"$CTL" restore links --to "$T/part" "$src/hl1" "$src/hd" 2>"$T/err"; rc=$?
check "partial restore of hard links: exit 0" check_rc 0
check "the first link holds the data, not zeros" grep -qx abc "$T/part$src/hl1"
check "the link below the directory too" grep -qx abc "$T/part$src/hd/hl3"
check "they are one file" test "$(stat -c %i "$T/part$src/hl1")" = "$(stat -c %i "$T/part$src/hd/hl3")"
check "with two links: the temporary copy is gone" test "$(stat -c %h "$T/part$src/hl1")" = 2
check "the directory has its own mode and mtime" test "$(stat -c '%a %Y' "$T/part$src/hd")" = "751 $(date -d 2002-02-02 +%s)"
check "nothing outside the selection" test ! -e "$T/part$src/hl2" -a ! -e "$T/part$src/other"
check "no temporary file is left" no_temporaries "$T/part"

# 5. Crafted manifests: reported as damaged, never read out of bounds.
i=0
for manifest in 'd -   \n5 x\n' 'd -   \n' 'f 00\n' 'f 0000000000000000000000000000000000000000000000000000000000000000' \
                'd - 1\n' 'd - 99999999999999999999999 x\n' 'd - 0 \n' 'h - 0 a\n' 'd - 0 a\tb\n' 'd - 0 a\\\n' \
                'd - 0 a\\q\n' 'd - 0 a\x00b\n' 'x - 0 a\n' 'd - -1 a\n' 'd -  1 a\n' '\n'; do
        i=$((i + 1))
        mkdir -p "$T/m$i"; name=$T/m$i/m-20260101T000000Z.tar
        python3 - "$name" "$manifest" <<'PY'
import io, sys, tarfile
data = sys.argv[2].encode().decode('unicode_escape').encode('latin-1')
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("a"); ti.type = tarfile.DIRTYPE; t.addfile(ti)
    ti = tarfile.TarInfo(".alexandria-manifest.sha256"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
PY
        "$CTL" verify "$name" >"$T/out" 2>"$T/err"; rc=$?
        check "verify of crafted manifest $i ('$manifest'): exit 1" check_rc 1
        check "verify of crafted manifest $i: damaged, with its line" grep -q "the manifest is damaged at line" "$T/err"
        "$CTL" restore m "$name" --to "$T/mt$i" >"$T/out" 2>"$T/err"; rc=$?
        check "restore of crafted manifest $i: exit 1, the manifest named as damaged" \
                eval '[ $rc = 1 ] && grep -q "The manifest of .* is damaged at line" "$T/err"'
done

# Issue 10: where openat2 is refused (an old kernel: ENOSYS; a container's
# seccomp profile: EPERM), restore walks one component at a time.
mkdir -p "$T/outside"
python3 - "$T/h/h-20260103T000000Z.tar" "$T/outside" <<'PY'
import io, sys, tarfile
out, outside = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=b"x", type=tarfile.REGTYPE, linkname=""):
        ti = tarfile.TarInfo(name); ti.type = type; ti.linkname = linkname; ti.mode = 0o644
        if type == tarfile.REGTYPE:
            ti.size = len(data); t.addfile(ti, io.BytesIO(data))
        else:
            t.addfile(ti)
    add("good.txt", b"fine")
    add("link", type=tarfile.SYMTYPE, linkname=outside)
    add("link/through.txt", b"through the symlink")
    add("dir", type=tarfile.DIRTYPE)
    add("dir/inner", type=tarfile.SYMTYPE, linkname="..")
    add("dir/inner/up.txt", b"up")
    add("hl", type=tarfile.LNKTYPE, linkname="link/x")
    add("hl3", type=tarfile.LNKTYPE, linkname="good.txt")
PY
for errno in ENOSYS EPERM; do
        "$ALEXANDRIA_WITHOUT_OPENAT2" $errno "$CTL" restore links --to "$T/w-$errno" >/dev/null 2>"$T/err"; rc=$?
        check "without openat2 ($errno): a whole restore succeeds" check_rc 0
        check "without openat2 ($errno): it equals the source" diff -r "$src" "$T/w-$errno$src"
        check "without openat2 ($errno): hard links kept" test "$(stat -c %h "$T/w-$errno$src/hl1")" = 3
        "$ALEXANDRIA_WITHOUT_OPENAT2" $errno "$CTL" restore h "$T/h/h-20260103T000000Z.tar" --to "$T/x-$errno" 2>"$T/err"; rc=$?
        check "without openat2 ($errno): a hostile archive fails" check_rc 1
        check "without openat2 ($errno): nothing went through the symlinks" test -z "$(ls -A "$T/outside")" -a ! -e "$T/x-$errno/up.txt"
        check "without openat2 ($errno): 'link/through.txt' refused" grep -q "Refusing entry 'link/through.txt'" "$T/err"
        check "without openat2 ($errno): 'dir/inner/up.txt' refused" grep -q "Refusing entry 'dir/inner/up.txt'" "$T/err"
        check "without openat2 ($errno): the link through a symlink refused" grep -q "Refusing hard link 'hl' to 'link/x'" "$T/err"
        check "without openat2 ($errno): the good entries restored" \
                test "$(cat "$T/x-$errno/good.txt") $(stat -c %i "$T/x-$errno/hl3")" = "fine $(stat -c %i "$T/x-$errno/good.txt")"
done

# A foreign archive's file flags: an immutable one on the temporary name
# would stop the rename into place, so restore applies none (Alexandria's
# own archives carry none, like GNU tar's).
mkdir -p "$T/ff"
python3 - "$T/ff/ff-20260101T000000Z.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("etc/resolv.conf"); ti.size = 4; ti.mode = 0o644
    ti.pax_headers = {"SCHILY.fflags": "schg"}          # bsdtar --fflags: immutable
    t.addfile(ti, io.BytesIO(b"dns\n"))
PY
touch "$T/ff/probe"
if [ "$(id -u)" = 0 ] && chattr +i "$T/ff/probe" 2>/dev/null; then
        chattr -i "$T/ff/probe"
        "$CTL" restore ff "$T/ff/ff-20260101T000000Z.tar" --to "$T/ff/to" >/dev/null 2>"$T/err"; rc=$?
        check "a foreign archive with an immutable file: exit 0" check_rc 0
        check "the file is in place" grep -qx dns "$T/ff/to/etc/resolv.conf"
        check "without the flag (removable again)" rm "$T/ff/to/etc/resolv.conf"
        check "no temporary name left" no_temporaries "$T/ff/to"
else
        echo "# skipped: immutable flags need root and a file system that has them"
fi
# the same archive, named otherwise: taken as a PATH, and told so
cp "$T/ff/ff-20260101T000000Z.tar" "$T/ff/old.tar"
"$CTL" restore ff "$T/ff/old.tar" --to "$T/ff/to2" >/dev/null 2>"$T/err"; rc=$?
check "a tar file not named like an archive: refused (exit $rc)" test "$rc" -ne 0
check "... saying it was taken as a PATH and how archives are named" \
        grep -q "'$T/ff/old.tar' is taken as a PATH inside the archive: an archive given as a path must be named NAME-YYYYmmddTHHMMSSZ.tar" "$T/err"
check "... and nothing was restored" test ! -e "$T/ff/to2"
