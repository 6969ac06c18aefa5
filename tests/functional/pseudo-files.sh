#!/bin/bash
# Files of /proc and /sys are not what their size says: procfs files say
# 0 bytes and hold text, sysfs files say 4096 and hold a few bytes. A
# backup that stores less than a file holds says so (a warning, exit 3),
# in words that fit what happened.
source "$(dirname "$0")/lib.sh"
t_setup

rc=0
check_rc() { [ "$rc" = "$1" ]; }

sysfs_file=$(find /sys/kernel -maxdepth 2 -type f -readable -size 4k 2>/dev/null | while read -r f; do
        n=$(head -c 4096 "$f" 2>/dev/null | wc -c); [ "$n" -gt 0 ] && [ "$n" -lt 4096 ] && { echo "$f"; break; }; done)
t_schedule proc "Source=/proc/self/status" "Destination=$T/dest"
"$BACKUP" proc >"$T/out" 2>&1; rc=$?
check "a /proc file with content: exit 3 (warnings)" check_rc 3
check "the warning says it was stored empty" grep -q "/proc/self/status: reports a size of 0 bytes but has content" "$T/out"

if [ -n "$sysfs_file" ]; then
        t_schedule sys "Source=$sysfs_file" "Destination=$T/dest"
        "$BACKUP" sys >"$T/out" 2>&1; rc=$?
        check "a sysfs file: exit 3 (warnings)" check_rc 3
        check "the warning says how much it held" grep -q "$sysfs_file: holds only [0-9]* of the 4096 bytes its size says" "$T/out"
        check "no 'shrank from 4096 to 4096'" eval '! grep -q "shrank from 4096 to 4096" "$T/out"'
else
        echo "ok - # SKIP no readable sysfs file of 4096 bytes here"
fi

# an empty file elsewhere is no warning
mkdir -p "$T/src"; : > "$T/src/empty"
t_schedule empty "Source=$T/src" "Destination=$T/dest"
"$BACKUP" empty >"$T/out" 2>&1; rc=$?
check "an empty regular file: exit 0" check_rc 0
