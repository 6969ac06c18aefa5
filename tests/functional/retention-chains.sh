#!/bin/bash
# Calendar retention over months of nightly runs (their clock faked with
# faketime): KeepDaily= KeepWeekly= KeepMonthly= OR-ed, in local time with
# its daylight saving switch, ISO weeks; every kept restore point keeps its
# whole chain and restores to the tree it was; prune --dry-run says for
# every archive why it stays or that it goes, and changes nothing.
source "$(dirname "$0")/lib.sh"
t_setup

# fake_clock TIME COMMAND...: COMMAND with its clock moved by libfaketime
# (LD_PRELOAD), which comes before the sanitizers' runtime in an ASan build
fake_clock() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 faketime -f "$@"; }
export LC_ALL=C
# Berlin's rules without tzdata: DST from the last Sunday of March
export TZ=CET-1CEST,M3.5.0,M10.5.0/3

SRC=$T/src
DEST=$T/dest
mkdir -p "$SRC/d" "$DEST" "$T/snap"
seq 1 100 > "$SRC/d/base"

t_schedule ret "Source=$SRC" "Destination=$DEST" "Compression=none" "FullEvery=7d" \
        "KeepDaily=3" "KeepWeekly=2" "KeepMonthly=3"

# One run a night at 02:00 local, 2024-01-01 (a Monday) to 2024-04-10: a
# full every Monday, so each ISO week is one chain. Each night changes the
# tree; the nights whose points are kept are remembered.
keep_days="2024-02-29 2024-03-31 2024-04-07 2024-04-10"
failed_runs=0
for ((day = 0; day < 101; day++)); do
        date=$(date -d "2024-01-01 12:00 $day days" +%F)
        printf '%s\n' "$date" >> "$SRC/d/log"
        printf '%s\n' "$date" > "$SRC/d/today"
        [ $((day % 10)) = 3 ] && rm -f "$SRC/d/tenth-"* && printf 'x\n' > "$SRC/d/tenth-$day"
        if ! fake_clock "@$date 02:00:00" "$BACKUP" ret > /dev/null 2> "$T/err"; then
                failed_runs=$((failed_runs + 1))
                sed 's/^/#   /' "$T/err"
        fi
        if [[ " $keep_days " == *" $date "* ]]; then
                rm -rf "$T/snap/$date" && cp -a "$SRC" "$T/snap/$date"
        fi
done
check "101 nightly runs succeed" test "$failed_runs" -eq 0

# stamp DAY: the UTC stamp of that night's run (02:00 local; 03:00 on the
# night DST begins, when 02:00 does not exist)
stamp() {
        local utc
        utc=$(date -d "$1 02:00" +%s 2>/dev/null) || utc=$(date -d "$1 03:00" +%s)
        TZ=UTC date -d "@$utc" +%Y%m%dT%H%M
}
# The archives left after the last run's retention: the three newest days,
# the newest of this ISO week and the last, of this month and the two
# before it, and what their chains stand on.
expected=()
for d in 2024-02-26 2024-02-27 2024-02-28 2024-02-29 \
         2024-03-25 2024-03-26 2024-03-27 2024-03-28 2024-03-29 2024-03-30 2024-03-31 \
         2024-04-01 2024-04-02 2024-04-03 2024-04-04 2024-04-05 2024-04-06 2024-04-07 \
         2024-04-08 2024-04-09 2024-04-10; do
        expected+=("$(stamp "$d")")
done
got=$(cd "$DEST" && ls ret-* | sed 's/^ret-\([0-9]*T[0-9]\{4\}\).*/\1/')
check "retention kept exactly the points the rules name, with their chains" \
        test "$got" = "$(printf '%s\n' "${expected[@]}")"
[ "$got" = "$(printf '%s\n' "${expected[@]}")" ] || diff <(printf '%s\n' "${expected[@]}") <(echo "$got") | sed 's/^/#   /'
check "the Mondays are full" test "$(cd "$DEST" && ls ret-* | grep -v '\.incr\.' | sed 's/^ret-\([0-9]*T[0-9]\{4\}\).*/\1/' | paste -sd' ')" \
        = "$(stamp 2024-02-26) $(stamp 2024-03-25) $(stamp 2024-04-01) $(stamp 2024-04-08)"
check "2024-03-31, the night DST began, ran at 03:00 local" test -n "$(ls "$DEST"/ret-20240331T0100*Z.incr.tar 2>/dev/null)"

# Every kept point restores to the tree it was.
for d in $keep_days; do
        a=$(ls "$DEST"/ret-"$(stamp "$d")"*)
        rm -rf "$T/r"
        "$CTL" restore ret "$(basename "$a")" --to "$T/r" > /dev/null 2>&1
        check "the point of $d restores to the tree it was" diff -r "$T/snap/$d" "$T/r/${SRC#/}"
        "$CTL" verify "$a" > /dev/null 2>&1
        check "... and its chain verifies" test $? -eq 0
done

# prune --dry-run: every archive, with why it stays.
"$CTL" prune ret --dry-run > "$T/plan"
check "prune --dry-run exits 0" test $? -eq 0
line() { grep "^ret-$(stamp "$1")[0-9]*Z[.a-z]*  *$2\$" "$T/plan" > /dev/null; }
check "newest: daily 1, weekly 1, monthly 1" line 2024-04-10 "keep (daily 1, weekly 1, monthly 1)"
check "the day before: daily 2, needed by the newest" line 2024-04-09 "keep (daily 2, needed by ret-$(stamp 2024-04-10)[0-9]*Z.incr.tar)"
check "Sunday: weekly 2" line 2024-04-07 "keep (weekly 2)"
check "its Monday: needed by Sunday" line 2024-04-01 "keep (needed by ret-$(stamp 2024-04-07)[0-9]*Z.incr.tar)"
check "March 31: monthly 2" line 2024-03-31 "keep (monthly 2)"
check "February 29: monthly 3" line 2024-02-29 "keep (monthly 3)"
check "every archive is listed once" test "$(grep -c '^ret-' "$T/plan")" -eq ${#expected[@]}
check "nothing to delete" grep -q "^Would delete 0 of ${#expected[@]} archives" "$T/plan"

# Fewer points wanted: the dry run says what goes and changes nothing.
t_schedule ret "Source=$SRC" "Destination=$DEST" "Compression=none" "FullEvery=7d" "KeepDaily=2" "KeepMonthly=2"
before=$(ls "$DEST")
"$CTL" prune ret --dry-run > "$T/plan"
check "the dry run marks February for deletion" line 2024-02-29 delete
check "... and its full" line 2024-02-26 delete
check "... keeps what the newest needs" line 2024-04-08 "keep (needed by ret-$(stamp 2024-04-10)[0-9]*Z.incr.tar)"
check "... and changes nothing" test "$(ls "$DEST")" = "$before"
"$CTL" prune ret > "$T/out"
check "prune exits 0" test $? -eq 0
check "prune deletes what the dry run said" test \
        "$(grep ' delete$' "$T/plan" | awk '{print $1}' | sort)" = "$(comm -23 <(echo "$before") <(ls "$DEST") | grep '^ret-' | sort)"
for d in 2024-03-31 2024-04-10; do
        a=$(ls "$DEST"/ret-"$(stamp "$d")"*)
        rm -rf "$T/r"
        "$CTL" restore ret "$(basename "$a")" --to "$T/r" > /dev/null 2>&1
        check "after prune the point of $d still restores" diff -r "$T/snap/$d" "$T/r/${SRC#/}"
done

# A run in progress holds the lock: prune waits for another time.
exec {lock}> "$DEST/.alexandria-ret.lock"
flock "$lock"
"$CTL" prune ret > "$T/out" 2>&1
check "prune while a run holds the lock exits 4" test $? -eq 4
exec {lock}>&-
