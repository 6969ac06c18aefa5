#!/bin/bash
# Incremental runs through the real service and journal: the "started"
# entry says whether a run is full or incremental and why
# (ALEXANDRIA_KIND=, the message), a damaged or deleted index makes the next
# run full and says so, and the service's sandbox lets the worker keep its
# index in the destination.
source "$(dirname "$0")/lib.sh"
it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }
sys systemctl stop alexandria-watchdog.timer

mkdir -p "$W/src/d"
for i in $(seq 1 20); do echo "content $i" > "$W/src/d/f$i"; done
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=/var/backups/inc\nFullEvery=7d\nKeep=10\n' \
        "$W/src" > "$W/inc.conf"
chmod 644 "$W/inc.conf"
sys cp "$W/inc.conf" /etc/alexandria/schedules.d/inc.conf
ctl reload >/dev/null

# started N: the message of the Nth "started" entry of inc, and its kind
started() {
        sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=inc ALEXANDRIA_EVENT=started | sed -n "${1}p"
}
kind() {
        sys journalctl --no-pager -o export ALEXANDRIA_SCHEDULE=inc ALEXANDRIA_EVENT=started |
                sed -n 's/^ALEXANDRIA_KIND=//p' | sed -n "${1}p"
}

check_eq "the first run through the service succeeds" 0 "$(ctl run inc >/dev/null 2>&1; echo $?)"
grep -q "^Backup of inc started for $W/src (full: there is no full archive of inc in /var/backups/inc yet)\.$" <<<"$(started 1)" \
        && ok "the journal says why the first run is full" || fail "started: $(started 1)"
check_eq "... with ALEXANDRIA_KIND=full" full "$(kind 1)"
sys test -e /var/backups/inc/.alexandria-inc.index && ok "the service wrote the index into the destination" || fail "no index"

echo changed > "$W/src/d/f1"
check_eq "the second run succeeds" 0 "$(ctl run inc >/dev/null 2>&1; echo $?)"
grep -q "(incremental: on top of inc-[0-9TZ]*\.tar\.gz, 0 archives since the full inc-[0-9TZ]*\.tar\.gz)\.$" <<<"$(started 2)" \
        && ok "the journal says what the second run builds on" || fail "started: $(started 2)"
check_eq "... with ALEXANDRIA_KIND=incremental" incremental "$(kind 2)"
check "... and the archive is incremental" grep -q '\.incr\.tar\.gz$' <<<"$(ctl backups inc | tail -1)"

sys sh -c 'printf X | dd of=/var/backups/inc/.alexandria-inc.index bs=1 seek=40 conv=notrunc status=none'
check_eq "a run after the index was damaged succeeds" 0 "$(ctl run inc >/dev/null 2>&1; echo $?)"
grep -q "(full: the index /var/backups/inc/.alexandria-inc.index is damaged (its checksum does not match its contents))\.$" \
        <<<"$(started 3)" && ok "the journal says the index is damaged" || fail "started: $(started 3)"

sys rm /var/backups/inc/.alexandria-inc.index
check_eq "a run after the index was deleted succeeds" 0 "$(ctl run inc >/dev/null 2>&1; echo $?)"
grep -q "(full: there is no index /var/backups/inc/.alexandria-inc.index of the newest restore point)\.$" <<<"$(started 4)" \
        && ok "the journal says there is no index" || fail "started: $(started 4)"

grep -q "incremental on inc-" <<<"$(ctl backups -l inc)" && ok "backups -l shows the chain" || fail "backups -l: $(ctl backups -l inc)"
check "verify checks the chain of the newest point" ctl verify inc
