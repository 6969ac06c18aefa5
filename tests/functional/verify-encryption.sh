#!/bin/bash
# verify catches damage; encryption round-trips and detects a wrong key,
# truncation, flipped bytes and trailing data, each with exit 1 and a clear
# message; no plaintext reaches the disk.
source "$(dirname "$0")/lib.sh"
t_setup

src=$T/src
mkdir -p "$src/d"
for i in $(seq 1 40); do head -c 20000 /dev/urandom > "$src/d/r$i"; done
yes "the same line, compressible" | head -c 3000000 > "$src/d/text"
ln -s r1 "$src/d/link"; ln "$src/d/r2" "$src/d/hard"
marker="PLAINTEXT-MARKER-$$-$RANDOM"
echo "$marker" > "$src/secret.txt"
rc_is() { [ "$rc" = "$1" ]; }

# ---- verify ----
t_schedule plain "Source=$src" "Destination=$T/plain" "Compression=none"
check "a plain backup" "$BACKUP" plain
a=$(ls "$T"/plain/plain-*.tar)
out=$("$CTL" verify plain); rc=$?
check "verify of a good archive exits 0" rc_is 0
check "verify says OK" grep -q ": OK (" <<<"$out"
check "the manifest is the archive's last entry" test "$(tar -tf "$a" | tail -1)" = .alexandria-manifest.sha256
check "verify by path" "$CTL" verify "$a"

# a flipped byte in the middle of a file's data (uncompressed, so only the manifest can tell)
cp "$a" "$T/flip.tar"
off=$(python3 - "$T/flip.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        if m.name.endswith("/d/text"):
            print(m.offset_data + m.size // 2)
PY
)
printf 'X' | dd of="$T/flip.tar" bs=1 seek="$off" conv=notrunc status=none
out=$("$CTL" verify "$T/flip.tar" 2>&1); rc=$?
check "verify of a flipped data byte exits 1" rc_is 1
check "and names the corrupt file" grep -q "corrupt: .*d/text: content differs" <<<"$out"

head -c $(( $(stat -c %s "$a") / 2 )) "$a" > "$T/trunc.tar"
out=$("$CTL" verify "$T/trunc.tar" 2>&1); rc=$?
check "verify of a truncated archive exits 1" rc_is 1
check "and says it is unreadable" grep -q "unreadable after" <<<"$out"

python3 - "$a" "$T/nomanifest.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as src, tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as dst:
    for m in src:
        if m.name != ".alexandria-manifest.sha256":
            dst.addfile(m, src.extractfile(m) if m.isreg() else None)
PY
out=$("$CTL" verify "$T/nomanifest.tar" 2>&1); rc=$?
check "verify of an archive without manifest exits 1" rc_is 1
check "and says the manifest is missing" grep -q "no manifest" <<<"$out"

# a file removed from the archive is reported missing
# (GNU tar --delete mangles pax archives: rewrite it without that entry)
python3 - "$a" "$T/missing.tar" "${src#/}/d/r5" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as src, tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as dst:
    for m in src:
        if m.name != sys.argv[3]:
            dst.addfile(m, src.extractfile(m) if m.isreg() else None)
PY
out=$("$CTL" verify "$T/missing.tar" 2>&1); rc=$?
check "verify of an archive with an entry removed exits 1" rc_is 1
check "and says where an entry is missing, and nothing else" \
        eval 'grep -q "missing: a .f. entry after ${src#/}/" <<<"$out" && ! grep -q "corrupt:" <<<"$out"'

# ---- encryption ----
check "keygen" "$CTL" keygen "$T/key"
check "the key file is 0600" test "$(stat -c %a "$T/key")" = 600
"$CTL" keygen "$T/key" >/dev/null 2>&1; rc=$?
check "keygen never replaces a key (exit 2)" rc_is 2
"$CTL" keygen "$T/other" >/dev/null

t_schedule enc "Source=$src" "Destination=$T/enc" "Encryption=yes" "KeyFile=$T/key" "Verify=yes"
check "an encrypted backup with Verify=yes" "$BACKUP" enc
e=$(ls "$T"/enc/enc-*.tar.gz.enc 2>/dev/null)
check "the archive is named .tar.gz.enc" test -f "$e"
check "it starts with the ALXCRYPT magic" test "$(head -c 8 "$e")" = ALXCRYPT
check "no plaintext in the archive file" sh -c "! grep -qa '$marker' '$e'"
check "no other file in the destination" test "$(ls -A "$T/enc" | grep -v '^\.alexandria-enc\.lock$' | wc -l)" = 1
out=$("$CTL" backups -l enc); rc=$?
check "backups -l decrypts to count entries" grep -q " entries$" <<<"$out"
check "verify decrypts" "$CTL" verify enc
check "restore decrypts" "$CTL" restore enc --to "$T/restored"
check "the restored tree equals the source" diff -r "$src" "$T/restored$src"

out=$("$CTL" verify --key "$T/other" enc 2>&1); rc=$?
check "a wrong key: exit 1" rc_is 1
check "a wrong key: says so" grep -qi "wrong key" <<<"$out"
out=$("$CTL" restore enc --key "$T/other" --to "$T/wrong" 2>&1); rc=$?
check "restore with a wrong key: exit 1" rc_is 1
check "restore with a wrong key wrote nothing" test -z "$(find "$T/wrong" -type f 2>/dev/null)"

size=$(stat -c %s "$e")
# header 104 bytes; chunks are 4 + 65536 + 17 bytes
for cut in 50 104 $((104 + 65557)) $((104 + 2 * 65557)) $((size / 2)) $((size - 1)); do
        [ "$cut" -lt "$size" ] || continue
        head -c "$cut" "$e" > "$T/cut.tar.gz.enc"
        out=$("$CTL" verify --key "$T/key" "$T/cut.tar.gz.enc" 2>&1); rc=$?
        check "truncated at $cut of $size bytes: exit 1" rc_is 1
        check "truncated at $cut: a clear message" grep -Eqi "truncated|too short|ends" <<<"$out"
done
flip() {        # flip OFFSET → $T/flip.enc
        cp "$e" "$T/flip.enc"
        python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^1]))" "$T/flip.enc" "$1"
}
for where in 20 90 $((size / 2)) $((size - 5)); do
        flip "$where"
        out=$("$CTL" verify --key "$T/key" "$T/flip.enc" 2>&1); rc=$?
        check "a flipped byte at $where: exit 1" rc_is 1
        check "a flipped byte at $where: a clear message" grep -Eqi "corrupt|damaged|wrong key|authentic" <<<"$out"
done
cp "$e" "$T/trailing.enc"; printf 'junk' >> "$T/trailing.enc"
out=$("$CTL" verify --key "$T/key" "$T/trailing.enc" 2>&1); rc=$?
check "bytes after the final chunk: exit 1" rc_is 1
check "bytes after the final chunk: says so" grep -qi "trailing" <<<"$out"
out=$("$CTL" verify "$e" 2>&1); rc=$?
check "an encrypted archive without a key: exit 1" rc_is 1
check "without a key: says a key is needed" grep -q "encrypted: give its key" <<<"$out"

# a passphrase file works the same way
printf 'correct horse battery staple\n' > "$T/pass"; chmod 600 "$T/pass"
t_schedule pp "Source=$src/d" "Destination=$T/pp" "Encryption=yes" "KeyFile=$T/pass"
check "a backup with a passphrase" "$BACKUP" pp
check "verify with the passphrase" "$CTL" verify pp
printf 'wrong passphrase\n' > "$T/pass2"; chmod 600 "$T/pass2"
"$CTL" verify --key "$T/pass2" pp >/dev/null 2>&1; rc=$?
check "a wrong passphrase: exit 1" rc_is 1
chmod 644 "$T/pass"
out=$("$BACKUP" pp 2>&1); rc=$?
check "a key file readable by others is refused: exit 1" rc_is 1
check "and the message says why" grep -qi "key file" <<<"$out"
