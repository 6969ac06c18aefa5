#!/bin/bash
# Bad input gets a clear message naming what is wrong, exit 2, and changes
# nothing: no schedule file, no destination, no archive.
source "$(dirname "$0")/lib.sh"
t_setup

mkdir -p "$T/src" && echo data > "$T/src/file"
cd "$T"

create() { "$CTL" --user --no-reload create "$@"; }

# The short form, field by field.
expect_refused "spec 'test;'"            "expected path;hh:mm;name"      create 'test;'
expect_refused "spec ';;'"               "the path is empty"             create ';;'
expect_refused "spec 'a;10:00;'"         "the name is empty"             create 'a;10:00;'
expect_refused "spec 'a;25:00;x'"        "hour 25 is out of range"       create 'a;25:00;x'
expect_refused "spec 'a;10:61;x'"        "minute 61 is out of range"     create 'a;10:61;x'
expect_refused "spec 'a;1000;x'"         "time '1000' is not HH:MM"      create 'a;1000;x'
expect_refused "spec 'a;10:00;../x'"     "invalid name '../x'"           create 'src;10:00;../x'
expect_refused "spec 'a;10:00;x y'"      "invalid name 'x y'"            create 'src;10:00;x y'
expect_refused "spec with a 65-char name" "invalid name"                 create "src;10:00;$(printf 'n%.0s' {1..65})"
expect_refused "spec 'a;10:00;x;extra'"  "too many fields"               create 'src;10:00;x;extra'
expect_refused "spec with a missing source" "Source $T/nope: No such file or directory" create 'nope;10:00;x'
expect_refused "spec with options"       "takes no options"              create 'src;10:00;x' --keep 3

# The long form goes through the same parser as schedule files.
long() { create "$@"; }
expect_refused "--keep -1"               "Keep=-1 is not a count"        long x --on-calendar daily --source src --keep -1
expect_refused "--keep abc"              "Keep=abc is not a count"       long x --on-calendar daily --source src --keep abc
expect_refused "--compression rar"       "Compression=rar is not supported" long x --on-calendar daily --source src --compression rar
expect_refused "empty --source"          "--source is empty"             long x --on-calendar daily --source ''
expect_refused "no --source"             "needs --on-calendar EXPR and at least one --source" long x --on-calendar daily
expect_refused "calendar rejected by systemd" "Failed to parse calendar specification" long x --on-calendar 'bogus day' --source src
expect_refused "calendar with a specifier" "is not a calendar expression" long x --on-calendar 'daily %h' --source src
expect_refused "newline in a value"      "control character"             long x --on-calendar $'daily\n[Service]' --source src
expect_refused "name with a slash"       "Invalid schedule name"         long a/b --on-calendar daily --source src
expect_refused "unknown verb"            "Unknown verb 'frobnicate'"     "$CTL" frobnicate
expect_refused "unknown option"          "unrecognized option"           "$CTL" --frobnicate list
expect_refused "delete of an unknown schedule" "No schedule 'ghost'"     "$CTL" --user --no-reload delete ghost

# An existing schedule is not overwritten.
check "a valid create succeeds" create 'src;10:00;taken'
expect_refused "create of an existing name" "already exists"             create 'src;11:00;taken'
check "the existing schedule is unchanged" grep -q '^OnCalendar=\*-\*-\* 10:00:00$' "$ALEXANDRIA_CONFIG_DIR/schedules.d/taken.conf"

# Hand-written files: the worker refuses them naming file, line and key.
dest="$T/dest"
worker_refuses() {
        local desc=$1 fragment=$2; shift 2
        printf '%s\n' "$@" > "$ALEXANDRIA_CONFIG_DIR/schedules.d/bad.conf"
        expect_refused "worker: $desc" "$fragment" "$BACKUP" bad
        check "worker: $desc: no destination created" test ! -e "$dest"
        rm -f "$ALEXANDRIA_CONFIG_DIR/schedules.d/bad.conf"
}
f="$ALEXANDRIA_CONFIG_DIR/schedules.d/bad.conf"
worker_refuses "unknown key"       "$f:5: unknown key 'Frobnicate' in section [Backup]" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/src" 'Frobnicate=yes' "Destination=$dest"
worker_refuses "key outside its section" "$f:2: Source= belongs in section [Backup], not [Schedule]" \
        '[Schedule]' "Source=$T/src" 'OnCalendar=daily' '[Backup]' "Destination=$dest"
worker_refuses "key before any section" "$f:1: key 'Keep' outside of any section" \
        'Keep=3' '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/src" "Destination=$dest"
worker_refuses "Keep=-1"           "$f:5: Keep=-1 is not a count" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/src" 'Keep=-1' "Destination=$dest"
worker_refuses "Keep=abc"          "$f:5: Keep=abc is not a count" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/src" 'Keep=abc' "Destination=$dest"
worker_refuses "Compression=rar"   "$f:5: Compression=rar is not supported" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/src" 'Compression=rar' "Destination=$dest"
worker_refuses "empty Source="     "$f:4: Source= is empty" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' 'Source=' "Destination=$dest"
worker_refuses "unknown section"   "$f:4: unknown section [Service]" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' '[Service]' 'ExecStartPost=/bin/true'

printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=%s\n' "$T/src" "$dest" > "$f"
chmod 0666 "$f"
expect_refused "worker: a world-writable schedule" "group- or world-writable" "$BACKUP" bad
check "worker: a world-writable schedule writes nothing" test ! -e "$dest"
rm -f "$f"

expect_refused "worker: unknown schedule" "No schedule 'ghost'" "$BACKUP" ghost
expect_refused "worker: invalid name" "Invalid schedule name" "$BACKUP" ../etc

# A spec round-trips: spec → file → list line.
check "round trip: create" create 'src;16:07;backup_test'
"$CTL" --user list > "$T/list" 2>&1
check "round trip: list prints the spec back" grep -qxF "0: $T/src;16:07;backup_test" "$T/list"
check "round trip: the file is the long form" grep -qx 'OnCalendar=\*-\*-\* 16:07:00' "$ALEXANDRIA_CONFIG_DIR/schedules.d/backup_test.conf"
