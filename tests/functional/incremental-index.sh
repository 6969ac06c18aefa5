#!/bin/bash
# An incremental run builds on the index only when it describes the newest
# restore point of this schedule and these sources: damaged, truncated,
# deleted, another schedule's, an older one, one for other sources, or one
# whose newest archive is gone each make the run full and say why; the run
# after it is incremental again. A full is due FullEvery= after the last.
# Whatever the run, the newest restore point restores to the source.
source "$(dirname "$0")/lib.sh"
t_setup

# fake_clock TIME COMMAND...: COMMAND with its clock moved by libfaketime
# (LD_PRELOAD), which comes before the sanitizers' runtime in an ASan build
fake_clock() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 faketime -f "$@"; }
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
INDEX=$DEST/.alexandria-ix.index
mkdir -p "$SRC/a/b" "$DEST"
seq 1 5000 > "$SRC/a/numbers"
printf 'one\n' > "$SRC/a/b/one"
head -c 30000 /dev/urandom > "$SRC/random"

t_schedule ix "Source=$SRC" "Destination=$DEST" "FullEvery=7d"

# run NAME [faketime offset]: one backup; $ARCHIVE and $PLAN say what it did
run() { t_backup "$1" ${2:+fake_clock "$2"}; }

# restores_source: the newest restore point of ix is the source, byte for byte
restores_source() {
        rm -rf "$T/r"
        "$CTL" restore ix --to "$T/r" > /dev/null 2>&1 && diff -r "$SRC" "$T/r/${SRC#/}" > /dev/null
}

# expect_full WHY: the run just made is full, for that reason
expect_full() {
        if [[ $(basename "$ARCHIVE") != *.incr.* ]] && grep -q "^full: $1" <<<"$PLAN"; then
                ok "a run is full: $1"
        else
                fail "a run is full: $1 (wrote $(basename "$ARCHIVE"): $PLAN)"
        fi
        check "... and restores to the source" restores_source
        printf 'after %s\n' "$1" >> "$SRC/a/b/one"
        run ix
        check "... and the run after it is incremental again" grep -q '\.incr\.' <<<"$ARCHIVE"
        check "... restoring to the source" restores_source
}

# what a run killed while writing the index on a file system without
# O_TMPFILE leaves behind; the next run, under the lock, removes it
stale=$DEST/.#.alexandria-ix.index.0123456789abcdef
mkdir -p "$DEST" && echo partial > "$stale"
run ix
first=$ARCHIVE
check "a stale temporary index is removed" test ! -e "$stale"
run ix
check "the second run is incremental" grep -q '^incremental: on top of' <<<"$PLAN"
check "the index is private" test "$(stat -c %a "$INDEX")" = 600
cp "$INDEX" "$T/old-index"

size=$(stat -c %s "$INDEX")
printf '\x5a' | dd of="$INDEX" bs=1 seek=$((size / 2)) conv=notrunc status=none
run ix
expect_full "the index $INDEX is damaged (its checksum does not match its contents)"

truncate -s $(($(stat -c %s "$INDEX") - 3)) "$INDEX"
run ix
expect_full "the index $INDEX is damaged"

: > "$INDEX"
run ix
expect_full "the index $INDEX is damaged (truncated)"

rm "$INDEX"
run ix
expect_full "there is no index $INDEX of the newest restore point"

# an index of an earlier restore point of the same schedule
cp "$T/old-index" "$INDEX"
run ix
expect_full "the index describes .*, but the newest archive in $DEST is"

# another schedule's index, of the same sources into the same destination
t_schedule other "Source=$SRC" "Destination=$DEST" "FullEvery=7d"
run other
cp "$DEST/.alexandria-other.index" "$INDEX"
run ix
expect_full "the index $INDEX belongs to schedule 'other'"
rm "$DEST"/other-*

# the newest archive deleted by hand
run ix
rm "$ARCHIVE"
run ix
expect_full "the index describes .*, but the newest archive in $DEST is"

# other sources
mkdir -p "$T/src2" && echo two > "$T/src2/two"
t_schedule ix "Source=$SRC" "Source=$T/src2" "Destination=$DEST" "FullEvery=7d"
run ix
expect_full "the index $INDEX was made for other sources (Source= changed)"
t_schedule ix "Source=$SRC" "Destination=$DEST" "FullEvery=7d"
run ix
check "and back: full again" grep -q "^full: the index $INDEX was made for other sources" <<<"$PLAN"

# Without FullEvery= every run is full and no index is kept.
t_schedule ix "Source=$SRC" "Destination=$DEST"
run ix
check "without FullEvery= the run is full" test -z "$PLAN" -a "${ARCHIVE%.incr.*}" = "$ARCHIVE"
check "... and the index is gone" test ! -e "$INDEX"
t_schedule ix "Source=$SRC" "Destination=$DEST" "FullEvery=7d"
run ix
expect_full "there is no index"

# FullEvery=7d: a full once the newest full is a week old (the clock moved
# on with faketime), incremental the day after.
run ix "+6d"
check "six days after the full: incremental" grep -q '^incremental: ' <<<"$PLAN"
run ix "+8d"
check "eight days after the full: full" grep -q "^full: the newest full archive, .*, is 8d .* old (FullEvery=7d)" <<<"$PLAN"
check "... named as a full" test "${ARCHIVE%.incr.*}" = "$ARCHIVE"
full=$(basename "$ARCHIVE")
run ix "+9d"
check "a day after that: incremental on the new full" grep -q "^incremental: on top of $full" <<<"$PLAN"
check "... restoring to the source" restores_source

# Without root, a chain whose directories are read-only still restores:
# each is opened up while a later member writes into it, and gets its mode
# back. (As root only: the restore runs as nobody.)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
        mkdir -p "$T/ro-src/ro/sub" && echo a > "$T/ro-src/ro/sub/a" && echo b > "$T/ro-src/ro/b"
        chmod 0555 "$T/ro-src/ro/sub" "$T/ro-src/ro"
        t_schedule ro "Source=$T/ro-src" "Destination=$T/ro-dest" "FullEvery=7d"
        run ro
        chmod 0755 "$T/ro-src/ro" "$T/ro-src/ro/sub"
        echo c > "$T/ro-src/ro/sub/c" && rm "$T/ro-src/ro/b"
        chmod 0555 "$T/ro-src/ro/sub" "$T/ro-src/ro"
        run ro
        # nobody's configuration directory: trusted only if it is nobody's own
        chmod -R a+rX "$T/ro-dest" && chmod a+x "$T" && mkdir -m 0755 "$T/nobody" && chown 65534:65534 "$T/nobody"
        setpriv --reuid 65534 --regid 65534 --clear-groups env HOME="$T/nobody" \
                "$CTL" --user --config-dir "$T/nobody" restore ro "$ARCHIVE" --to "$T/nobody/r" > "$T/out" 2>&1
        check "a chain with read-only directories restores without root" test $? -eq 0
        check "... to the tree it was" diff -r "$T/ro-src" "$T/nobody/r/${T#/}/ro-src"
        check "... with the directories read-only again" test "$(stat -c %a "$T/nobody/r/${T#/}/ro-src/ro/sub")" = 555
        chmod -R u+w "$T/nobody/r" "$T/ro-src"
fi

# ShrinkWarn= looks at the restore point an incremental run makes, not at
# the little it stores: an unchanged run is no warning, a source emptied
# (a disk that did not mount) is one.
mkdir -p "$T/sh-src" && for i in $(seq 1 40); do echo "file $i" > "$T/sh-src/f$i"; done
t_schedule sh "Source=$T/sh-src" "Destination=$T/sh-dest" "FullEvery=7d"
run sh
run sh
check "an unchanged incremental run is no shrink warning" grep -q '^incremental: ' <<<"$PLAN"
rm "$T"/sh-src/f*
"$BACKUP" sh > /dev/null 2> "$T/out"
check "an incremental run of an emptied source exits 3" test $? -eq 3
check "... saying it read far less than usual" grep -q "read far less than usual" "$T/out"
