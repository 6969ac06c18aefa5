#!/bin/bash
# A tree with every kind of entry goes into an archive and comes back out
# unchanged, read by libarchive (bsdtar) and by GNU tar; every compression.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C
# The first run and its extractions happen in a UTF-8 locale (names that are
# not UTF-8 cannot be translated there), the compression runs in C (where
# no non-ASCII name can be); both must keep every name byte for byte.
UTF8=$(locale -a 2>/dev/null | grep -iE '^c\.utf-?8$' | head -n1)
UTF8=${UTF8:-C}

# One line per entry under DIR: path, type, mode, owner, mtime, size, and
# the content hash, the link target, or the hard-link group (first path of
# the group), so that two trees compare with diff. MTIME_FORMAT: find's
# %T@ (to the nanosecond: Alexandria's restore, which takes the exact times
# from the manifest) or %Ts (whole seconds: what another tar reads from the
# restricted pax headers).
MTIME_FORMAT=%T@
manifest() {
        local LC_ALL=C
        (cd "$1" && find . -mindepth 1 -printf "%P\t%y\t%m\t%U:%G\t$MTIME_FORMAT\t%s\t%i\t%n\t%l\n") | sort |
        while IFS=$'\t' read -r path type mode owner mtime size ino nlink target; do
                case $type in
                f) extra="sha256=$(sha256sum < "$1/$path" | cut -d' ' -f1)" ;;
                l) extra="-> $target" ;;
                d) extra=; size=- ;;                      # directory sizes are the file system's
                *) extra= ;;
                esac
                group=-
                if [ "$type" = f ] && [ "$nlink" -gt 1 ]; then
                        group=$(cd "$1" && find . -inum "$ino" -printf '%P\n' | sort | head -n1)
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\tlink=%s\n' "$path" "$type" "$mode" "$owner" "$mtime" "$size" "$extra" "$group"
        done
}

# compare_trees DESCRIPTION EXPECTED ACTUAL
compare_trees() {
        local d=$1 diffs
        if [ ! -d "$3" ]; then
                fail "$d: $3 was not extracted"
                return
        fi
        if diffs=$(diff <(manifest "$2") <(manifest "$3")); then
                ok "$d"
        else
                fail "$d"
                printf '%s\n' "$diffs" | head -n 40 | sed 's/^/#   /'
        fi
}

# ---- the source tree ----
SRC=$T/src/data
mkdir -p "$SRC"
cd "$SRC" || exit 1
head -c 100000 /dev/urandom > random.bin
printf 'hello\nworld\n' > text.txt
: > empty-file
printf '#!/bin/sh\necho hi\n' > script.sh
chmod 0755 script.sh
printf 'secret\n' > private
chmod 0600 private
printf 'read only\n' > readonly
chmod 0444 readonly
printf 'owned\n' > owned
chown 1234:5678 owned
printf 'setuid\n' > setuid
chmod 4755 setuid
mkdir empty-dir
chmod 0750 empty-dir
mkdir sticky
chmod 1777 sticky
mkdir setgid-dir
chmod 2750 setgid-dir
printf 'in setgid dir\n' > setgid-dir/file
# Hard links: three names, two directories.
mkdir -p links/a links/b
printf 'linked content\n' > links/a/first
ln links/a/first links/a/second
ln links/a/first links/b/third
# Symlinks: relative, absolute, dangling, to a directory.
ln -s ../text.txt links/relative
ln -s "$SRC/text.txt" links/absolute
ln -s /nonexistent/target links/dangling
ln -s a links/dir-link
# Non-UTF-8 names, one of them a directory.
printf 'latin-1\n' > $'\xff\xfe.bin'
mkdir $'caf\xe9'
printf 'inside\n' > $'caf\xe9/x'
printf 'utf-8\n' > 'café ünïcödé'
# Deep and long names: a 200-character file name, and a path over 300 characters.
long_name=$(printf 'n%.0s' $(seq 1 196)).txt
printf 'long name\n' > "$long_name"
deep=deep/$(printf 'a%.0s' $(seq 1 60))/$(printf 'b%.0s' $(seq 1 60))/$(printf 'c%.0s' $(seq 1 60))
mkdir -p "$deep"
printf 'deep\n' > "$deep/$(printf 'd%.0s' $(seq 1 120))"
# A 1 GiB sparse file with a little data in the middle and at the start.
truncate -s 1G sparse
printf 'start' | dd of=sparse conv=notrunc status=none
printf 'middle of nowhere' | dd of=sparse bs=1 seek=536870912 conv=notrunc status=none
# An ACL (a system.posix_acl_access attribute) and a user attribute on
# regular files: the writer only asks libarchive for files that have one.
printf 'acl\n' > with-acl
setfacl -m u:1234:r with-acl
printf 'xattr\n' > with-xattr
setfattr -n user.colour -v blue with-xattr
# A directory of more names than the read-ahead takes at a time (64), its
# files of sizes on both sides of the read-ahead's 8 KiB limit between
# directories, symlinks and an empty file: every file must come back with
# its own content.
mkdir many
for i in $(seq 1 150); do
        case $((i % 5)) in
        0) mkdir "many/d$i"; printf 'in %s\n' "$i" > "many/d$i/f" ;;
        1) ln -s "f$((i + 1))" "many/l$i" ;;
        2) head -c $((8192 + i)) /dev/urandom > "many/f$i" ;;
        3) : > "many/f$i" ;;
        *) printf 'file %s\n' "$i" > "many/f$i" ;;
        esac
done
# A FIFO: stored as an entry, never opened.
mkfifo fifo
chmod 0640 fifo
cd / || exit 1

check "the 200-character file name was created" test -f "$SRC/$long_name" -a ${#long_name} -eq 200
# Distinct mtimes with nanoseconds for everything, deepest first so
# directories keep theirs.
i=0
while IFS= read -r -d '' p; do
        touch -h -d "@$((1000000000 + i * 3671)).$(printf %09d $((i * 7919 % 1000000000)))" "$p"
        i=$((i + 1))
done < <(find "$SRC" -depth -print0)

# ---- the run ----
DEST=$T/dest/sub          # does not exist yet: the worker creates it
t_schedule rt "Source=$SRC" "Destination=$DEST"
before=$(date -u +%s)
# A writer waits on the FIFO: its open() returns only if someone opens the
# FIFO for reading, which the worker must never do. Opening it wakes the
# writer at once, so a writer still waiting after the run proves nobody did.
( exec 3> "$SRC/fifo"; echo opened > "$T/fifo-opened" ) &
writer=$!
T_CLEANUP_HOOK='kill -KILL $writer 2>/dev/null; wait'
# in open(2) of the FIFO, waiting for a reader (where the kernel hides the
# name, "0": asleep without the descriptor)
waiting_for_reader() {
        local wchan
        wchan=$(cat "/proc/$1/wchan" 2>/dev/null) || return 1
        [ "$wchan" = wait_for_partner ] && return 0
        [ "$wchan" = 0 ] && [ ! -e "/proc/$1/fd/3" ] && grep -q '^State:[[:space:]]*S' "/proc/$1/status"
}
check "the FIFO's writer waits for a reader" wait_for 10 waiting_for_reader $writer
LC_ALL=$UTF8 timeout 60 "$BACKUP" rt > "$T/out" 2> "$T/err"
rc=$?
after=$(date -u +%s)
check "the worker never opened the FIFO (its writer still waits)" waiting_for_reader $writer
kill -KILL $writer 2>/dev/null
wait $writer 2>/dev/null
T_CLEANUP_HOOK=
if [ $rc -eq 0 ]; then ok "worker exits 0"; else fail "worker exits 0 (got $rc)"; sed 's/^/#   /' "$T/err"; fi
check "the worker did not hang on the FIFO" test $rc -ne 124
check "no warnings on stderr" bash -c '! grep -qi warning "$1"' _ "$T/err"

mapfile -t archives < <(ls -A "$DEST" | grep -v '^\.alexandria-rt\.lock$')
if [ ${#archives[@]} -eq 1 ]; then ok "exactly one archive written"; else fail "exactly one archive written (got: ${archives[*]})"; fi
A=$DEST/${archives[0]:-none}
name=${archives[0]:-}
check "archive name is NAME-YYYYmmddTHHMMSSZ.tar.gz" bash -c '[[ $1 =~ ^rt-[0-9]{8}T[0-9]{6}Z\.tar\.gz$ ]]' _ "$name"
stamp=${name#rt-}; stamp=${stamp%.tar.gz}
stamp_s=$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2} ${stamp:9:2}:${stamp:11:2}:${stamp:13:2}" +%s 2>/dev/null || echo 0)
check "archive time stamp is the UTC start time of the run" test "$stamp_s" -ge "$before" -a "$stamp_s" -le "$after"
check "archive mode is 0600" test "$(stat -c %a "$A")" = 600
check "created destination directory mode is 0700" test "$(stat -c %a "$DEST")" = 700
check "archive is gzip" test "$(head -c 2 "$A" | od -An -tx1 | tr -d ' ')" = 1f8b
check "archive with a 1 GiB sparse file stays small (< 1 MiB)" test "$(stat -c %s "$A")" -lt 1048576
check "backups lists the archive" test "$("$CTL" backups rt)" = "$A"

# ---- read back with libarchive ----
# Top-level ".alexandria-*" members are the engine's own (a manifest), not
# source entries; everything else must come from the source.
internal='^\.alexandria-[^/]*$'
LC_ALL=$UTF8 bsdtar -tf "$A" > "$T/list.all" 2> "$T/list.err"
check "bsdtar lists the archive" test $? -eq 0 -a -s "$T/list.all"
grep -vE "$internal" "$T/list.all" > "$T/list"
check "no entry is stored with a leading /" bash -c '! grep -q "^/" "$1"' _ "$T/list"
prefix=${SRC#/}
check "entries are stored as ${prefix}/..." awk -v p="$prefix" 'index($0, p) != 1 { bad = 1 } END { exit bad }' "$T/list"
check "the source directory itself is an entry" grep -qxE "${prefix}/?" "$T/list"
nentries=$(wc -l < "$T/list")
check "backups -l counts the same $nentries entries" bash -c '"$1" backups -l rt | grep -q " $2 entries$"' _ "$CTL" "$nentries"
check "the FIFO is stored as a FIFO" bash -c 'LC_ALL=$2 bsdtar -tvf "$1" 2>/dev/null | grep -E "/fifo$" | grep -q "^p"' _ "$A" "$UTF8"
check "hard links are stored as links, not copies" bash -c 'LC_ALL=$2 bsdtar -tvf "$1" 2>/dev/null | grep -c " link to " | grep -qx 2' _ "$A" "$UTF8"

# restricted pax: a plain ustar header where ustar can say it all; an
# extended header only for what it cannot (here: a sparse map)
check "an ordinary file has no pax extended header, a sparse file has one" python3 - "$A" "$prefix" <<'PY'
import sys, tarfile
members = {m.name.rstrip("/"): m for m in tarfile.open(sys.argv[1])}
p = sys.argv[2]
sys.exit(0 if members[p + "/text.txt"].pax_headers == {} and "GNU.sparse.major" in members[p + "/sparse"].pax_headers else 1)
PY

X1=$T/x-bsdtar
mkdir -p "$X1"
LC_ALL=$UTF8 bsdtar -x --numeric-owner -p -f "$A" -C "$X1" 2> "$T/x1.err"
check "bsdtar extracts without error" test $? -eq 0
# another tar gets whole seconds; the extended headers of sparse files and
# long names carry exact times, the rest are exact only through the manifest
MTIME_FORMAT=%Ts
compare_trees "bsdtar extraction equals the source (content, modes, owners, mtimes to the second, symlinks, hard links)" "$SRC" "$X1/$prefix"

X2=$T/x-gnutar
mkdir -p "$X2"
LC_ALL=$UTF8 tar -x --numeric-owner --same-permissions -f "$A" -C "$X2" 2> "$T/x2.err"
rc=$?
if [ $rc -eq 0 ]; then ok "GNU tar extracts without error"; else fail "GNU tar extracts without error"; sed 's/^/#   /' "$T/x2.err"; fi
compare_trees "GNU tar extraction equals the source (content, modes, owners, mtimes to the second, symlinks, hard links)" "$SRC" "$X2/$prefix"
MTIME_FORMAT=%T@

X3=$T/x-alexandria
LC_ALL=$UTF8 "$CTL" restore rt --to "$X3" > "$T/x3.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "alexandria-ctl restore exits 0"; else fail "alexandria-ctl restore exits 0 (got $rc)"; sed 's/^/#   /' "$T/x3.out"; fi
compare_trees "alexandria-ctl restore equals the source (content, modes, owners, mtimes to the nanosecond, symlinks, hard links)" "$SRC" "$X3/$prefix"
# The same tree by a FullEvery= schedule: its full run walks each
# directory sorted, reading ahead just the same.
t_schedule rt-sorted "Source=$SRC" "Destination=$T/dest-sorted" "FullEvery=7d"
LC_ALL=$UTF8 "$BACKUP" rt-sorted > "$T/sorted.out" 2>&1
check "the FullEvery= schedule's full run exits 0" test $? -eq 0
X4=$T/x-sorted
mkdir -p "$X4"
LC_ALL=$UTF8 "$CTL" restore rt-sorted --to "$X4" > "$T/x4.out" 2>&1
check "alexandria-ctl restore of the FullEvery= full exits 0" test $? -eq 0
compare_trees "the FullEvery= full restores equal to the source" "$SRC" "$X4/$prefix"
check "restore brings back a file's ACL" bash -c '[ "$(cd "$1" && getfacl -c with-acl)" = "$(cd "$2" && getfacl -c with-acl)" ] && getfacl -c "$2/with-acl" | grep -qx "user:1234:r--"' _ "$SRC" "$X3/$prefix"
check "restore brings back a file's extended attribute" test "$(getfattr --only-values -n user.colour "$X3/$prefix/with-xattr" 2>/dev/null)" = blue
rm -rf "$X3"

for X in "$X1" "$X2"; do
        tool=${X##*x-}
        d=$X/$prefix
        check "$tool: hard links share one inode" test "$(stat -c %i "$d/links/a/first" 2>/dev/null)" = "$(stat -c %i "$d/links/a/second" 2>/dev/null)" \
                -a "$(stat -c %i "$d/links/a/first" 2>/dev/null)" = "$(stat -c %i "$d/links/b/third" 2>/dev/null)" \
                -a "$(stat -c %h "$d/links/a/first" 2>/dev/null)" = 3
        check "$tool: symlink targets kept" test "$(readlink "$d/links/relative")" = ../text.txt \
                -a "$(readlink "$d/links/absolute")" = "$SRC/text.txt" -a "$(readlink "$d/links/dangling")" = /nonexistent/target
        check "$tool: the FIFO is a FIFO" test -p "$d/fifo"
        check "$tool: the empty directory is there and empty" bash -c 'test -d "$1" && test -z "$(ls -A "$1")"' _ "$d/empty-dir"
        check "$tool: non-UTF-8 names kept byte for byte" cmp -s "$SRC/"$'\xff\xfe.bin' "$d/"$'\xff\xfe.bin'
        check "$tool: 200-character name and deep path kept" bash -c 'cmp -s "$1/$3" "$2/$3" && cmp -s "$1/$4" "$2/$4"' _ \
                "$SRC" "$d" "$long_name" "$deep/$(printf 'd%.0s' $(seq 1 120))"
        check "$tool: sparse file content equal" cmp -s "$SRC/sparse" "$d/sparse"
        check "$tool: sparse file size 1 GiB" test "$(stat -c %s "$d/sparse" 2>/dev/null)" = 1073741824
        check "$tool: sparse file extracted sparse" test "$(stat -c %b "$d/sparse" 2>/dev/null || echo 999999)" -lt 2048
done
rm -rf "$X1" "$X2"

# ---- every compression ----
SMALL=$T/src/small
mkdir -p "$SMALL/sub"
head -c 50000 /dev/urandom > "$SMALL/random"
seq 1 20000 > "$SMALL/sub/numbers"
printf 'utf-8 name\n' > "$SMALL/sub/ünï"
printf 'latin-1 name\n' > "$SMALL/sub/"$'\xe9t\xe9'
ln -s ../random "$SMALL/sub/link"
touch -h -d @1200000000.5 "$SMALL/sub/numbers" "$SMALL/sub/link" "$SMALL/sub"

declare -A suffix=([zstd]=.tar.zst [xz]=.tar.xz [none]=.tar)
declare -A magic=([zstd]=28b52ffd [xz]=fd377a585a00)
for c in zstd xz none; do
        t_schedule "rt-$c" "Source=$SMALL" "Destination=$T/dest-$c" "Compression=$c"
        timeout 60 "$BACKUP" "rt-$c" 2> "$T/err-$c"
        rc=$?
        if [ $rc -eq 0 ]; then ok "Compression=$c: worker exits 0"; else fail "Compression=$c: worker exits 0 (got $rc)"; sed 's/^/#   /' "$T/err-$c"; fi
        a=$("$CTL" backups "rt-$c")
        check "Compression=$c: archive name ends in ${suffix[$c]}" \
                bash -c '[[ $(basename "$1") =~ ^rt-$2-[0-9]{8}T[0-9]{6}Z${3//./\\.}$ ]]' _ "$a" "$c" "${suffix[$c]}"
        if [ "$c" = none ]; then
                check "Compression=none: a plain ustar/pax file" test "$(dd if="$a" bs=1 skip=257 count=5 status=none 2>/dev/null)" = ustar
        else
                n=$((${#magic[$c]} / 2))
                check "Compression=$c: file starts with the $c magic" test "$(head -c $n "$a" | od -An -tx1 | tr -d ' \n')" = "${magic[$c]}"
        fi
        check "Compression=$c: mode 0600" test "$(stat -c %a "$a")" = 600
        n=$(bsdtar -tf "$a" 2>/dev/null | grep -vcE "$internal")
        check "Compression=$c: backups -l reads all $n entries" bash -c '"$1" backups -l "$2" | grep -q " $3 entries$"' _ "$CTL" "rt-$c" "$n"
        x=$T/x-$c
        mkdir -p "$x"
        bsdtar -x --numeric-owner -p -f "$a" -C "$x"
        check "Compression=$c: bsdtar extracts" test $? -eq 0
        MTIME_FORMAT=%Ts compare_trees "Compression=$c: bsdtar extraction equals the source" "$SMALL" "$x/${SMALL#/}"
        rm -rf "$x"
        mkdir -p "$x"
        tar -x --numeric-owner --same-permissions -f "$a" -C "$x" 2>/dev/null
        check "Compression=$c: GNU tar extracts" test $? -eq 0
        MTIME_FORMAT=%Ts compare_trees "Compression=$c: GNU tar extraction equals the source" "$SMALL" "$x/${SMALL#/}"
        rm -rf "$x"
done
