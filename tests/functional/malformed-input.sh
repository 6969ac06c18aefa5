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
# The short form goes through the same path checks as schedule files.
expect_refused "spec '/x/../x'"          "Source=/x/../x contains a '..' component" create '/x/../x;12:00;n'
expect_refused "spec path ending in '\\'" "ends in a backslash"         create 'src\;12:00;n'
mkdir -p "$T/sp "
expect_refused "spec path with a trailing space" "the path 'sp ' starts or ends with a space" create 'sp ;12:00;n'
expect_refused "spec with a control character" "control character (0x1b) in the spec" create $'src\e[2J;12:00;n'

# The long form goes through the same parser as schedule files.
long() { create "$@"; }
expect_refused "--keep -1"               "Keep=-1 is not a count"        long x --on-calendar daily --source src --keep -1
expect_refused "--keep abc"              "Keep=abc is not a count"       long x --on-calendar daily --source src --keep abc
expect_refused "--compression rar"       "Compression=rar is not supported" long x --on-calendar daily --source src --compression rar
expect_refused "empty --source"          "--source is empty"             long x --on-calendar daily --source ''
expect_refused "no --source"             "needs --on-calendar EXPR and at least one --source" long x --on-calendar daily
expect_refused "calendar rejected by systemd" "Failed to parse calendar specification" long x --on-calendar 'bogus day' --source src
expect_refused "calendar with a specifier" "is not a calendar expression" long x --on-calendar 'daily %h' --source src
expect_refused "newline in a value"      "--on-calendar contains a control character (0x0a)" long x --on-calendar $'daily\n[Service]' --source src
expect_refused "newline in --exclude"    "--exclude contains a control character" long x --on-calendar daily --source src --exclude $'a\nb'
expect_refused "--source with a trailing space" "--source 'sp ' starts or ends with a space" long x --on-calendar daily --source 'sp '
expect_refused "--dest ending in '\\'"   "--dest 'out\\' ends in a backslash" long x --on-calendar daily --source src --dest 'out\'
# A source that is the destination or inside it would back up nothing, forever.
expect_refused "Source= the same as Destination=" "Source=$T/src is the same as Destination=$T/src" long x --on-calendar daily --source src --dest src
expect_refused "Source= inside Destination=" "Source=$T/src is inside Destination=$T" long x --on-calendar daily --source src --dest "$T"
ln -s "$T/src" "$T/src-link"
expect_refused "Source= inside Destination= through a symlink" "With symlinks resolved: Source=$T/src is the same as Destination=$T/src" \
        long x --on-calendar daily --source src --dest "$T/src-link"
rm "$T/src-link"
# Options a verb does not take are an error, not ignored.
expect_refused "list --keep 5 --overwrite --to /nowhere" "Option --keep does not apply to 'list'" \
        "$CTL" --user list --keep 5 --overwrite --to /nowhere
expect_refused "keygen FILE --compression bogus" "Option --compression does not apply to 'keygen'" \
        "$CTL" keygen "$T/new.key" --compression bogus
expect_refused "status --json" "Option --json does not apply to 'status'" "$CTL" --user status --json
expect_refused "run --overwrite" "Option --overwrite does not apply to 'run'" "$CTL" --user run x --overwrite
expect_refused "name with a slash"       "Invalid schedule name"         long a/b --on-calendar daily --source src
expect_refused "unknown verb"            "Unknown verb 'frobnicate'"     "$CTL" frobnicate
expect_refused "unknown option"          "unrecognized option"           "$CTL" --frobnicate list
expect_refused "delete of an unknown schedule" "No schedule 'ghost'"     "$CTL" --user --no-reload delete ghost

# An existing schedule is not overwritten.
check "a valid create succeeds" create 'src;10:00;taken'
expect_refused "create of an existing name" "already exists"             create 'src;11:00;taken'
check "the existing schedule is unchanged" grep -q '^OnCalendar=\*-\*-\* 10:00:00$' "$ALEXANDRIA_CONFIG_DIR/schedules.d/taken.conf"
# Not even a dangling symlink is replaced (no "does it exist?" before writing).
ln -s "$T/nowhere" "$ALEXANDRIA_CONFIG_DIR/schedules.d/dangling.conf"
expect_refused "create over a dangling symlink" "already exists" create 'src;11:00;dangling'
check "the symlink is untouched" test "$(readlink "$ALEXANDRIA_CONFIG_DIR/schedules.d/dangling.conf")" = "$T/nowhere"
check "nothing was written through it" test ! -e "$T/nowhere"
rm "$ALEXANDRIA_CONFIG_DIR/schedules.d/dangling.conf"

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
worker_refuses "Expect= that ends in a space once normalized" "$f:5: Expect=/srv/ / ends in a space" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/src" 'Expect=/srv/ /' "Destination=$dest"
worker_refuses "Expect= that ends in a backslash once normalized" "$f:5: Expect=/srv/\\/ ends in a backslash" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/src" 'Expect=/srv/\/' "Destination=$dest"
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
worker_refuses "Source= the same as Destination=" "$f: Source=$dest is the same as Destination=$dest" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$dest" "Destination=$dest"
worker_refuses "Source= inside Destination=" "$f: Source=$dest/sub is inside Destination=$dest" \
        '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$dest/sub" "Destination=$dest"
mkdir -p "$T/real-dest/inner"
ln -s "$T/real-dest/inner" "$T/inner-link"
printf '%s\n' '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$T/inner-link" "Destination=$T/real-dest" > "$ALEXANDRIA_CONFIG_DIR/schedules.d/bad.conf"
expect_refused "worker: Source= inside Destination= through a symlink" "With symlinks resolved: Source=$T/real-dest/inner is inside" "$BACKUP" bad
rm -rf "$T/real-dest" "$T/inner-link" "$f"

# A NUL byte is named as what it is, not "line too long", nor cut off silently.
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=%s\nCompression=zstd\0junk\n' "$T/src" "$dest" > "$f"
expect_refused "worker: a NUL byte in a line" "$f:6: NUL byte in line" "$BACKUP" bad
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=%s\nCompression=zstd\0junk' "$T/src" "$dest" > "$f"
expect_refused "worker: a NUL byte on the last line" "$f:6: NUL byte in line" "$BACKUP" bad
check "worker: no destination after a NUL byte" test ! -e "$dest"
rm -f "$f"

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
