#!/bin/bash
# The backup that shrinks: far less than the runs before it is a warning
# (exit 3) that names both figures, prunes nothing, shows in status until a
# normal run; an emptied source always warns. history shows every run.
source "$(dirname "$0")/lib.sh"
t_setup
mkdir -p "$T/src"
for i in $(seq 1 100); do echo "file $i with some content" > "$T/src/f$i"; done
t_schedule sh "Source=$T/src" "Destination=$T/dest" "Keep=2"
run() { "$BACKUP" "$1" 2>"$T/err"; }
status() { "$CTL" --no-reload status "$1"; }

for i in 1 2 3; do run sh; done; rc=$?
check "normal runs exit 0" test "$rc" -eq 0
check "Keep=2 kept two" test "$("$CTL" backups sh | wc -l)" -eq 2

for i in $(seq 1 90); do rm "$T/src/f$i"; done   # 90 of 100 files go
before=$("$CTL" backups sh)
run sh; rc=$?
check_eq "a run that lost 90% of its files exits 3" 3 "$rc"
grep -q "far less than usual: 11 files, .* read; usually 101 files" "$T/err" && ok "it says both figures" || fail "stderr: $(cat "$T/err")"
after=$("$CTL" backups sh)
check "it pruned nothing (the usual archives stay)" test "$(grep -c . <<<"$after")" -eq 3
grep -qF "$before" <<<"$after" && ok "the older archives are still there" || fail "archives: $after"
st=$(status sh); rc=$?
grep -q "^sh.* SHRUNK" <<<"$st" && ok "status flags SHRUNK" || fail "status: $st"
grep -q "Shrunk: the last run read far less than usual: 11 files" <<<"$st" && ok "status says how far" || fail "status: $st"
check_eq "status exits 1 while the schedule has shrunk" 1 "$rc"
grep -q "^    Trend (last [0-9]* runs): sizes .*; durations " <<<"$st" && ok "status ends with a trend line" || fail "status: $st"
# on a terminal the trend is drawn: 4 runs with an archive, 4 bars each (the last one the smallest size)
tty_st=$(script -qec "$(printf '%q ' "$CTL" --no-reload status sh)" /dev/null | tr -d '\r')
grep -qE "^    Trend \(last 4 runs\): size [▁▂▃▄▅▆▇█]{3}▁ [0-9.]+ [KMG]?i?B, duration [▁▂▃▄▅▆▇█]{4} " <<<"$tty_st" \
        && ok "on a terminal the trend is a sparkline" || fail "status on a terminal: $tty_st"

# the same level again is the new usual only after more runs; a normal run clears SHRUNK
for i in $(seq 1 90); do echo "file $i with some content" > "$T/src/g$i"; done
run sh; rc=$?
check_eq "back to normal: exit 0" 0 "$rc"
st=$(status sh)
grep -q "SHRUNK" <<<"$st" && fail "SHRUNK stays after a normal run: $st" || ok "a normal run clears SHRUNK"

# empty is always a warning, even with ShrinkWarn=no
t_schedule off "Source=$T/src2" "Destination=$T/dest2" "ShrinkWarn=no"
mkdir -p "$T/src2"; echo data > "$T/src2/a"
run off; run off
rm "$T/src2/a"; : > "$T/src2/empty"
run off; rc=$?
check_eq "an emptied source warns even with ShrinkWarn=no" 3 "$rc"
grep -q "far less than usual: 2 files, 0 B read; usually 2 files, 5 B" "$T/err" && ok "and says so" || fail "stderr: $(cat "$T/err")"
echo back > "$T/src2/a"
for i in 1 2; do run off; done
rm "$T/src2/a"; echo x > "$T/src2/tiny"
run off; rc=$?
check_eq "with ShrinkWarn=no, less data (but some) is no warning" 0 "$rc"

# a source of empty files (markers, locks, a maildir's flags) reads no data
# even when it is whole: emptied, it is still a warning with ShrinkWarn=no
t_schedule marks "Source=$T/src4" "Destination=$T/dest4" "ShrinkWarn=no"
mkdir -p "$T/src4/sub"; for i in 1 2 3 4 5; do : > "$T/src4/sub/m$i"; done
run marks; run marks; rc=$?
check_eq "a source of empty files backs up without a warning" 0 "$rc"
rm "$T/src4/sub/m"*
run marks; rc=$?
check_eq "emptied of its empty files, it warns even with ShrinkWarn=no" 3 "$rc"
grep -q "far less than usual: 2 files, 0 B read; usually 7 files, 0 B" "$T/err" && ok "and says so" || fail "stderr: $(cat "$T/err")"
: > "$T/src4/sub/m1"
run marks; rc=$?
check_eq "one empty file back: no warning with ShrinkWarn=no" 0 "$rc"
# the same with FullEvery=: the unchanged empty files are in the restore point
t_schedule marksinc "Source=$T/src5" "Destination=$T/dest5" "ShrinkWarn=no" "FullEvery=7d"
mkdir -p "$T/src5"; for i in 1 2 3; do : > "$T/src5/m$i"; done
# past the second in which they were made: else their times cannot prove
# them unchanged, and the incremental run stores them again
sleep 1.2
run marksinc; run marksinc; rc=$?
check_eq "FullEvery=: an unchanged incremental run of empty files exits 0" 0 "$rc"
last_record() { ls "$ALEXANDRIA_STATE_DIR/runs/$1/"*.run | tail -1; }
check "... and was incremental, storing none of them" \
        sh -c 'grep -qx KIND=incremental "$1" && ! tar -tzf "$2" | grep -q "src5/m"' _ "$(last_record marksinc)" "$("$CTL" backups marksinc | tail -1)"
check "... its restore point still counts the three" grep -qx SOURCE_FILES=3 "$(last_record marksinc)"
rm "$T/src5/m1"
run marksinc; rc=$?
check_eq "FullEvery=: one of three gone, two unchanged: no warning" 0 "$rc"
rm "$T/src5/m"*
run marksinc; rc=$?
check_eq "FullEvery=: emptied of its empty files, it warns" 3 "$rc"

# what the sources give is compared, not the dumps beside them: a skeleton
# of directories that loses one is no emptied source
t_schedule skel "Source=$T/src6" "Destination=$T/dest6" "ShrinkWarn=no" "Dump=db.sql /bin/echo hello"
mkdir -p "$T/src6/a" "$T/src6/b"
run skel; run skel; rc=$?
check_eq "directories and a dump: exit 0" 0 "$rc"
rmdir "$T/src6/b"
run skel; rc=$?
check_eq "a directory fewer beside a dump is no warning with ShrinkWarn=no" 0 "$rc"
echo data > "$T/src6/a/file"
for i in 1 2 3 4; do run skel; done; rm "$T/src6/a/file"
run skel; rc=$?
check_eq "but the sources' only file gone beside a dump is an emptied source" 3 "$rc"

# one source of several emptied barely moves the totals: each source is
# compared with its own usual, whatever ShrinkWarn= says
t_schedule multi "Source=$T/src8a" "Source=$T/src8 b" "Destination=$T/dest8" "ShrinkWarn=no"
mkdir -p "$T/src8a" "$T/src8 b/sub"
for i in $(seq 1 50); do echo "big source $i" > "$T/src8a/f$i"; done
echo small > "$T/src8 b/sub/one"; echo small > "$T/src8 b/two"
run multi; run multi; rc=$?
check_eq "two sources: exit 0" 0 "$rc"
grep -qxF "SOURCE=2 $T/src8 b" "$(last_record multi)" && ok "the record counts each source" \
        || fail "record: $(cat "$(last_record multi)")"
rm "$T/src8 b/sub/one" "$T/src8 b/two"
run multi; rc=$?
check_eq "one source of two emptied warns, even with ShrinkWarn=no" 3 "$rc"
grep -qF "53 files, 691 B read; usually 55 files, 703 B; no files from $T/src8 b, usually 2" "$T/err" \
        && ok "and names the emptied source" || fail "stderr: $(cat "$T/err")"
grep -q "^multi.* SHRUNK" <<<"$(status multi)" && ok "status flags it SHRUNK" || fail "status: $(status multi)"
echo back > "$T/src8 b/two"
run multi; rc=$?
check_eq "the source filled again: exit 0" 0 "$rc"
# a source added later has no usual yet: empty, it is no warning
mkdir -p "$T/src8c"
t_schedule multi "Source=$T/src8a" "Source=$T/src8 b" "Source=$T/src8c" "Destination=$T/dest8" "ShrinkWarn=no"
run multi; rc=$?
check_eq "a new, empty source is no warning" 0 "$rc"

# FullEvery=: every archive holds the dumps, so every restore point does; an
# incremental run beside a big dump has not shrunk against the full before it
t_schedule dumpinc "Source=$T/src7" "Destination=$T/dest7" "FullEvery=7d" "Dump=big.bin /usr/bin/head -c 100000 /dev/zero"
mkdir -p "$T/src7"; echo small > "$T/src7/f"
run dumpinc; run dumpinc; rc=$?
check_eq "FullEvery= with a dump: the incremental run exits 0" 0 "$rc"
check "... its restore point holds the dump's bytes" grep -qx POINT_BYTES=100006 "$(last_record dumpinc)"

# ShrinkWarn=30%: 40% fewer bytes warns
t_schedule pct "Source=$T/src3" "Destination=$T/dest3" "ShrinkWarn=30%"
mkdir -p "$T/src3"; head -c 1000 /dev/zero > "$T/src3/a"
run pct; run pct
head -c 600 /dev/zero > "$T/src3/a"
run pct; rc=$?
check_eq "ShrinkWarn=30%: 40% fewer bytes is a warning" 3 "$rc"

# bad values are refused, naming file, line and key
for v in 0 100 150% -5 abc 50%% '' yes; do
        t_schedule bad "Source=$T/src" "Destination=$T/destbad" "ShrinkWarn=$v"
        "$BACKUP" bad 2>"$T/err"; rc=$?
        check_eq "ShrinkWarn=$v is refused (exit 2)" 2 "$rc"
        grep -q "bad.conf:6: ShrinkWarn=" "$T/err" && ok "ShrinkWarn=$v: the message names file, line and key" || fail "stderr: $(cat "$T/err")"
done
rm -f "$ALEXANDRIA_CONFIG_DIR/schedules.d/bad.conf"
"$CTL" --no-reload create bad2 --on-calendar daily --source "$T/src" --dest "$T/dest4" >/dev/null 2>&1
check "create writes no ShrinkWarn= line for the default" bash -c '! grep -q ShrinkWarn "$1"' _ "$ALEXANDRIA_CONFIG_DIR/schedules.d/bad2.conf"

# history: one line per run, and JSON for scripts
h=$("$CTL" history sh)
check "history has one line per run" test "$(grep -c . <<<"$h")" -eq 5
grep -q "warnings .* shrunk: 11 files" <<<"$h" && ok "history shows the shrunk run" || fail "history: $h"
"$CTL" history --json sh | python3 -c '
import json, sys
runs = json.load(sys.stdin)
assert len(runs) == 5, runs
assert [r["result"] for r in runs] == ["succeeded"] * 3 + ["warnings", "succeeded"], runs
assert runs[3]["shrunk"].startswith("11 files"), runs[3]
assert all(r["files"] > 0 and r["archive"] for r in runs)
' && ok "history --json is one array with every run" || fail "history --json"
"$CTL" history nosuch > "$T/out"; rc=$?
check_eq "history of a schedule without runs exits 0" 0 "$rc"
grep -q "No runs of nosuch recorded" "$T/out" && ok "and says so" || fail "$(cat "$T/out")"
"$CTL" history 'bad/name' 2>/dev/null; rc=$?
check_eq "history of an invalid name exits 2" 2 "$rc"

# offsite: a run that shrank prunes nothing on the CopyTo= targets either
# (the good archives must not go offsite first); the next normal run does
mkdir -p "$T/src5" "$T/remote5"
for i in $(seq 1 20); do echo "file $i" > "$T/src5/f$i"; done
t_schedule off5 "Source=$T/src5" "Destination=$T/dest5" "Keep=2" "CopyTo=rclone::local:$T/remote5"
remote_count() { find "$T/remote5" -maxdepth 1 -name 'off5-*.tar.gz' | wc -l; }
for i in 1 2 3; do run off5; done
check_eq "three runs: the target holds Keep=2 archives" 2 "$(remote_count)"
rm "$T/src5"/f1?                               # 10 of the 20 files go
run off5; rc=$?
check_eq "the run that shrank exits 3" 3 "$rc"
check_eq "the target deleted nothing (3 archives there)" 3 "$(remote_count)"
check_eq "the destination deleted nothing either" 3 "$("$CTL" backups off5 | wc -l)"
for i in $(seq 10 19); do echo "file $i" > "$T/src5/f$i"; done
run off5; rc=$?
check_eq "a normal run again exits 0" 0 "$rc"
check_eq "and prunes the target back to Keep=2" 2 "$(remote_count)"
