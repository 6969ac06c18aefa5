#!/bin/bash
# The original backup-manager walk-through, in a real systemd: schedules
# become timers that really fire, archives appear, the journal tells.
source "$(dirname "$0")/lib.sh"
it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }

for i in 1 2 3; do mkdir -p "$W/data$i/sub"; echo "file $i" > "$W/data$i/sub/f"; done
dest=/var/backups/alexandria

# create, the short and the long form
check "create the short form" ctl create "$W/data1;03:00;one"
check "create the long form" ctl create two --on-calendar "$(calendar_in 3600)" --source "$W/data2" --keep 2
check "create with a destination" ctl create three --on-calendar daily --source "$W/data3" --dest /var/backups/three
ctl create 'bad;25:00;x' >/dev/null 2>&1; check_eq "a malformed create is refused with exit 2" 2 $?
check "the refused create wrote nothing" test ! -e "$SANDBOX_SYSTEM_DIR/up-etc/alexandria/schedules.d/x.conf"

list=$(ctl list)
check_eq "list prints the schedules with their index" "0: $W/data1;03:00;one" "$(echo "$list" | sed -n 1p)"
check "list shows the long form" grep -q "^2: two OnCalendar=" <<<"$(ctl list | sort)"
echo "$list" | grep -q '^1: three OnCalendar=daily' && ok "list: three" || fail "list: three: $list"

# timers exist, are visible to systemctl, and pass systemd's own verification
timers=$(sys systemctl list-timers --all --no-legend --no-pager)
for n in one two three; do
        grep -q "alexandria-$n.timer" <<<"$timers" && ok "list-timers shows alexandria-$n.timer" || fail "list-timers lacks alexandria-$n.timer: $timers"
        check_eq "alexandria-$n.timer is active" active "$(sys systemctl is-active alexandria-$n.timer)"
done
gen=/run/systemd/generator
check "systemd-analyze verify passes on the generated timer and service" \
        sys systemd-analyze verify "$gen/alexandria-two.timer" alexandria@two.service
check_eq "the timer starts the right service" "alexandria@two.service" "$(sys systemctl show -P Triggers alexandria-two.timer)"
check "the timer names its schedule as SourcePath" sys grep -qx "SourcePath=/etc/alexandria/schedules.d/two.conf" "$gen/alexandria-two.timer"
check "the service drop-in allows writing the destination" sys grep -qx 'ReadWritePaths=-"/var/backups/three"' "$gen/alexandria@three.service.d/50-alexandria.conf"

# now make them fire a few seconds ahead: rewrite each calendar by hand
# (the path unit picks up hand edits), then start all
at=$(calendar_in 6)
for n in one two three; do
        f=$SANDBOX_SYSTEM_DIR/up-etc/alexandria/schedules.d/$n.conf
        sys sed -i "s/^OnCalendar=.*/OnCalendar=$at/" /etc/alexandria/schedules.d/$n.conf
done
check "start all" ctl start
for n in one two three; do
        check_eq "after start, alexandria-$n.timer elapses at the new time" "$at" \
                "$(sys systemctl show -P NextElapseUSecRealtime alexandria-$n.timer | awk '{print $2" "$3}')"
done
count_archives() { [ "$(ctl backups | wc -l)" -ge 3 ]; }
if wait_for 60 count_archives; then ok "the three timers fired and wrote three archives"; else fail "archives after 60 s: $(ctl backups)"; fi
sleep 1
backups=$(ctl backups)
for n in one two three; do
        grep -Eq "/$n-[0-9]{8}T[0-9]{6}Z\.tar\.gz$" <<<"$backups" && ok "backups lists an archive of $n" || fail "no archive of $n in: $backups"
        done_entries=$(sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=$n MESSAGE_ID=2b4c85653858491da1b778481630ffb8)
        grep -q "Backup done for $n" <<<"$done_entries" && ok "the journal holds a success entry for $n" || fail "no success entry for $n"
done
sys journalctl --no-pager -o export ALEXANDRIA_SCHEDULE=two MESSAGE_ID=2b4c85653858491da1b778481630ffb8 > "$W/export"
for field in ALEXANDRIA_ARCHIVE ALEXANDRIA_FILES ALEXANDRIA_BYTES ALEXANDRIA_ARCHIVE_BYTES ALEXANDRIA_DURATION_USEC SYSLOG_IDENTIFIER=alexandria; do
        grep -q "^$field" "$W/export" && ok "success entry has $field" || fail "success entry lacks $field"
done
logs=$(ctl logs two)
grep -Eq '^\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}\] Backup done for two in /var/backups/alexandria/two-.*\.tar\.gz \(3 files, [0-9.]+ MiB, [0-9.]+s\)$' <<<"$logs" \
        && ok "logs prints the done line" || fail "logs: $logs"

st=$(ctl status two); rc=$?
check_eq "status of a healthy schedule exits 0" 0 $rc
grep -q "Newest archive: /var/backups/alexandria/two-" <<<"$st" && ok "status shows the newest archive" || fail "status: $st"
grep -q "succeeded" <<<"$st" && ok "status shows the last result" || fail "status: $st"

# stop and delete
check "stop one" ctl stop one
check_eq "the stopped timer is inactive" inactive "$(sys systemctl is-active alexandria-one.timer)"
check "stop wrote Enabled=no" sys grep -qx "Enabled=no" /etc/alexandria/schedules.d/one.conf
ctl status one | grep -q DISABLED && ok "status says DISABLED" || fail "status: $(ctl status one)"
check "delete by index" ctl delete 0
check "the schedule file is gone" sys test ! -e /etc/alexandria/schedules.d/one.conf
check_eq "the deleted schedule's timer is gone" "" "$(sys systemctl list-timers --all --no-legend --no-pager | grep alexandria-one || true)"
check "delete keeps the archives" test -n "$(ctl backups | grep -c /one- || true)"
check "the archive of a deleted schedule is still on disk" sys sh -c "ls $dest/one-*.tar.gz"
check "delete by name" ctl delete three
check_eq "one schedule is left" "0: two" "$(ctl list | cut -d' ' -f1-2)"
