#!/bin/bash
# Concurrent CLI calls never lose a schedule; hand-written files take effect
# without any command (the path unit); run exit codes are the worker's.
source "$(dirname "$0")/lib.sh"
it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }
mkdir -p "$W/src"; echo x > "$W/src/f"

# 20 concurrent creates
pids=()
for i in $(seq 1 20); do
        ctl create "$W/src;0$((i % 10)):$((10 + i));c$i" >"$W/create-$i.log" 2>&1 &
        pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
check_eq "20 concurrent creates all succeed" 0 "$failed"
check_eq "20 schedules are listed" 20 "$(ctl list | wc -l)"
check_eq "20 schedule files exist" 20 "$(sys sh -c 'ls /etc/alexandria/schedules.d/*.conf | wc -l')"
check_eq "20 timers are active" 20 "$(sys systemctl list-timers --no-legend --no-pager 'alexandria-c*.timer' | wc -l)"

# a schedule file copied in by hand gets its timer without any command
at=$(calendar_in 8)
printf '[Schedule]\nOnCalendar=%s\n[Backup]\nSource=%s\nDestination=/var/backups/hand\n' "$at" "$W/src" > "$W/hand.conf"
chmod 644 "$W/hand.conf"
check "copy a schedule file in by hand" sys cp "$W/hand.conf" /etc/alexandria/schedules.d/hand.conf
timer_active() { [ "$(sys systemctl is-active alexandria-hand.timer)" = active ]; }
wait_for 20 timer_active && ok "its timer became active without a command" || fail "alexandria-hand.timer: $(sys systemctl is-active alexandria-hand.timer)"
has_archive() { sys sh -c 'ls /var/backups/hand/hand-*.tar.gz'; }
wait_for 40 has_archive && ok "the hand-written schedule fired and wrote an archive" || fail "no archive in /var/backups/hand"

# an edit by hand takes effect too: disable it
check "disable by hand" sys sed -i 's/^\[Schedule\]$/[Schedule]\nEnabled=no/' /etc/alexandria/schedules.d/hand.conf
timer_inactive() { [ "$(sys systemctl is-active alexandria-hand.timer)" != active ]; }
wait_for 20 timer_inactive && ok "Enabled=no by hand stopped the timer" || fail "alexandria-hand.timer still active"
# and removal by hand
check "remove a schedule by hand" sys rm /etc/alexandria/schedules.d/c1.conf
gone() { ! sys systemctl list-timers --no-legend --no-pager | grep -q 'alexandria-c1\.timer'; }
wait_for 20 gone && ok "removing the file by hand stopped its timer" || fail "alexandria-c1.timer still listed: $(sys systemctl status --no-pager alexandria-update.path alexandria-update.service alexandria-c1.timer 2>&1 | head -40)"

# run: exit codes as the worker's
ctl create ok --on-calendar daily --source "$W/src" >/dev/null
out=$(ctl run ok); rc=$?
check_eq "run of a good schedule exits 0" 0 $rc
grep -Eq '^alexandria@ok.service: succeeded; archive /var/backups/alexandria/ok-[0-9]{8}T[0-9]{6}Z\.tar\.gz$' <<<"$out" \
        && ok "run prints the result and the archive" || fail "run printed: $out"

mkdir -p "$W/gone"; echo x > "$W/gone/f"
ctl create gone --on-calendar daily --source "$W/gone" >/dev/null
rm -rf "$W/gone"
out=$(ctl run gone); rc=$?
check_eq "run of a schedule whose source was removed exits 1" 1 $rc
grep -q "failed" <<<"$out" && ok "run says it failed" || fail "run printed: $out"
reported() { sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=gone | grep -q "alexandria@gone.service failed"; }
wait_for 10 reported && ok "the failure unit logged the failure" || fail "no failure report in the journal"
st=$(ctl status gone); check_eq "status of the failed schedule exits 1" 1 $?
grep -q "FAILED" <<<"$st" && ok "status says FAILED" || fail "status: $st"
grep -q "Last error: .*No such file or directory" <<<"$st" && ok "status quotes the error" || fail "status: $st"

# warnings: a file the service cannot read (the test drops the service's
# capabilities for this one schedule, so root is subject to permissions)
mkdir -p "$W/warn"; echo readable > "$W/warn/a"; echo secret > "$W/warn/b"; chmod 000 "$W/warn/b"
ctl create warn --on-calendar daily --source "$W/warn" >/dev/null
sys mkdir -p /etc/systemd/system/alexandria@warn.service.d
printf '[Service]\nCapabilityBoundingSet=\n' | sys sh -c 'cat > /etc/systemd/system/alexandria@warn.service.d/caps.conf'
sys systemctl daemon-reload
out=$(ctl run warn); rc=$?
check_eq "run with an unreadable file exits 3" 3 $rc
grep -q "succeeded with warnings" <<<"$out" && ok "run says it succeeded with warnings" || fail "run printed: $out"
sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=warn | grep -q "$W/warn/b: cannot open: Permission denied, not archived" \
        && ok "the journal names the unreadable file" || fail "no warning for $W/warn/b in the journal"
ctl status warn | grep -q WARNINGS && ok "status says WARNINGS" || fail "status: $(ctl status warn)"

# a timer that stopped behind our back: status says OVERDUE once no archive
# came for 1.5 periods (here a 4 s period), and names the inactive timer
ctl create often --on-calendar '*:*:0/4' --source "$W/src" >/dev/null
has_often() { [ -n "$(ctl backups often)" ]; }
wait_for 20 has_often && ok "a 4-second schedule wrote an archive" || fail "no archive of 'often'"
sys systemctl stop alexandria-often.timer
overdue() { grep -q OVERDUE <<<"$(ctl status often)"; }
wait_for 20 overdue && ok "status says OVERDUE when archives stop coming" || fail "status: $(ctl status often)"
st=$(ctl status often); check_eq "status of an overdue schedule exits 1" 1 $?
grep -q "TIMER-INACTIVE" <<<"$st" && ok "status says the timer is not active" || fail "status: $st"

# an encrypted schedule run by the service: the key arrives as a credential
check "keygen in the sandbox" ctl keygen /etc/alexandria/backup.key
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=/var/backups/enc\nEncryption=yes\nKeyFile=/etc/alexandria/backup.key\nVerify=yes\n' "$W/src" \
        | sys sh -c 'umask 022; cat > /etc/alexandria/schedules.d/enc.conf'
check "reload picks up the encrypted schedule" ctl reload
# (the path unit reloads too; the generator's directory is replaced while it does)
has_credential() { sys grep -qx 'LoadCredential=alexandria.key:/etc/alexandria/backup.key' /run/systemd/generator/alexandria@enc.service.d/50-alexandria.conf; }
wait_for 10 has_credential && ok "the drop-in passes the key as a credential" \
        || fail "drop-in: $(sys cat /run/systemd/generator/alexandria@enc.service.d/50-alexandria.conf 2>&1)"
out=$(ctl run enc); rc=$?
check_eq "run of an encrypted schedule exits 0" 0 $rc
grep -q '\.tar\.gz\.enc$' <<<"$out" && ok "the service wrote an encrypted archive" || fail "run printed: $out"
check "verify in the sandbox decrypts with the schedule's key" ctl verify enc
