#!/bin/bash
# Keep=N keeps the N newest archives of the schedule and nothing of anyone
# else's; Keep=0 keeps everything; runs within one second get distinct names.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

SRC=$T/src
DEST=$T/dest
mkdir -p "$SRC/sub" "$DEST"
seq 1 1000 > "$SRC/numbers"
head -c 4096 /dev/urandom > "$SRC/sub/random"

# Files in the destination that are not this schedule's archives.
head -c 2000 /dev/urandom > "$DEST/other-20000101T000000Z.tar.gz"      # another schedule's archive
head -c 2000 /dev/urandom > "$DEST/ret-x-20000101T000000Z.tar.gz"      # schedule "ret-x", a prefix clash
printf 'notes\n' > "$DEST/notes.txt"                                    # a random file
printf 'not a stamp\n' > "$DEST/ret-2000.tar.gz"                        # almost an archive name
printf 'hidden\n' > "$DEST/.ret-20000101T000000Z.tar.gz"                # hidden: never an archive
mkdir "$DEST/ret-20000101T000001Z.tar.gz"                               # a directory with an archive's name
printf 'in dir\n' > "$DEST/ret-20000101T000001Z.tar.gz/keep-me"
printf 'target\n' > "$T/link-target"
ln -s "$T/link-target" "$DEST/ret-20000101T000002Z.tar.gz"              # a symlink with an archive's name
FOREIGN=(other-20000101T000000Z.tar.gz ret-x-20000101T000000Z.tar.gz notes.txt ret-2000.tar.gz
        .ret-20000101T000000Z.tar.gz ret-20000101T000001Z.tar.gz ret-20000101T000001Z.tar.gz/keep-me
        ret-20000101T000002Z.tar.gz)
foreign() {
        local f
        for f in "${FOREIGN[@]}"; do
                if [ -L "$DEST/$f" ]; then
                        echo "$f -> $(readlink "$DEST/$f")"
                elif [ -f "$DEST/$f" ]; then
                        echo "$f $(sha256sum < "$DEST/$f")"
                else
                        echo "$f $(stat -c %F "$DEST/$f" 2>&1)"
                fi
        done
}
foreign_before=$(foreign)

# run NAME: runs the worker, appends the archive it reports to $T/made.NAME
run() {
        local err rc
        err=$("$BACKUP" "$1" 2>&1 >/dev/null)
        rc=$?
        if [ $rc -ne 0 ]; then
                fail "run of $1 exits 0 (got $rc)"
                printf '%s\n' "$err" | sed 's/^/#   /'
                return 1
        fi
        printf '%s\n' "$err" | sed -n "s|^Backup done for $1 in \(.*\) (.*|\1|p" >> "$T/made.$1"
}

t_schedule ret "Source=$SRC" "Destination=$DEST" "Keep=3"

# Two runs back to back start within the same second (the engine takes a
# few milliseconds here); the second must neither fail nor replace the first.
run ret
first=$(cat "$T/made.ret")
first_sum=$(sha256sum < "$first")
run ret
mapfile -t made < "$T/made.ret"
check "two runs in quick succession both write an archive" test ${#made[@]} -eq 2
check "... under distinct names" test "${made[0]:-a}" != "${made[1]:-a}"
check "... the first archive is unchanged" test "$(sha256sum < "$first")" = "$first_sum"
run ret && run ret && run ret
mapfile -t made < "$T/made.ret"
check "five runs report five archives" test ${#made[@]} -eq 5
check "five distinct archive names" test "$(printf '%s\n' "${made[@]}" | sort -u | wc -l)" -eq 5
check "names sort in the order the runs happened" test "$(printf '%s\n' "${made[@]}")" = "$(printf '%s\n' "${made[@]}" | sort)"

mapfile -t listed < <("$CTL" backups ret)
check "backups lists 3 archives after 5 runs with Keep=3" test ${#listed[@]} -eq 3
check "the 3 newest are kept" test "$(printf '%s\n' "${listed[@]}")" = "$(printf '%s\n' "${made[@]:2:3}")"
check "exactly those 3 archives of ret are on disk" test "$(cd "$DEST" && ls -d ret-2*Z.tar* | grep -v '^ret-20000101' | sort)" \
        = "$(printf '%s\n' "${made[@]:2:3}" | xargs -n1 basename | sort)"
for a in "${listed[@]}"; do
        check "kept archive $(basename "$a") is readable" bsdtar -tf "$a" -q "${SRC#/}/numbers"
done
check "the pruned archives are gone" test ! -e "${made[0]:-x}" -a ! -e "${made[1]:-x}"
check "files that are not ret's archives are untouched" test "$(foreign)" = "$foreign_before"
check "the lock file is still there" test -f "$DEST/.alexandria-ret.lock"

# A change of compression: older .tar.gz and the new .tar.zst are one series.
t_schedule ret "Source=$SRC" "Destination=$DEST" "Keep=3" "Compression=zstd"
run ret
mapfile -t made < "$T/made.ret"
mapfile -t listed < <("$CTL" backups ret)
check "after a switch to zstd, still 3 archives" test ${#listed[@]} -eq 3
check "the newest is the .tar.zst one, the oldest .tar.gz went" \
        test "$(printf '%s\n' "${listed[@]}")" = "$(printf '%s\n' "${made[@]:3:3}")" -a "${made[5]##*.}" = zst

# Keep=0 keeps everything, in the same destination.
t_schedule all "Source=$SRC" "Destination=$DEST" "Keep=0"
for i in 1 2 3 4 5; do run all; done
mapfile -t made_all < "$T/made.all"
mapfile -t listed_all < <("$CTL" backups all)
check "Keep=0: 5 runs leave 5 archives" test ${#listed_all[@]} -eq 5
check "Keep=0: they are the 5 that were written" test "$(printf '%s\n' "${listed_all[@]}")" = "$(printf '%s\n' "${made_all[@]}")"
mapfile -t listed < <("$CTL" backups ret)
check "Keep=0 runs leave ret's archives alone" test "$(printf '%s\n' "${listed[@]}")" = "$(printf '%s\n' "${made[@]:3:3}")"

# Keep=2 for "all": pruning counts only its own archives.
t_schedule all "Source=$SRC" "Destination=$DEST" "Keep=2"
run all
mapfile -t made_all < "$T/made.all"
mapfile -t listed_all < <("$CTL" backups all)
check "Keep=2 after Keep=0 prunes down to the 2 newest" test "$(printf '%s\n' "${listed_all[@]}")" = "$(printf '%s\n' "${made_all[@]:4:2}")"
mapfile -t listed < <("$CTL" backups ret)
check "... and leaves ret's 3 archives alone" test "$(printf '%s\n' "${listed[@]}")" = "$(printf '%s\n' "${made[@]:3:3}")"
check "files that are not archives of either schedule are still untouched" test "$(foreign)" = "$foreign_before"
