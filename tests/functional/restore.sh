#!/bin/bash
# Restore: whole and partial restores equal the source; hostile archives are
# refused and nothing is written outside --to; existing files are kept
# unless --overwrite; --at, --list and --dry-run.
source "$(dirname "$0")/lib.sh"
t_setup

src=$T/src; dest=$T/dest
mkdir -p "$src/dir/empty" "$src/sub/deep"
printf 'hello\n' > "$src/dir/a.txt"
head -c 300000 /dev/urandom > "$src/dir/random.bin"
ln -s a.txt "$src/dir/rel-link"
ln -s /nonexistent/target "$src/dir/dangling"
ln "$src/dir/a.txt" "$src/sub/hard"
printf 'x' > "$src/sub/deep/$(printf 'n%.0s' {1..150})"
printf 'bytes' > "$src/sub/"$'\xff\xfe-latin1'
truncate -s 64M "$src/sub/sparse"; printf 'middle' | dd of="$src/sub/sparse" bs=1 seek=$((32 << 20)) conv=notrunc status=none
chmod 0640 "$src/dir/a.txt"; chmod 0700 "$src/sub"; chmod 4755 "$src/dir/random.bin"
touch -h -d '2001-02-03 04:05:06' "$src/dir/rel-link"
touch -d '2002-03-04 05:06:07' "$src/dir/a.txt" "$src/dir/empty"
mkfifo "$src/dir/fifo"

t_schedule r "Source=$src" "Destination=$dest"
check "backup for the restore" "$BACKUP" r
archive=$(ls "$dest"/r-*.tar.gz)

# compare TREE-A TREE-B: content, type, mode, mtime of files, symlink targets, hard links
compare() {
        local a=$1 b=$2
        diff -r --no-dereference --exclude=fifo "$a" "$b" >"$T/diff" 2>&1 || { echo "content differs: $(head -5 "$T/diff")"; return 1; }
        (cd "$a" && find . -printf '%y %m %U %G %s %p -> %l\n' | sort) > "$T/meta-a"
        (cd "$b" && find . -printf '%y %m %U %G %s %p -> %l\n' | sort) > "$T/meta-b"
        diff "$T/meta-a" "$T/meta-b" >"$T/diff" || { echo "metadata differs: $(head -5 "$T/diff")"; return 1; }
        (cd "$a" && find . ! -type d -printf '%T@ %p\n' | sort -k2) > "$T/time-a"
        (cd "$b" && find . ! -type d -printf '%T@ %p\n' | sort -k2) > "$T/time-b"
        diff "$T/time-a" "$T/time-b" >"$T/diff" || { echo "mtimes differ: $(head -5 "$T/diff")"; return 1; }
        [ "$(stat -c %i "$b/sub/hard")" = "$(stat -c %i "$b/dir/a.txt")" ] || { echo "hard link not restored"; return 1; }
}

check "restore whole" "$CTL" restore r --to "$T/full"
out=$(compare "$src" "$T/full$src") && ok "full restore equals the source (content, modes, owners, mtimes, links, fifo, names)" || fail "full restore: $out"
[ "$(stat -c %b "$T/full$src/sub/sparse")" -lt 1000 ] && ok "the sparse file is restored sparse" || fail "sparse file restored with $(stat -c %b "$T/full$src/sub/sparse") blocks"
[ -p "$T/full$src/dir/fifo" ] && ok "the FIFO is restored as a FIFO" || fail "no FIFO"
check "the 0640 mode is restored" test "$(stat -c %a "$T/full$src/dir/a.txt")" = 640
check "the setuid mode is restored" test "$(stat -c %a "$T/full$src/dir/random.bin")" = 4755
check "the directory mtime is restored" test "$(stat -c %Y "$T/full$src/dir/empty")" = "$(stat -c %Y "$src/dir/empty")"

check "partial restore of one directory" "$CTL" restore r --to "$T/part" "$src/sub"
check "the partial restore has sub/" test -f "$T/part$src/sub/deep/$(printf 'n%.0s' {1..150})"
check "the partial restore has nothing else" test ! -e "$T/part$src/dir"
check "a hard link whose target lies outside the selection gets the data" grep -qx hello "$T/part$src/sub/hard"
check "the non-UTF-8 name is restored" test -f "$T/part$src/sub/"$'\xff\xfe-latin1'
check "partial restore of one file, named without the leading slash" "$CTL" restore r --to "$T/one" "${src#/}/dir/a.txt"
check "only that file" test "$(find "$T/one" -type f | wc -l)" = 1

# never overwrite without --overwrite
echo local-change > "$T/full$src/dir/a.txt"
"$CTL" restore r --to "$T/full" "$src/dir/a.txt" 2>"$T/err"; rc=$?
check_rc() { [ "$rc" = "$1" ]; }
check "an existing file is not overwritten: exit 1" check_rc 1
check "and it says so" grep -q "Not overwriting $T/full$src/dir/a.txt (use --overwrite)" "$T/err"
check "the local change is kept" grep -qx local-change "$T/full$src/dir/a.txt"
check "--overwrite replaces it" "$CTL" restore r --to "$T/full" --overwrite "$src/dir/a.txt"
check "with the archived content" grep -qx hello "$T/full$src/dir/a.txt"

# --dry-run writes nothing, --list restores nothing
out=$("$CTL" restore r --to "$T/dry" --dry-run 2>&1)
check "--dry-run names what would be written" grep -q "would restore $T/dry$src/dir/a.txt" <<<"$out"
check "--dry-run wrote no file" test -z "$(find "$T/dry" -mindepth 1 2>/dev/null)"
out=$("$CTL" restore r --list)
check "--list prints entries with their links" grep -q "${src#/}/dir/rel-link -> a.txt" <<<"$out"
check "--list shows hard links" grep -q "link to ${src#/}/dir/a.txt" <<<"$out"

# --at picks the newest archive at or before a time
sleep 1.1; echo v2 > "$src/dir/a.txt"; "$BACKUP" r >/dev/null 2>&1
first=$(basename "$archive"); stamp=${first#r-}; stamp=${stamp%.tar.gz}
check "restore --at the first archive's time" "$CTL" restore r --at "$stamp" --to "$T/at" "$src/dir/a.txt"
check "--at restored the old content" grep -qx hello "$T/at$src/dir/a.txt"
check "restore by archive name" "$CTL" restore r "$first" --to "$T/byname" "$src/dir/a.txt"
check "by name restored that archive" grep -qx hello "$T/byname$src/dir/a.txt"
check "restore of the newest" "$CTL" restore r --to "$T/newest" "$src/dir/a.txt"
check "newest has the new content" grep -qx v2 "$T/newest$src/dir/a.txt"
"$CTL" restore r --at 1999-01-01 --to "$T/none" >/dev/null 2>&1; rc=$?
check "--at before any archive fails" check_rc 2
"$CTL" restore r --to "$T/x" does/not/exist >/dev/null 2>&1; rc=$?
check "a PATH that matches nothing fails" check_rc 1
"$CTL" restore r >/dev/null 2>&1; rc=$?
check "restore without --to is a usage error" check_rc 2

# hostile archives
mkdir -p "$T/host" "$T/outside"
python3 - "$T/host/h-20260101T000000Z.tar.gz" "$T/outside" <<'PY'
import io, sys, tarfile
out, outside = sys.argv[1], sys.argv[2]
def add(t, name, data=b"x", type=tarfile.REGTYPE, linkname=""):
    ti = tarfile.TarInfo(name); ti.type = type; ti.linkname = linkname; ti.mode = 0o644
    if type == tarfile.REGTYPE:
        ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)
with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as t:
    add(t, "good.txt", b"fine")
    add(t, "../escape.txt", b"bad")
    add(t, "/abs-" + outside.replace("/", "_"), b"bad")
    add(t, "a/../../dotdot.txt", b"bad")
    add(t, "link", type=tarfile.SYMTYPE, linkname=outside)
    add(t, "link/through.txt", b"through the symlink")
    add(t, "hl", type=tarfile.LNKTYPE, linkname="/etc/passwd")
    add(t, "hl2", type=tarfile.LNKTYPE, linkname="../../../../../../etc/passwd")
    add(t, "hl3", type=tarfile.LNKTYPE, linkname="good.txt")
PY
before=$(find / -xdev -newer "$T/host/h-20260101T000000Z.tar.gz" -not -path '/proc/*' -not -path "$T/*" 2>/dev/null | wc -l)
"$CTL" restore h "$T/host/h-20260101T000000Z.tar.gz" --to "$T/target" 2>"$T/err"; rc=$?
check "a hostile archive: exit 1" check_rc 1
for what in "'../escape.txt'" "'a/../../dotdot.txt'" "'link/through.txt'" "hard link 'hl' to '/etc/passwd'" "hard link 'hl2'"; do
        check "refused: $what" grep -q "Refusing.*$what" "$T/err"
done
check "nothing was written through the symlink" test -z "$(ls -A "$T/outside")"
check "nothing escaped above the target" test ! -e "$T/escape.txt" -a ! -e "$T/dotdot.txt"
check "/etc/passwd was not linked" test "$(stat -c %h /etc/passwd)" = 1
check "the good entry was restored" grep -qx fine "$T/target/good.txt"
check "a hard link inside the target is fine" test "$(stat -c %i "$T/target/hl3")" = "$(stat -c %i "$T/target/good.txt")"
check "only good.txt, link and hl3 exist in the target" test "$(ls -A "$T/target" | sort | paste -sd' ')" = "good.txt hl3 link"
