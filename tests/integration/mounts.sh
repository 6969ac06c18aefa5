#!/bin/bash
# Never silent, part two, against the real manager: the disk that is not
# mounted (RequiresMountsFor= in the generated unit; a source on an fstab
# mount point that is not mounted fails the run without an archive), and
# the backup that shrinks, told to the notifier with both figures.
source "$(dirname "$0")/lib.sh"
for t in mkfs.ext4 losetup; do
        command -v "$t" >/dev/null 2>&1 || { echo "# SKIP: $t not installed"; exit 77; }
done
it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }
sys systemctl stop alexandria-watchdog.timer

# --- a loop-mounted disk, listed in the sandbox's /etc/fstab (an overlay)
# The sandbox's /dev is its own: give it the loop devices.
sys mknod -m 660 /dev/loop-control c 10 237 2>/dev/null
for i in $(seq 0 15); do sys mknod -m 660 "/dev/loop$i" b 7 "$i" 2>/dev/null; done
truncate -s 16M "$W/disk.img"
mkfs.ext4 -q -F "$W/disk.img" || { fail "mkfs"; exit 1; }
mkdir -p "$W/mnt"
sys sh -c "echo '$W/disk.img $W/mnt ext4 loop,noauto 0 0' >> /etc/fstab"
sys systemctl daemon-reload
out=$(sys mount "$W/mnt" 2>&1) || { fail "mount the loop disk: $out $(sys tail -2 /etc/fstab)"; exit 1; }
sys sh -c "mkdir -p $W/mnt/data && echo precious > $W/mnt/data/file"

ctl create disk --on-calendar daily --source "$W/mnt/data" --dest /var/backups/disk >/dev/null
unit=$(sys systemctl cat alexandria@disk.service)
grep -qx "RequiresMountsFor=\"$W/mnt/data\"" <<<"$unit" && ok "the unit requires the source's mounts" || fail "unit: $unit"
grep -qx 'RequiresMountsFor="/var/backups/disk"' <<<"$unit" && ok "the unit requires the destination's mounts" || fail "unit: $unit"
check "mounted: the run succeeds" ctl run --here disk
check "and wrote one archive" test "$(ctl backups disk | wc -l)" -eq 1

# unmounted: the directory underneath is there (as after a failed mount), but empty
sys umount "$W/mnt"
sys mkdir -p "$W/mnt/data"
out=$(ctl run --here disk 2>&1); rc=$?
check_eq "unmounted: run --here fails (exit 1)" 1 "$rc"
grep -q "Source $W/mnt/data is on $W/mnt, which /etc/fstab lists as a mount point, but nothing is mounted there" <<<"$out" \
        && ok "the message names the source and the mount point" || fail "output: $out"
check "no archive of the empty directory" test "$(ctl backups disk | wc -l)" -eq 1
grep -q "is on $W/mnt, which /etc/fstab lists" <<<"$(ctl history disk)" && ok "the run record says why" || fail "history: $(ctl history disk)"

# through the service, systemd mounts the disk first (RequiresMountsFor=)
sys rmdir "$W/mnt/data"
out=$(ctl run disk); rc=$?
check_eq "the service run mounts the disk and succeeds" 0 "$rc"
check "a second archive" test "$(ctl backups disk | wc -l)" -eq 2
sys findmnt "$W/mnt" >/dev/null && ok "systemd mounted it for the run" || fail "not mounted"
sys umount "$W/mnt"
# a disk that cannot be mounted: the run fails loudly, nothing is written
mv "$W/disk.img" "$W/gone.img"
out=$(ctl run disk 2>&1); rc=$?
check_eq "a disk that cannot be mounted fails the service run" 1 "$rc"
check "no archive when the mount failed" test "$(ctl backups disk | wc -l)" -eq 2
mv "$W/gone.img" "$W/disk.img"

# a destination on the unmounted disk: not even its directory is created
ctl create todisk --on-calendar daily --source "$W/stage" --dest "$W/mnt/backups" >/dev/null 2>&1
out=$(ctl run --here todisk 2>&1); rc=$?
check_eq "a destination on an unmounted disk fails the run" 1 "$rc"
grep -q "Destination $W/mnt/backups is on $W/mnt" <<<"$out" && ok "naming the destination" || fail "output: $out"
sys findmnt "$W/mnt" >/dev/null && fail "the disk is mounted: cannot check the directory underneath" || check "nothing was created underneath" test ! -e "$W/mnt/backups"

# --- a disk an admin mounts with a .mount unit, not in /etc/fstab
truncate -s 16M "$W/disk2.img"
mkfs.ext4 -q -F "$W/disk2.img" || { fail "mkfs disk2"; exit 1; }
mkdir -p "$W/mnt2"
unit_name=$(systemd-escape --path --suffix=mount "$W/mnt2")
printf '[Mount]\nWhat=%s\nWhere=%s\nType=ext4\nOptions=loop\n' "$W/disk2.img" "$W/mnt2" > "$W/$unit_name"
chmod 644 "$W/$unit_name"
sys cp "$W/$unit_name" "/etc/systemd/system/$unit_name"
sys systemctl daemon-reload
out=$(sys systemctl start "$unit_name" 2>&1) || { fail "start $unit_name: $out"; exit 1; }
sys sh -c "mkdir -p $W/mnt2/data && echo precious > $W/mnt2/data/file"
sys systemctl stop "$unit_name"
sys mkdir -p "$W/mnt2/data"
ctl create unitdisk --on-calendar daily --source "$W/mnt2/data" --dest /var/backups/unitdisk >/dev/null
out=$(ctl run --here unitdisk 2>&1); rc=$?
check_eq "a source on a .mount unit's unmounted disk fails the run (exit 1)" 1 "$rc"
grep -qF "Source $W/mnt2/data is on $W/mnt2, which /etc/systemd/system/$unit_name lists as a mount point" <<<"$out" \
        && ok "the message names the source and the mount unit" || fail "output: $out"
check "no archive of the directory underneath" test -z "$(ctl backups unitdisk)"
sys rmdir "$W/mnt2/data"
out=$(ctl run unitdisk 2>&1); rc=$?
check_eq "through the service, RequiresMountsFor= starts the .mount unit and the run succeeds" 0 "$rc"
sys systemctl is-active -q "$unit_name" && ok "the .mount unit is active" || fail "$unit_name is not active"
arch=$(ctl backups unitdisk | tail -1)
sys tar -tzf "$arch" > "$W/unitdisk.list" 2>&1
check "its archive holds the file on the disk" grep -q "mnt2/data/file$" "$W/unitdisk.list"
sys systemctl stop "$unit_name"

# --- the backup that shrinks, told to the notifier with both figures
mkdir -p "$W/src"
for i in $(seq 1 50); do echo "content $i" > "$W/src/f$i"; done
: > "$W/events.log"
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=/var/backups/shr\n[Notify]\nNotifyCommand=%s\n' \
        "$W/src" "printf '%s|%s\\n' \"\$ALEXANDRIA_EVENT\" \"\$ALEXANDRIA_MESSAGE\" >> $W/events.log" > "$W/shr.conf"
chmod 644 "$W/shr.conf"
sys cp "$W/shr.conf" /etc/alexandria/schedules.d/shr.conf
ctl reload >/dev/null
for i in 1 2 3; do ctl run shr >/dev/null; done
rm -f "$W"/src/f[1-4]*
out=$(ctl run shr); rc=$?
check_eq "the shrunk run exits 3 through the service" 3 "$rc"
grep -q "^warnings|Backup done for shr .* It read far less than usual: 7 files, .* read; usually 51 files" "$W/events.log" \
        && ok "the notifier is told, with both figures" || fail "events: $(cat "$W/events.log")"
sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=shr MESSAGE_ID=2f7bf1fc6b464426ab888f0a5dc5bd41 -p warning \
        | grep -q "read far less than usual: 7 files" && ok "a warning entry in the journal" || fail "no shrank entry"
st=$(ctl status shr)
grep -q "^shr.* SHRUNK" <<<"$st" && ok "status shows SHRUNK" || fail "status: $st"

# delete --archives forgets the history, and a schedule made again under the
# name is not judged by the old one's runs: not by its records, nor by the
# journal, whose entries of the old schedule stay
out=$(ctl delete shr --archives --yes 2>&1); rc=$?
check_eq "delete shr --archives exits 0" 0 "$rc"
ctl create shr --on-calendar daily --source "$W/src" --dest /var/backups/shr2 >/dev/null
st=$(ctl status shr)
grep -q "SHRUNK\|with warnings" <<<"$st" && fail "the new shr shows the old one's last run: $st" \
        || ok "the new shr has no last run of the old one's"

# a destination on a disk that is not mounted: its archives cannot be seen,
# so delete --archives changes nothing (not even the history)
out=$(ctl delete todisk --archives --yes 2>&1); rc=$?
check_eq "delete --archives of a schedule whose disk is not mounted fails" 1 "$rc"
grep -q "Destination $W/mnt/backups is on $W/mnt.*Nothing was changed" <<<"$out" && ok "... saying why" || fail "output: $out"
sys test -e /etc/alexandria/schedules.d/todisk.conf && ok "... and the schedule file is still there" || fail "todisk.conf is gone"
