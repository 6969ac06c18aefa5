#!/bin/bash
# A whole Debian server against this machine's real dpkg database:
# SkipPackaged= (merged /usr, conffiles, alternatives, a diversion,
# VerifyPackaged=), Exclude= beating everything, Source=/ and its built-in
# excludes (file system types, paths), Expect= and the unexpected-files
# report, the package state in the archive and its round trip through
# dpkg --set-selections, and a broken or missing dpkg database.
#
# The test runs in a mount namespace of its own, with overlays on /usr and
# /var whose upper layers live in its directory: the file it creates in
# /usr/bin, its dpkg-divert, the selections and marks it sets all land
# there. The host's files and dpkg state stay as they are.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "# SKIP: needs root (mount namespaces)"; exit 77; }
{ [ -r /var/lib/dpkg/status ] && command -v dpkg-divert >/dev/null; } || { echo "# SKIP: no dpkg"; exit 77; }
if [ -z "${ALEXANDRIA_TEST_NAMESPACE:-}" ]; then
        exec env ALEXANDRIA_TEST_NAMESPACE=1 unshare -m --propagation private bash "$0" "$@"
fi
t_setup
T_CLEANUP_HOOK='umount -R /media 2>/dev/null; umount -l /var 2>/dev/null; umount -l /usr 2>/dev/null'
for d in usr var; do
        mkdir -p "$T/up-$d" "$T/wk-$d"
        mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/up-$d,workdir=$T/wk-$d" "/$d" || { fail "an overlay on /$d"; exit 1; }
done
check "/usr is this test's overlay (nothing reaches the host)" test "$(stat -f -c %T /usr)" = overlayfs

# listed FILE PATH: PATH is a line of FILE
listed() { grep -qxF -- "$2" "$1"; }
not_listed() { ! grep -qxF -- "$2" "$1"; }

# ---- SkipPackaged=yes on /usr/bin and /etc ----
echo unowned > /usr/bin/alexandria-test-unowned
echo expected > /usr/bin/expected-tool
dpkg-divert --quiet --local --rename --add /usr/bin/tac
printf '#!/bin/sh\nexec /usr/bin/tac.distrib "$@"\n' > /usr/bin/tac
chmod 755 /usr/bin/tac /usr/bin/alexandria-test-unowned
check "dpkg sees the local diversion of /usr/bin/tac" sh -c 'dpkg-divert --list /usr/bin/tac | grep -q "local diversion of /usr/bin/tac to /usr/bin/tac.distrib"'

t_schedule srv "Source=/usr/bin" "Source=/etc" "Source=/var/lib/dpkg" "Source=/usr/lib/x86_64-linux-gnu/libc.so.6" \
        "Destination=$T/dest" "SkipPackaged=yes" "Expect=/etc" "Expect=/usr/bin/expected-*"
"$CTL" files srv > "$T/files" 2> "$T/files.err"; rc=$?
check "files exits 0" test "$rc" = 0
"$CTL" files srv --unexpected > "$T/unexpected"
check "a file created in /usr/bin is selected" listed "$T/files" /usr/bin/alexandria-test-unowned
check "... and unexpected" listed "$T/unexpected" /usr/bin/alexandria-test-unowned
check "a file an Expect= glob covers is selected" listed "$T/files" /usr/bin/expected-tool
check "... and expected" not_listed "$T/unexpected" /usr/bin/expected-tool
check "/usr/bin/ls (dpkg says /bin/ls: merged /usr) is not selected" not_listed "$T/files" /usr/bin/ls
check "/usr/bin/dpkg is not selected" not_listed "$T/files" /usr/bin/dpkg
check "libc.so.6 (a packaged Source= itself) is not selected" not_listed "$T/files" /usr/lib/x86_64-linux-gnu/libc.so.6
check "/etc/passwd (no package ships it) is selected" listed "$T/files" /etc/passwd
check "the conffile /etc/bash.bashrc is selected" listed "$T/files" /etc/bash.bashrc
check "Expect=/etc covers them" sh -c '! grep -q "^/etc/" "$1"' _ "$T/unexpected"
check "the diverted original /usr/bin/tac.distrib is selected" listed "$T/files" /usr/bin/tac.distrib
check "the admin's /usr/bin/tac in its place is selected" listed "$T/files" /usr/bin/tac
check "neither is unexpected (dpkg's business)" sh -c '! grep -q "^/usr/bin/tac" "$1"' _ "$T/unexpected"
if [ -e /var/lib/dpkg/alternatives/editor ]; then
        check "the alternatives link /usr/bin/editor is selected" listed "$T/files" /usr/bin/editor
        check "... and /etc/alternatives/editor" listed "$T/files" /etc/alternatives/editor
fi
check "the dpkg database is selected" listed "$T/files" /var/lib/dpkg/status
check "... and never unexpected" sh -c '! grep -q "^/var/lib/dpkg" "$1"' _ "$T/unexpected"
check_usr_bin() { [ "$(grep '^/usr/bin/' "$T/unexpected")" = /usr/bin/alexandria-test-unowned ]; }
check "in /usr/bin only the new file is unexpected: the rest are alternatives, the diversion, the expected" check_usr_bin
check "packaged /usr/bin is stored only as the parent of what is kept" listed "$T/files" /usr/bin
"$CTL" files srv -0 | tr '\0' '\n' > "$T/files0"
check "-0 gives the same list, NUL-separated" cmp -s "$T/files" "$T/files0"
"$CTL" files srv --explain > "$T/explain"
check "--explain: the conffile's reason" listed "$T/explain" "+ /etc/bash.bashrc (conffile)"
check "--explain: the diversion's" listed "$T/explain" "+ /usr/bin/tac.distrib (dpkg)"
check "--explain: the unexpected file's" listed "$T/explain" "+ /usr/bin/alexandria-test-unowned (unowned, unexpected)"
check "--explain: the dpkg database figures" grep -q "^#   dpkg database /var/lib/dpkg: [0-9]* packages, [0-9]* paths" "$T/explain"

# ---- Exclude= beats everything ----
t_schedule ex "Source=/usr/bin" "Source=/etc" "Source=/var/lib/dpkg" "Destination=$T/dest" "SkipPackaged=yes" \
        "Exclude=/etc/passwd" "Exclude=/etc/bash.bashrc" "Exclude=alexandria-test-unowned" "Exclude=/usr/bin/editor" \
        "Exclude=/var/lib/dpkg/status" "Exclude=tac.distrib"
"$CTL" files ex > "$T/files-ex"
for p in /etc/passwd /etc/bash.bashrc /usr/bin/alexandria-test-unowned /usr/bin/editor /var/lib/dpkg/status /usr/bin/tac.distrib; do
        check "Exclude= beats what would keep $p" not_listed "$T/files-ex" "$p"
done
check "... and nothing else" listed "$T/files-ex" /usr/bin/tac

# ---- VerifyPackaged=yes ----
printf '\n# changed\n' >> /usr/bin/rev
t_schedule ver "Source=/usr/bin" "Destination=$T/dest" "SkipPackaged=yes" "VerifyPackaged=yes" "Expect=/usr/bin/alexandria-*"
t_schedule nover "Source=/usr/bin" "Destination=$T/dest" "SkipPackaged=yes"
"$CTL" files ver --explain > "$T/files-ver"
check "VerifyPackaged=yes keeps a packaged file that was changed" listed "$T/files-ver" "+ /usr/bin/rev (modified, unexpected)"
check "... and not the unchanged ones" sh -c '! grep -q "^+ /usr/bin/rev[a-z]" "$1" && ! grep -qx "+ /usr/bin/dpkg (.*" "$1"' _ "$T/files-ver"
check "without it, the changed file is left to its package" sh -c '! "$1" files nover | grep -qx /usr/bin/rev' _ "$CTL"

# ---- a run: the archive holds what files lists, and the package state ----
t_schedule run1 "Source=/usr/bin" "Source=/etc/bash.bashrc" "Source=/etc/passwd" "Source=/var/lib/dpkg/diversions" "Destination=$T/dest1" \
        "SkipPackaged=yes" "Expect=/etc" "Expect=/usr/bin/expected-*" \
        "[Notify]" "NotifyCommand=printf '%s|%s|%s\\n' \"\$ALEXANDRIA_EVENT\" \"\$ALEXANDRIA_UNEXPECTED_FILE\" \"\$ALEXANDRIA_MESSAGE\" >> $T/events.log"
: > "$T/events.log"
run() {         # run INVOCATION: the worker, then what ExecStopPost= runs
        INVOCATION_ID=$1 "$BACKUP" run1 > "$T/run.out" 2>&1; local rc=$?
        EXIT_CODE=exited EXIT_STATUS=$rc INVOCATION_ID=$1 "$CTL" notify run1 finished >> "$T/notify.out" 2>&1
        return $rc
}
run inv1; rc=$?
check "the run succeeds" test "$rc" = 0
archive=$("$CTL" backups run1)
tar -tzf "$archive" > "$T/archive-list"
check "the package state is in .alexandria/system/" sh -c 'for e in README dpkg-selections apt-manual apt-auto packages dpkg-architectures; do grep -qx ".alexandria/system/$e" "$1" || exit 1; done' _ "$T/archive-list"
if command -v debconf-get-selections >/dev/null; then
        check "... with the debconf selections" listed "$T/archive-list" .alexandria/system/debconf-selections
else
        check "... without debconf selections where debconf-utils is missing" not_listed "$T/archive-list" .alexandria/system/debconf-selections
fi
grep -v '^\.alexandria' "$T/archive-list" | sed 's|^|/|; s|/$||' | sort > "$T/archived"
"$CTL" files run1 | sort > "$T/selected"
check "the archive holds exactly what files lists" cmp -s "$T/archived" "$T/selected"
check "the worker tells about the unexpected file" grep -q "1 unexpected file (no Expect= covers them): /usr/bin/alexandria-test-unowned" "$T/run.out"
check "the state keeps the full list" test "$(cat "$ALEXANDRIA_STATE_DIR/run1.unexpected")" = /usr/bin/alexandria-test-unowned
check "the list is private" test "$(stat -c %a "$ALEXANDRIA_STATE_DIR/run1.unexpected")" = 600
rec=$(ls "$ALEXANDRIA_STATE_DIR"/runs/run1/*.run | tail -n1)
check "the run record counts it" grep -qx UNEXPECTED=1 "$rec"
check "... with the list's SHA-256" grep -qx "UNEXPECTED_SHA256=$(sha256sum < "$ALEXANDRIA_STATE_DIR/run1.unexpected" | cut -d' ' -f1)" "$rec"
check "an unexpected file is no warning of the run" grep -qx WARNINGS=0 "$rec"
"$CTL" --no-reload status run1 > "$T/status"
check "status shows the unexpected files" grep -q "Unexpected: 1 file no Expect= covers" "$T/status"
check "... by name" grep -qx "        /usr/bin/alexandria-test-unowned" "$T/status"
check "the notifier was told" grep -qx "unexpected|$ALEXANDRIA_STATE_DIR/run1.unexpected|1 file not covered by Expect= (the list changed)" "$T/events.log"
run inv2
check "the same set again: not told again" test "$(grep -c '^unexpected|' "$T/events.log")" = 1
rm /usr/bin/alexandria-test-unowned
run inv3
check "the set changed (now empty): told again" grep -q "^unexpected|.*|no unexpected files any more$" "$T/events.log"
check "status: none" grep -q "Unexpected: none" <("$CTL" --no-reload status run1)
echo unowned > /usr/bin/alexandria-test-unowned

# ---- the round trip: selections restored and read back by dpkg ----
rm -rf "$T/rebuild"
"$CTL" restore run1 "$archive" --to "$T/rebuild" .alexandria/system > /dev/null
S=$T/rebuild/.alexandria/system
check "the package state restores" test -s "$S/dpkg-selections"
check "the selections are the system's" cmp -s "$S/dpkg-selections" <(dpkg --get-selections)
dpkg --clear-selections
check "clear-selections changed them (the check below can fail)" sh -c '! dpkg --get-selections | cmp -s "$1" -' _ "$S/dpkg-selections"
dpkg --set-selections < "$S/dpkg-selections"
check "dpkg --set-selections reads them back, the same" cmp -s "$S/dpkg-selections" <(dpkg --get-selections)
apt-get -s -q dselect-upgrade > "$T/dselect" 2>&1
check "apt-get dselect-upgrade would install and remove nothing" grep -q " 0 newly installed, 0 to remove" "$T/dselect"
xargs -r apt-mark manual < "$S/apt-manual" > /dev/null
xargs -r apt-mark auto < "$S/apt-auto" > /dev/null
check "apt-mark reads the marks back, the same" cmp -s "$S/apt-auto" <(apt-mark showauto)
check "the versions are dpkg's" grep -qx "coreutils	$(dpkg-query -W -f '${Version}' coreutils)	ii " "$S/packages"
if [ -e "$S/debconf-selections" ]; then
        check "debconf-set-selections takes the debconf selections" debconf-set-selections -c "$S/debconf-selections"
fi
# the local diversions, as docs/rebuild.md sets them again
rm /usr/bin/tac && dpkg-divert --quiet --local --rename --remove /usr/bin/tac
check "(the diversion is gone)" sh -c '! dpkg-divert --list /usr/bin/tac | grep -q local'
rm -rf "$T/rebuild"
"$CTL" restore run1 "$archive" --to "$T/rebuild" > /dev/null
paste - - - < "$T/rebuild/var/lib/dpkg/diversions" | awk -F'\t' '$3 == ":"' |
        while IFS=$'\t' read -r from to _; do dpkg-divert --local --rename --divert "$to" --add "$from"; done > /dev/null
check "the local diversion is set again from the old database" sh -c 'dpkg-divert --list /usr/bin/tac | grep -q "local diversion of /usr/bin/tac to /usr/bin/tac.distrib"'
check "... and its file moved aside again" test -e /usr/bin/tac.distrib -a ! -e /usr/bin/tac
# the rest, as docs/rebuild.md restores it: all but boot, var/lib/dpkg, .alexandria
( cd "$T/rebuild"
  paths=$( { ls -A | grep -vx -e .alexandria -e boot -e var
             ls -A var | grep -vx lib | sed 's|^|var/|'
             ls -A var/lib | grep -vx dpkg | sed 's|^|var/lib/|'; } )
  # shellcheck disable=SC2086
  "$CTL" restore run1 "$archive" --to "$T/restored" --overwrite $paths > /dev/null )
check "the rest restores: a conffile" cmp -s /etc/bash.bashrc "$T/restored/etc/bash.bashrc"
check "... a file no package ships" cmp -s /etc/passwd "$T/restored/etc/passwd"
[ -L /usr/bin/editor ] && check "... an alternatives link" test "$(readlink "$T/restored/usr/bin/editor")" = "$(readlink /usr/bin/editor)"
check "... but not the old dpkg database" test ! -e "$T/restored/var/lib/dpkg"
check "... nor the package state" test ! -e "$T/restored/.alexandria"

# ---- Source=/: what a whole server means ----
# /media becomes a tree of mounts: a disk file system (an ext4 image where
# loop devices work, else an overlay), a tmpfs, a proc.
mkdir -p "$T/media-lower" "$T/up-media" "$T/wk-media"
mount -t overlay overlay -o "lowerdir=$T/media-lower,upperdir=$T/up-media,workdir=$T/wk-media" /media
mkdir -p /media/disk /media/scratch /media/proc
if truncate -s 8M "$T/disk.img" && mkfs.ext4 -q "$T/disk.img" 2>/dev/null && mount -o loop "$T/disk.img" /media/disk 2>/dev/null; then
        disk=ext4
else
        mkdir -p "$T/disk-lower" "$T/up-disk" "$T/wk-disk"
        mount -t overlay overlay -o "lowerdir=$T/disk-lower,upperdir=$T/up-disk,workdir=$T/wk-disk" /media/disk
        disk=overlay
fi
echo data > /media/disk/file-on-disk
mount -t tmpfs tmpfs /media/scratch && echo gone > /media/scratch/file-in-tmpfs
mount -t proc proc /media/proc
mkdir -p /var/backups/alexandria-test && echo archive > /var/backups/alexandria-test/old.tar.gz
mkdir -p /var/cache/apt/archives /var/lib/apt/lists && touch /var/cache/apt/archives/x.deb /var/lib/apt/lists/x_Packages
t_schedule root "Source=/" "Destination=/var/backups/alexandria-test" "SkipPackaged=yes" \
        "Exclude=/work" "Exclude=/root" "Exclude=/home" "Exclude=/var/cache/alexandria-bench" "Exclude=/mnt"
"$CTL" files root > "$T/root" 2> "$T/root.err"; rc=$?
check "files of Source=/ exits 0" test "$rc" = 0
for p in /proc /sys /dev /run /tmp /var/cache/apt/archives /var/lib/apt/lists /var/backups/alexandria-test /media/scratch /media/proc; do
        check "Source=/ stores nothing of $p" sh -c '! grep -q "^$2\(/\|$\)" "$1"' _ "$T/root" "$p"
done
check "Source=/ crosses into another local file system ($disk)" listed "$T/root" /media/disk/file-on-disk
check "... and keeps what no package ships" listed "$T/root" /etc/passwd
check "... and the dpkg database" listed "$T/root" /var/lib/dpkg/status
check "... but no packaged file" not_listed "$T/root" /usr/bin/dpkg
check "... nor a packaged directory with nothing kept below it" not_listed "$T/root" /usr/share/doc/dpkg
"$CTL" files root --explain > "$T/root-explain"
check "--explain: a tmpfs mount point, by type" listed "$T/root-explain" "- /media/scratch (filesystem: tmpfs)"
check "--explain: a proc mount point, by type" listed "$T/root-explain" "- /media/proc (filesystem: proc)"
check "--explain: /tmp by path" grep -qx -- "- /tmp (built-in: .*)" "$T/root-explain"
check "--explain: the destination" listed "$T/root-explain" "- /var/backups/alexandria-test (destination)"
MAN=${ALEXANDRIA_SOURCE_DIR:?}/man/alexandria.schedule.5.scd
while read -r path; do
        check "the man page lists the built-in exclude $path" grep -qF -- "$path" "$MAN"
done < <(sed -n 's|^#   \(/[^ ]*\) .*|\1|p' "$T/root-explain" | grep -v alexandria-test)
umount -R /media

# ---- a broken or missing dpkg database is an error, never a silent backup ----
printf 'this is not\na status file\n' > "$T/garbage"
mount --bind "$T/garbage" /var/lib/dpkg/status
"$CTL" files srv > /dev/null 2> "$T/err"; rc=$?
check "files with a broken status exits 1" test "$rc" = 1
check "... naming the file and line" grep -q "/var/lib/dpkg/status:1: not a field" "$T/err"
n_before=$(ls "$T/dest1" | wc -l)
"$BACKUP" run1 > /dev/null 2> "$T/err"; rc=$?
check "a run with a broken status exits 1" test "$rc" = 1
check "... and writes no archive" test "$(ls "$T/dest1" | wc -l)" = "$n_before"
check "... saying why" grep -q "/var/lib/dpkg/status:1" "$T/err"
umount /var/lib/dpkg/status

mv /var/lib/dpkg/info/coreutils.list "$T/coreutils.list"
"$CTL" files srv > /dev/null 2> "$T/err"; rc=$?
check "a missing .list of an installed package: exit 1" test "$rc" = 1
check "... naming it" grep -q "info/coreutils.list is missing" "$T/err"
mv "$T/coreutils.list" /var/lib/dpkg/info/coreutils.list

if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
        chmod 0700 /var/lib/dpkg/info
        N=$T/nobody && mkdir -p "$N/conf/schedules.d" && chmod 755 "$T"
        printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=/etc\nSkipPackaged=yes\nDestination=%s\n' "$N/dest" > "$N/conf/schedules.d/nb.conf"
        chown -R nobody "$N"
        setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env HOME="$N" ALEXANDRIA_STATE_DIR="$N/state" \
                "$CTL" --config-dir "$N/conf" files nb > /dev/null 2> "$T/err"; rc=$?
        check "an unreadable dpkg database: exit 1" test "$rc" = 1
        check "... saying so" grep -q "Cannot open the dpkg database /var/lib/dpkg/info: Permission denied" "$T/err"
        chmod 0755 /var/lib/dpkg/info
        chmod 700 "$T"
fi

mount -t tmpfs tmpfs /var/lib/dpkg
"$CTL" --no-reload create nodpkg --on-calendar daily --source /etc --skip-packaged 2> "$T/err"; rc=$?
check "create --skip-packaged without dpkg exits 2" test "$rc" = 2
check "... saying why" grep -q "SkipPackaged=yes needs dpkg's database: /var/lib/dpkg/status does not exist: this system has no dpkg" "$T/err"
check "... and writes nothing" test ! -e "$ALEXANDRIA_CONFIG_DIR/schedules.d/nodpkg.conf"
"$CTL" --no-reload create withdpkg --on-calendar daily --source /etc > /dev/null 2>&1
check "create without SkipPackaged= still works there" test -e "$ALEXANDRIA_CONFIG_DIR/schedules.d/withdpkg.conf"
"$CTL" files srv > /dev/null 2> "$T/err"; rc=$?
check "files of a SkipPackaged= schedule without dpkg exits 1" test "$rc" = 1
umount /var/lib/dpkg
"$CTL" --no-reload create withdpkg2 --on-calendar daily --source /etc --skip-packaged --expect /etc > /dev/null 2>&1
check "with dpkg, create --skip-packaged --expect writes the schedule" \
        grep -qx "Expect=/etc" "$ALEXANDRIA_CONFIG_DIR/schedules.d/withdpkg2.conf"
