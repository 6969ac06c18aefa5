#!/bin/bash
# Restore from damaged archives: every file is checked against the manifest
# as it is written; a damaged one is named, never left under its real name,
# and never replaces the live file (--overwrite); the exit code is 1. Also
# entries the manifest does not list, or lists but the archive lacks.
source "$(dirname "$0")/lib.sh"
t_setup

rc=0
check_rc() { [ "$rc" = "$1" ]; }
no_temporaries() { [ -z "$(find "$1" -name '.alexandria-restore-*' 2>/dev/null)" ]; }
# flip ARCHIVE NEEDLE: flips one bit of the byte after NEEDLE's first occurrence
flip() {
        python3 - "$1" "$2" <<'PY'
import sys
p, needle = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(p, 'rb').read()); i = b.index(needle) + len(needle); b[i] ^= 1
open(p, 'wb').write(b)
PY
}

src=$T/src
mkdir -p "$src"
printf 'first\n' > "$src/0-first.txt"
{ printf 'MARKER-'; head -c 100000 /dev/urandom | base64 -w0; } > "$src/a.txt"
head -c 2000000 /dev/urandom > "$src/b.bin"
printf 'last\n' > "$src/z-last.txt"

# --- uncompressed: one data byte flipped
t_schedule plain "Source=$src" "Destination=$T/plain" "Compression=none"
"$BACKUP" plain >/dev/null 2>&1
plain=$(ls "$T"/plain/plain-*.tar)
flip "$plain" MARKER-
"$CTL" verify "$plain" >/dev/null 2>&1; rc=$?
check "uncompressed, a flipped byte: verify says BAD" check_rc 1
"$CTL" restore plain --to "$T/r1" 2>"$T/err"; rc=$?
check "restore fails: exit 1" check_rc 1
check "and names the damaged file" grep -q "Damaged in the archive: ${src#/}/a.txt (its content differs from its digest in the manifest)" "$T/err"
check "which is not left under its real name" test ! -e "$T/r1$src/a.txt"
check "the good files are restored" eval 'cmp -s "$src/b.bin" "$T/r1$src/b.bin" && grep -qx last "$T/r1$src/z-last.txt"'
check "no temporary file is left" no_temporaries "$T/r1"
check "the summary counts it" grep -q "1 damaged entries were not restored" "$T/err"

# --- a tiny file (its digest is a CRC-32): any flipped byte is caught
tiny=$T/tiny-src
mkdir -p "$tiny"
printf 'TINY-abcdefgh\n' > "$tiny/t.txt"
for i in 1 2 3; do printf 'other %s\n' $i > "$tiny/o$i.txt"; done
t_schedule tiny "Source=$tiny" "Destination=$T/tiny" "Compression=none"
"$BACKUP" tiny >/dev/null 2>&1
tinya=$(ls "$T"/tiny/tiny-*.tar)
check "a tiny file's line holds a CRC-32 (8 hex digits)" \
        eval 'tar -xOf "$tinya" .alexandria-manifest.sha256 | grep -Eq "^f [0-9a-f]{8} [0-9]{9}$"'
flip "$tinya" TINY-
"$CTL" verify "$tinya" 2>"$T/err"; rc=$?
check "a tiny file with a flipped byte: verify exits 1, naming it" \
        eval '[ $rc = 1 ] && grep -q "corrupt: ${tiny#/}/t.txt: content differs" "$T/err" && [ "$(grep -c corrupt: "$T/err")" = 1 ]'
"$CTL" restore tiny --to "$T/rt" 2>"$T/err"; rc=$?
check "restore names it and leaves it out" \
        eval '[ $rc = 1 ] && grep -q "Damaged in the archive: ${tiny#/}/t.txt" "$T/err" && [ ! -e "$T/rt$tiny/t.txt" ] && [ -e "$T/rt$tiny/o1.txt" ]'

# --- with --overwrite, the live file stays
mkdir -p "$T/live$src"; echo LIVE > "$T/live$src/a.txt"
"$CTL" restore plain --to "$T/live" --overwrite 2>"$T/err"; rc=$?
check "--overwrite from a damaged archive: exit 1" check_rc 1
check "the live file is still there, unchanged" grep -qx LIVE "$T/live$src/a.txt"
check "the damaged file is named" grep -q "Damaged in the archive: ${src#/}/a.txt" "$T/err"
check "the good files are replaced" cmp -s "$src/b.bin" "$T/live$src/b.bin"

# --- gzip: a byte flipped in stored (incompressible) data, which the gzip
# reader passes on before any CRC is checked
t_schedule gz "Source=$src" "Destination=$T/gz"
"$BACKUP" gz >/dev/null 2>&1
gz=$(ls "$T"/gz/gz-*.tar.gz)
python3 - "$gz" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 2] ^= 0x10; open(p, 'wb').write(b)
PY
"$CTL" verify "$gz" >/dev/null 2>&1; rc=$?
check "gzip, a flipped byte: verify says BAD" check_rc 1
mkdir -p "$T/r2$src"; echo LIVE > "$T/r2$src/b.bin"
"$CTL" restore gz --to "$T/r2" --overwrite 2>"$T/err"; rc=$?
check "gzip: restore fails: exit 1" check_rc 1
check "gzip: the damaged file is named" grep -q "${src#/}/b.bin" "$T/err"
check "gzip: the live file is still there" grep -qx LIVE "$T/r2$src/b.bin"
check "gzip: no temporary file is left" no_temporaries "$T/r2"

# --- truncated in the middle of a file's data (sources are stored in order)
mkdir -p "$T/cs/1" "$T/cs/2"
printf 'first\n' > "$T/cs/1/first.txt"; cp "$src/b.bin" "$T/cs/2/b.bin"
t_schedule cut "Source=$T/cs/1" "Source=$T/cs/2" "Destination=$T/cut"
"$BACKUP" cut >/dev/null 2>&1
cut=$(ls "$T"/cut/cut-*.tar.gz)
head -c $(($(stat -c %s "$cut") / 2)) "$cut" > "$cut.part" && mv "$cut.part" "$cut"
mkdir -p "$T/r3$T/cs/2"; echo LIVE > "$T/r3$T/cs/2/b.bin"
"$CTL" restore cut --to "$T/r3" --overwrite 2>"$T/err"; rc=$?
check "truncated: exit 1" check_rc 1
check "truncated: the live file is still there" grep -qx LIVE "$T/r3$T/cs/2/b.bin"
check "truncated: says the archive cannot be read and what was not restored" \
        grep -q "Cannot read $cut: .*; $T/r3$T/cs/2/b.bin was not restored" "$T/err"
check "truncated: the file stored before the cut is restored" grep -qx first "$T/r3$T/cs/1/first.txt"
check "truncated: no '(null)' in the messages" eval '! grep -q "(null)" "$T/err"'
check "truncated: no temporary file is left" no_temporaries "$T/r3"

# --- an entry lost from the archive: the positional manifest lists one more
t_schedule m "Source=$src" "Destination=$T/m" "Compression=none"
"$BACKUP" m >/dev/null 2>&1
m=$(ls "$T"/m/m-*.tar)
cp "$m" "$T/m-whole.tar"
python3 - "$m" "${src#/}" <<'PY'
import io, sys, tarfile
path, src = sys.argv[1], sys.argv[2]
with tarfile.open(path) as t, tarfile.open(path + ".new", "w", format=tarfile.PAX_FORMAT) as out:
    for m in t.getmembers():
        if m.name != src + "/0-first.txt":
            out.addfile(m, t.extractfile(m) if m.isreg() else None)
PY
mv "$m.new" "$m"
"$CTL" verify "$m" 2>"$T/err"; rc=$?
check "an entry lost: verify exits 1" check_rc 1
check "verify says one entry is missing, where, and nothing else" \
        eval 'grep -c "missing: a '"'f'"' entry after " "$T/err" | grep -qx 1 && ! grep -q "corrupt:" "$T/err"'
"$CTL" restore m --to "$T/r4" 2>"$T/err"; rc=$?
check "an entry lost: restore exits 1" check_rc 1
check "and says the manifest does not match the archive" \
        grep -q "lists [0-9]* entries, the archive holds [0-9]*: entries are missing or were added" "$T/err"
check "what the archive holds is restored" cmp -s "$src/b.bin" "$T/r4$src/b.bin"

# --- an entry added to the archive: verify names it
python3 - "$T/m-whole.tar" "$T/m-added.tar" "${src#/}" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1]) as t, tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as out:
    members = t.getmembers()
    for i, m in enumerate(members):
        if i == len(members) - 1:
            extra = tarfile.TarInfo(sys.argv[3] + "/planted.txt"); extra.size = 5
            out.addfile(extra, io.BytesIO(b"evil\n"))
        out.addfile(m, t.extractfile(m) if m.isreg() else None)
PY
"$CTL" verify "$T/m-added.tar" 2>"$T/err"; rc=$?
check "an entry added: verify exits 1" check_rc 1
check "and names it, and nothing else" \
        eval 'grep -q "extra: ${src#/}/planted.txt" "$T/err" && ! grep -q "corrupt:\|missing:" "$T/err"'

# --- a manifest of the older format (entries named): the manifest lacks an
# entry, or lists one the archive lacks
python3 - "$T/m-whole.tar" "$m" "${src#/}" <<'PY'
import hashlib, io, sys, tarfile
whole, path, src = sys.argv[1], sys.argv[2], sys.argv[3]
with tarfile.open(whole) as t:
    members = [(m, t.extractfile(m).read() if m.isreg() else None) for m in t.getmembers()][:-1]
def line(m, d):
    if m.isdir():
        return "d - 0 %s/\n" % m.name
    return "f %s %d %s\n" % (hashlib.sha256(d).hexdigest()[:16], len(d), m.name)
# drop z-last.txt from the manifest, and 0-first.txt from the archive
manifest = [line(m, d) for m, d in members if m.name != src + "/z-last.txt"]
members = [(m, d) for m, d in members if m.name != src + "/0-first.txt"]
data = "".join(manifest).encode()
mi = tarfile.TarInfo(".alexandria-manifest.sha256"); mi.size = len(data)
with tarfile.open(path + ".new", "w", format=tarfile.PAX_FORMAT) as t:
    for mem, d in members:
        t.addfile(mem, io.BytesIO(d) if d is not None else None)
    t.addfile(mi, io.BytesIO(data))
PY
mv "$m.new" "$m"
"$CTL" restore m --to "$T/r4b" 2>"$T/err"; rc=$?
check "older manifest, manifest and archive disagree: exit 1" check_rc 1
check "an entry the manifest lacks is named and not restored" \
        eval 'grep -q "Damaged in the archive: ${src#/}/z-last.txt (it is not in the manifest)" "$T/err" && [ ! -e "$T/r4b$src/z-last.txt" ]'
check "an entry the archive lacks is named" grep -q "${src#/}/0-first.txt is in the manifest, but not in" "$T/err"
check "the others are restored, checked" eval 'cmp -s "$src/b.bin" "$T/r4b$src/b.bin" && ! grep -q "cannot be checked" "$T/err"'
"$CTL" verify "$m" 2>"$T/err"; rc=$?
check "older manifest: verify names both" \
        eval '[ $rc = 1 ] && grep -q "missing: ${src#/}/0-first.txt" "$T/err" && grep -q "extra: ${src#/}/z-last.txt" "$T/err"'

# --- a good archive restores with no complaint and no temporaries
t_schedule good "Source=$src" "Destination=$T/good"
"$BACKUP" good >/dev/null 2>&1
"$CTL" restore good --to "$T/r5" 2>"$T/err"; rc=$?
check "a good archive: exit 0" check_rc 0
check "a good archive: restored whole" diff -r "$src" "$T/r5$src"
check "a good archive: no warning about the manifest" eval '! grep -qi "manifest" "$T/err"'
check "a good archive: no temporary file is left" no_temporaries "$T/r5"

# --- a file that cannot be written (a full disk) is no reason to call the
# next one damaged: each file's check starts afresh (root: a small tmpfs)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
        mkdir -p "$T/fs/1" "$T/fs/2" "$T/small"
        head -c 3000000 /dev/urandom > "$T/fs/1/big.bin"; echo after > "$T/fs/2/after.txt"
        t_schedule fs "Source=$T/fs/1" "Source=$T/fs/2" "Destination=$T/fsd"
        "$BACKUP" fs >/dev/null 2>&1
        unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" && "$2" restore fs --to "$1" >/dev/null 2>"$3/err"; echo $? > "$3/rc"; cat "$1$3/fs/2/after.txt" > "$3/after" 2>/dev/null; find "$1" -name ".alexandria-restore-*" > "$3/temps"' \
                sh "$T/small" "$CTL" "$T"
        check "a full disk: exit 1" test "$(cat "$T/rc")" = 1
        check "the file that did not fit is reported as not written" grep -q "Cannot write $T/small$T/fs/1/big.bin" "$T/err"
        check "the next file is restored, not called damaged" grep -qx after "$T/after"
        check "nothing is called damaged" eval '! grep -q "Damaged" "$T/err"'
        check "a full disk leaves no temporary file" test ! -s "$T/temps"
else
        echo "ok - # SKIP the full-disk restore needs root (a tmpfs)"
fi

# --- files not overwritten are no damage: nothing is called missing
"$CTL" restore good --to "$T/r5" 2>"$T/err"; rc=$?
check "restoring over existing files: exit 1" check_rc 1
check "they are not overwritten" grep -q "Not overwriting $T/r5$src/a.txt" "$T/err"
check "and not called damaged or missing" eval '! grep -qi "damaged\|missing" "$T/err"'
