#!/bin/bash
# Incremental runs (FullEvery=) and their chains: every operation on a tree
# (changes of data, mode, owner, times, xattrs; new files, deletions,
# renames, a file replaced by a directory and back, hard links made and
# broken, symlinks retargeted, whole trees removed) is one run, and every
# restore point is restored and compared with a snapshot of the source
# taken when it was made. GNU tar lists every archive; verify checks whole
# chains and names the bad member.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
mkdir -p "$SRC" "$DEST" "$T/snap"
ROOT=$(id -u)

# snap DIR: every entry below DIR (and DIR itself) with type, mode, owner,
# size, times in ns, content hash, symlink target, xattrs, and which entries
# are hard links of one another.
snap() {
        python3 - "$1" <<'EOF'
import hashlib, os, stat, sys
top = sys.argv[1]
first = {}
out = []
def walk(p, rel):
    st = os.lstat(p)
    t = stat.S_IFMT(st.st_mode)
    line = [rel, "%o" % st.st_mode, str(st.st_uid), str(st.st_gid)]
    if stat.S_ISLNK(st.st_mode):
        line += ["->" + os.readlink(p), str(st.st_mtime_ns)]
    else:
        line.append(str(st.st_mtime_ns))
    if stat.S_ISREG(st.st_mode):
        with open(p, "rb") as f:
            line += [str(st.st_size), hashlib.sha256(f.read()).hexdigest()]
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            line.append("link=" + first.setdefault(key, rel))
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        line.append("dev=%d" % st.st_rdev)
    if not stat.S_ISLNK(st.st_mode):
        xs = sorted(x for x in os.listxattr(p, follow_symlinks=False) if x.startswith("user."))
        line += ["%s=%s" % (x, os.getxattr(p, x, follow_symlinks=False).hex()) for x in xs]
    out.append(" ".join(line))
    if stat.S_ISDIR(st.st_mode):
        for n in sorted(os.listdir(p)):
            walk(os.path.join(p, n), rel + "/" + n)
walk(top, ".")
print("\n".join(out))
EOF
}

run() { t_backup "$1"; }

POINTS=()
# point DESCRIPTION: a run after the change just made; its snapshot is kept
point() {
        run inc || return 1
        local i=${#POINTS[@]}
        snap "$SRC" > "$T/snap/$i"
        POINTS+=("$ARCHIVE")
        echo "# point $i: $1 -> $(basename "$ARCHIVE") ($PLAN)"
}

# The tree: plain files, an empty one, a sparse one, modes, a FIFO, symlinks,
# hard links, xattrs, odd names, nested directories, times with nanoseconds.
mkdir -p "$SRC/docs/deep/er" "$SRC/bin" "$SRC/ro" "$SRC/swap"
seq 1 2000 > "$SRC/docs/numbers"
printf 'hello\n' > "$SRC/docs/hello"
: > "$SRC/docs/empty"
head -c 100000 /dev/urandom > "$SRC/docs/deep/er/random"
truncate -s 10M "$SRC/sparse" && printf 'middle' | dd of="$SRC/sparse" bs=1 seek=5000000 conv=notrunc status=none
printf '#!/bin/sh\necho hi\n' > "$SRC/bin/tool" && chmod 0755 "$SRC/bin/tool"
printf 'secret\n' > "$SRC/docs/secret" && chmod 0600 "$SRC/docs/secret"
printf 'read only\n' > "$SRC/ro/file" && chmod 0444 "$SRC/ro/file" && chmod 0555 "$SRC/ro"
mkfifo "$SRC/fifo"
ln -s docs/hello "$SRC/link"
ln -s /nonexistent/target "$SRC/dangling"
ln "$SRC/docs/numbers" "$SRC/numbers-link"
printf 'tab\tname\n' > "$SRC/docs/tab	name"
printf 'new\nline\n' > "$SRC/docs/new
line"
printf 'swap me\n' > "$SRC/swap/thing"
setfattr -n user.color -v blue "$SRC/docs/hello"
touch -d '2001-02-03 04:05:06.123456789' "$SRC/docs/numbers"
touch -h -d '2002-03-04 05:06:07.5' "$SRC/link"
touch -d '2003-04-05 06:07:08.25' "$SRC/docs/deep"
[ "$ROOT" = 0 ] && mknod "$SRC/null" c 1 3 && chown 12345:54321 "$SRC/docs/hello"

t_schedule inc "Source=$SRC" "Destination=$DEST" "Compression=zstd" "FullEvery=7d"

# A file changed less than a second before a run may change again within
# the same tick of the clock without its times showing it: the run after
# stores it once more. Here the tree has a second to settle, so that the
# second run finds nothing to store.
sleep 1.1
point "the first run"
check "the first run is full" test "${POINTS[0]}" = "$(ls -d "$DEST"/inc-*Z.tar.zst)"
check "... and says why" grep -q "^full: there is no full archive of inc" <<<"$PLAN"

point "nothing changed"
check "an unchanged run is incremental" grep -q '^inc-[0-9TZ]*\.incr\.tar\.zst$' <<<"$(basename "${POINTS[1]}")"
check "... says on what it builds" grep -q "^incremental: on top of $(basename "${POINTS[0]}")" <<<"$PLAN"
check "... holds only its header, its (empty) deletions and its manifest" test \
        "$(tar -tf "${POINTS[1]}" | sort | paste -sd' ')" = ".alexandria-deleted .alexandria-incremental .alexandria-manifest.sha256"
check "... and is tiny" test "$(stat -c %s "${POINTS[1]}")" -lt 1024
check "... GNU tar reads its header" grep -q "^base=$(basename "${POINTS[0]}")$" <<<"$(tar -xOf "${POINTS[1]}" .alexandria-incremental)"

# data, mode, owner, times, xattrs
printf 'HELLO\n' > "$SRC/docs/hello"                    # same size, new data
seq 1 10 >> "$SRC/docs/numbers"                         # grown (also through its hard link)
chmod 0640 "$SRC/bin/tool"
[ "$ROOT" = 0 ] && chown 4242:4343 "$SRC/docs/secret"
touch -d '1999-12-31 23:59:59.999999999' "$SRC/docs/empty"
setfattr -n user.color -v red "$SRC/docs/hello"
setfattr -n user.new -v x "$SRC/swap/thing"
printf 'brand new\n' > "$SRC/docs/deep/er/new"
mkdir "$SRC/newdir" "$SRC/newdir/empty"
point "changed data, mode, owner, times, xattrs; new files"

# deletions and renames
rm "$SRC/docs/tab	name"
mv "$SRC/docs/deep/er/random" "$SRC/docs/random-moved"
mv "$SRC/docs/deep" "$SRC/deep-moved"
point "a file deleted, a file and a directory renamed"

# a file replaced by a directory
rm "$SRC/swap/thing"
mkdir -p "$SRC/swap/thing/inner"
printf 'inside\n' > "$SRC/swap/thing/inner/file"
point "a file replaced by a directory"

# ... and back
rm -r "$SRC/swap/thing"
printf 'a file again\n' > "$SRC/swap/thing"
point "the directory replaced by a file again"

# hard links made and broken; a symlink retargeted, a file turned into a symlink
ln "$SRC/docs/hello" "$SRC/hello-link"
rm "$SRC/numbers-link"
mkdir "$SRC/links" && printf 'shared\n' > "$SRC/links/a" && ln "$SRC/links/a" "$SRC/links/b" && ln "$SRC/links/a" "$SRC/links/c"
rm "$SRC/link" && ln -s bin/tool "$SRC/link"
rm "$SRC/docs/secret" && ln -s hello "$SRC/docs/secret"
point "hard links made and broken, symlinks changed"

# the original name of a link set goes, another takes its place; a whole tree goes
rm "$SRC/links/a" && printf 'not linked\n' > "$SRC/links/a"
rm -r "$SRC/deep-moved" "$SRC/newdir"
point "a linked name replaced, whole trees deleted"

# only times (a restore of the earlier points must not have them), only a mode
touch -d '2010-10-10 10:10:10.101010101' "$SRC/docs/hello"
chmod 0700 "$SRC/docs/random-moved"
[ "$ROOT" = 0 ] && chown 777:888 "$SRC/swap"
point "times, a mode and a directory's owner only"

# the read-only directory gets a new file
chmod 0755 "$SRC/ro" && printf 'late\n' > "$SRC/ro/late" && chmod 0555 "$SRC/ro"
point "a file written into a read-only directory"

N=${#POINTS[@]}
for ((i = 1; i < N; i++)); do
        check "point $i is incremental" grep -q '\.incr\.tar\.zst$' <<<"${POINTS[$i]}"
done
for a in "${POINTS[@]}"; do
        check "GNU tar lists $(basename "$a")" tar -tf "$a" > /dev/null
done

# Every restore point, restored by name of its archive, is the tree it was.
rel=${SRC#/}
for ((i = 0; i < N; i++)); do
        out=$("$CTL" restore inc "$(basename "${POINTS[$i]}")" --to "$T/r$i" 2>&1)
        rc=$?
        check "restore of point $i exits 0" test $rc -eq 0
        [ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
        if diff <(cat "$T/snap/$i") <(snap "$T/r$i/$rel") > "$T/diff"; then
                ok "point $i restored is the tree it was"
        else
                fail "point $i restored is the tree it was"
                sed 's/^/#   /' "$T/diff" | head -20
        fi
        rm -rf "$T/r$i"
done

# --at TIME picks the restore point at that time, and restores its chain.
at=$(basename "${POINTS[4]}" | sed 's/^inc-\([0-9T]*Z\)\..*/\1/')
"$CTL" restore inc --at "$at" --to "$T/at" > /dev/null 2>&1
check "restore --at the stamp of point 4 restores point 4" diff "$T/snap/4" <(snap "$T/at/$rel")

# A PATH restores that part of the point, deletions included.
"$CTL" restore inc "$(basename "${POINTS[5]}")" --to "$T/part" "$SRC/swap" > "$T/out" 2>&1
check "restore of one PATH of point 5 exits 0" test $? -eq 0
check "... restores it as it was" diff <(grep '^\./swap' "$T/snap/5" | sed 's|^\./swap|.|') <(snap "$T/part/$rel/swap")
check "... and nothing else" test "$(ls "$T/part/$rel")" = swap
"$CTL" restore inc "$(basename "${POINTS[5]}")" --to "$T/part2" "$SRC/no/such/path" > "$T/out" 2>&1
check "a PATH in no archive of the chain exits 1" test $? -eq 1
check "... and says so" grep -q "No entry 'tmp/.*/src/no/such/path' in the restore point" "$T/out"

# A chain replaces files as it goes: not into a directory that holds others.
mkdir -p "$T/busy" && echo mine > "$T/busy/mine"
"$CTL" restore inc --to "$T/busy" > "$T/out" 2>&1
check "restoring a chain into a non-empty directory exits 2" test $? -eq 2
check "... says why" grep -q "is not empty" "$T/out"
check "... and touches nothing" test "$(ls "$T/busy")" = mine
"$CTL" restore inc --to "$T/busy" --overwrite > /dev/null 2>&1
check "... with --overwrite it restores the newest point" diff "$T/snap/$((N - 1))" <(snap "$T/busy/$rel")
check "... beside what was there" test "$(cat "$T/busy/mine")" = mine

# --list shows each member and what it deleted; --dry-run changes nothing.
"$CTL" restore inc "$(basename "${POINTS[3]}")" --list > "$T/list" 2>&1
check "--list of a chain names each member" test "$(grep -c '^# inc-' "$T/list")" -eq 4
check "--list shows the deletions" grep -q "^deleted $rel/docs/tab	name$" "$T/list"
"$CTL" restore inc --dry-run --to "$T/dry" > "$T/out" 2>&1
check "--dry-run of a chain exits 0" test $? -eq 0
check "--dry-run creates nothing" test ! -e "$T/dry"

# backups -l says what each archive is and depends on.
"$CTL" backups -l inc > "$T/bl"
check "backups -l: the full" grep -q "$(basename "${POINTS[0]}") .* full .* entries$" "$T/bl"
check "backups -l: the incrementals, on their full" test \
        "$(grep -c " incremental on $(basename "${POINTS[0]}") .* entries$" "$T/bl")" -eq $((N - 1))

# verify checks the whole chain of the newest point, and names a bad member.
"$CTL" verify inc > "$T/out" 2>&1
check "verify of the chain exits 0" test $? -eq 0
check "... checks every member" test "$(grep -c "^/.*: OK (" "$T/out")" -eq "$N"
check "... and says the chain is good" grep -q "^Chain of $(basename "${POINTS[$((N - 1))]}"): OK ($N archives" "$T/out"
bad=${POINTS[3]}
cp "$bad" "$T/saved"
size=$(stat -c %s "$bad")
printf '\xff' | dd of="$bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
"$CTL" verify inc > "$T/out" 2>&1
check "verify of a chain with a damaged member exits 1" test $? -eq 1
check "... says which member is bad" grep -q "^Chain of .*: BAD: $(basename "$bad") is bad" "$T/out"
check "... and that the others are good" test "$(grep -c ': OK (' "$T/out")" -eq $((N - 1))
cp "$T/saved" "$bad"
truncate -s $((size / 2)) "$bad"
"$CTL" restore inc --to "$T/broken" > "$T/out" 2>&1
check "restore through a truncated member exits 1" test $? -eq 1
check "... and names it" grep -q "$(basename "$bad")" "$T/out"
cp "$T/saved" "$bad"

# A member missing from the middle: the chain is broken, and says where.
mv "${POINTS[2]}" "$T/aside"
"$CTL" verify inc > "$T/out" 2>&1
check "verify of a chain with a missing member exits 1" test $? -eq 1
check "... says what the next member was built on" grep -q "it was built on $(basename "${POINTS[2]}"), which is missing" "$T/out"
"$CTL" restore inc --to "$T/gap" > "$T/out" 2>&1
check "restore of a chain with a missing member exits 1" test $? -eq 1
check "... and writes nothing" test ! -e "$T/gap"
run inc
check "a run after a member went missing is full" grep -q "^full: the chain the index describes .* is not what .* holds" <<<"$PLAN"
