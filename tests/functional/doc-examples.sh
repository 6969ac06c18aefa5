#!/bin/bash
# The schedule examples in the README, docs/ and the man pages are written
# the way the parser reads them: a '#' starts a comment only at the start of
# a line (as in systemd's files), so "Key=value  # note" would make the note
# part of the value (a Dump= got it as arguments, a LockFile= as its path).
source "$(dirname "$0")/lib.sh"
t_setup
top=$(cd "$(dirname "$0")/../.." && pwd)

# every line of a fenced block that looks like Key=value, with its file and line
examples() {
        awk 'FNR == 1 { fence = 0 }
             /^[ \t]*```/ { fence = !fence; next }
             fence && /^[ \t]*[A-Z][A-Za-z]+=/ { print FILENAME ":" FNR ": " $0 }' "$@"
}
examples "$top/README.md" "$top"/docs/*.md "$top"/man/*.scd > "$T/lines"
check "the examples have Key=value lines to check ($(wc -l < "$T/lines"))" test "$(wc -l < "$T/lines")" -gt 50
grep -E ': [ \t]*[A-Z][A-Za-z]+=.*[[:space:]]#' "$T/lines" > "$T/inline" || true
check "no example has a comment after a value$(sed 's/^/; /' "$T/inline" | tr -d '\n')" test ! -s "$T/inline"

# and the parser does take such a note as part of the value
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nKeep=3   # three\n' "$T" > "$ALEXANDRIA_CONFIG_DIR/schedules.d/c.conf"
"$CTL" --user --no-reload list > "$T/out" 2>&1
check "a note after a value is part of it (Keep=3 # three is refused)" grep -q "c.conf:5: .*Keep=" "$T/out"
