#!/bin/bash
# What restore and verify print: a write error on standard output (a full
# disk, /dev/full) fails the command; names with control characters are
# escaped on a terminal and in messages, so that a file name cannot move
# the cursor or forge a line; in a pipe --list prints names as they are.
source "$(dirname "$0")/lib.sh"
t_setup

rc=0
check_rc() { [ "$rc" = "$1" ]; }

src=$T/src
mkdir -p "$src"
echo a > "$src/plain.txt"
echo b > "$src/"$'evil\e[2Jname'
echo c > "$src/"$'two\nlines'
t_schedule o "Source=$src" "Destination=$T/dest"
"$BACKUP" o >/dev/null 2>&1
archive=$(ls "$T"/dest/o-*.tar.gz)

"$CTL" restore o --list >/dev/full 2>"$T/err"; rc=$?
check "restore --list into /dev/full: exit 1" check_rc 1
check "and it says why" grep -qi "cannot write" "$T/err"
"$CTL" restore o --to "$T/dry" --dry-run >/dev/full 2>"$T/err"; rc=$?
check "restore --dry-run into /dev/full: exit 1" check_rc 1
"$CTL" verify o >/dev/full 2>"$T/err"; rc=$?
check "verify into /dev/full: exit 1" check_rc 1
check "and it says why" grep -qi "cannot write" "$T/err"
"$CTL" verify "$archive" >/dev/full 2>"$T/err"; rc=$?
check "verify ARCHIVE into /dev/full: exit 1" check_rc 1
"$CTL" verify o >/dev/null 2>&1; rc=$?
check "verify into /dev/null: exit 0" check_rc 0

# on a terminal (script(1) gives one), control characters are escaped
script -qec "$CTL restore o --list" /dev/null > "$T/tty" 2>&1
check "--list on a terminal: ESC shown as \\x1b" grep -q 'evil\\x1b\[2Jname' "$T/tty"
check "--list on a terminal: no raw ESC" eval '! grep -q $'"'"'\e\[2J'"'"' "$T/tty"'
check "--list on a terminal: a newline in a name shown as \\x0a" grep -q 'two\\x0alines' "$T/tty"
"$CTL" restore o --list > "$T/pipe"
check "--list into a pipe: names as they are" grep -q $'evil\e\\[2Jname' "$T/pipe"

# messages escape names too
"$CTL" restore o --to "$T/r" >/dev/null 2>&1
"$CTL" restore o --to "$T/r" 2>"$T/err" >/dev/null; rc=$?
check "restoring over existing files: exit 1" check_rc 1
check "the message escapes the name" grep -q 'Not overwriting .*evil\\x1b\[2Jname' "$T/err"
check "and holds no raw ESC" eval '! grep -q $'"'"'\e'"'"' "$T/err"'

# verify names a damaged entry escaped too
mkdir -p "$T/src2"; printf 'EVILDATA\n' > "$T/src2/"$'bad\e]0;titlename'
t_schedule v "Source=$T/src2" "Destination=$T/dest2" "Compression=none"
"$BACKUP" v >/dev/null 2>&1
plain=$(ls "$T"/dest2/v-*.tar)
python3 - "$plain" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[b.index(b'EVILDATA')] ^= 1; open(p, 'wb').write(b)
PY
"$CTL" verify v >/dev/null 2>"$T/err"; rc=$?
check "verify of a damaged entry: exit 1" check_rc 1
check "verify names it escaped" grep -q 'corrupt: .*bad\\x1b\]0;titlename' "$T/err"
check "with no raw ESC" eval '! grep -q $'"'"'\e'"'"' "$T/err"'

# the owner column: a name where the archive has one, else the number, for
# the user and the group each (a foreign archive may name only one of them)
mkdir -p "$T/own"
python3 - "$T/own/own-20260101T000000Z.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    for name, uname, gname in (("both", "alice", "staff"), ("nouser", "", "staff"), ("nogroup", "alice", ""), ("none", "", "")):
        ti = tarfile.TarInfo(name); ti.size = 1; ti.uid = 1234; ti.gid = 5678
        ti.uname = uname; ti.gname = gname
        t.addfile(ti, io.BytesIO(b"x"))
PY
"$CTL" restore own "$T/own/own-20260101T000000Z.tar" --list > "$T/own/list" 2>"$T/err"; rc=$?
check "restore --list of a foreign archive: exit 0" check_rc 0
check "--list: user and group names" grep -q ' alice/staff .* both$' "$T/own/list"
check "--list: no user name shows the uid" grep -q ' 1234/staff .* nouser$' "$T/own/list"
check "--list: no group name shows the gid" grep -q ' alice/5678 .* nogroup$' "$T/own/list"
check "--list: neither shows both numbers" grep -q ' 1234/5678 .* none$' "$T/own/list"
