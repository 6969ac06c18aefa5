#!/bin/bash
# Every run leaves one record (record.h) that says what happened, and the
# readers take it from there instead of reconstructing it.
source "$(dirname "$0")/lib.sh"
t_setup
mkdir -p "$T/src/d"; echo one > "$T/src/a"; echo two > "$T/src/d/b"
t_schedule rec "Source=$T/src" "Destination=$T/dest"
R=$ALEXANDRIA_STATE_DIR/runs/rec
newest() { ls "$R"/*.run 2>/dev/null | tail -n1; }
field() { sed -n "s/^$1=//p" "$(newest)"; }

"$BACKUP" rec 2>/dev/null; check_rc=$?
check "a good run exits 0" test "$check_rc" -eq 0
check "it left one record" test "$(ls "$R" | wc -l)" -eq 1
check "the record says succeeded, exit 0" test "$(field RESULT)/$(field EXIT_STATUS)" = succeeded/0
archive=$("$CTL" backups rec)
check "the record names the archive written" test "$(field ARCHIVE)" = "$archive"
check "the record counts the entries the archive holds" test "$(field FILES)" -eq "$(tar -tzf "$archive" | grep -vc '^.alexandria-manifest')"
check "the record counts the bytes read" test "$(field BYTES_READ)" -eq 8
check "the record is private" test "$(stat -c %a "$(newest)")" = 600
check "the record's size is the archive's" test "$(field ARCHIVE_BYTES)" -eq "$(stat -c %s "$archive")"

# backups -l takes the entry count from the record: it need not read the archive
n=$(field FILES)
cp "$archive" "$T/saved"; : > "$archive"
check "backups -l counts from the record, not by reading the archive" \
        bash -c '"$1" backups -l rec | grep -q " $2 entries$"' _ "$CTL" "$n"
cp "$T/saved" "$archive"

rm -rf "$T/src"
"$BACKUP" rec 2>/dev/null; check_rc=$?
check "a run with a missing source exits 1" test "$check_rc" -eq 1
check "its record says failed, exit 1" test "$(field RESULT)/$(field EXIT_STATUS)" = failed/1
grep -q "^ERROR=Source $T/src: No such file or directory$" "$(newest)" && ok "its record says why" || fail "ERROR: $(field ERROR)"
check "a failed run names no archive" test -z "$(field ARCHIVE)"

mkdir -p "$T/src/d"; echo one > "$T/src/a"; echo two > "$T/src/d/b"
"$CTL" run --here rec 2>/dev/null
check "run --here records its run too" test "$(field RESULT)" = succeeded
check "three runs, three records" test "$(ls "$R" | wc -l)" -eq 3

# bad input changes nothing: a broken schedule is refused before any record
printf '[Backup]\nSource=%s\nBogus=1\n' "$T/src" > "$ALEXANDRIA_CONFIG_DIR/schedules.d/broken.conf"
"$BACKUP" broken 2>/dev/null; check_rc=$?
check "a broken schedule exits 2" test "$check_rc" -eq 2
check "and leaves no record" test ! -e "$ALEXANDRIA_STATE_DIR/runs/broken"

# Warnings: every one counted, the first 20 (REPORT_WARNINGS_KEPT) kept with
# their paths. /proc files say 0 bytes and hold text: each is a warning.
sources=()
for f in /proc/self/*; do
        [ -f "$f" ] && [ -r "$f" ] && [ "$(head -c 1 "$f" 2>/dev/null | wc -c)" = 1 ] && sources+=("Source=$f")
done
if [ "${#sources[@]}" -gt 25 ]; then
        t_schedule many "${sources[@]}" "Destination=$T/dest-many"
        "$BACKUP" many >/dev/null 2>&1; check_rc=$?
        M=$ALEXANDRIA_STATE_DIR/runs/many
        rec=$(ls "$M"/*.run | tail -n1)
        check "a run with file warnings exits 3" test "$check_rc" -eq 3
        warned=$(sed -n 's/^WARNINGS=//p' "$rec")
        check "the record counts all of them (${warned:-none} > 20)" test "${warned:-0}" -gt 20
        check "and keeps exactly 20 messages" test "$(grep -c '^WARNING=' "$rec")" -eq 20
        check "each kept message names its /proc file and what happened" \
                bash -c '! grep "^WARNING=" "$1" | grep -qv "^WARNING=/proc/self/[a-z_0-9]*: reports a size of 0 bytes but has content"' _ "$rec"
else
        echo "ok - # SKIP fewer than 26 readable /proc/self files with content"
fi
