#!/bin/bash
# The same life cycle under a user manager (--user): XDG paths, the user
# generator, timers that fire, the journal, stop and delete.
source "$(dirname "$0")/lib.sh"
it_setup
sandbox_user_boot "$W" "$STAGE" || { fail "boot the user sandbox"; exit 1; }
mkdir -p "$W/src/d"; echo hello > "$W/src/d/f"

check "create --user" uctl create mine --on-calendar "$(calendar_in 3600)" --source "$W/src" --keep 2
cfg=$SANDBOX_USER_CONFIG_HOME/alexandria/schedules.d/mine.conf
check "the schedule is in \$XDG_CONFIG_HOME/alexandria/schedules.d" test -f "$cfg"
check "the user timer is active" usr systemctl --user is-active alexandria-mine.timer
usr systemctl --user list-timers --no-legend --no-pager | grep -q alexandria-mine.timer \
        && ok "systemctl --user list-timers lists it" || fail "not in systemctl --user list-timers"

# make it fire a few seconds ahead, by hand (the user path unit applies it)
at=$(calendar_in 6)
sed -i "s/^OnCalendar=.*/OnCalendar=$at/" "$cfg"
elapse_updated() { usr systemctl --user show -P NextElapseUSecRealtime alexandria-mine.timer | grep -q "${at#* }"; }
wait_for 20 elapse_updated && ok "the hand edit reached the user timer" || fail "NextElapse: $(usr systemctl --user show -P NextElapseUSecRealtime alexandria-mine.timer)"
has_archive() { [ -n "$(uctl backups mine)" ]; }
wait_for 40 has_archive && ok "the user timer fired and wrote an archive" || fail "no archive: $(uctl backups mine)"
archive=$(uctl backups mine | head -1)
case $archive in
        "$SANDBOX_USER_HOME"/.local/share/alexandria/backups/mine-*.tar.gz) ok "the archive is in \$XDG_DATA_HOME/alexandria/backups" ;;
        *) fail "archive at an unexpected place: $archive" ;;
esac
done_entry() { usr journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=mine MESSAGE_ID=2b4c85653858491da1b778481630ffb8 | grep -q "Backup done for mine"; }
wait_for 10 done_entry && ok "the journal holds the success entry" || fail "no success entry"
check "run --user waits and succeeds" uctl run mine
st=$(uctl status mine); check_eq "status --user exits 0" 0 $?
grep -q "Newest archive: $SANDBOX_USER_HOME" <<<"$st" && ok "status --user shows the newest archive" || fail "status: $st"
check "stop --user" uctl stop mine
inactive() { ! usr systemctl --user is-active alexandria-mine.timer; }
wait_for 10 inactive && ok "the user timer is stopped" || fail "still active"
check "delete --user" uctl delete mine
check "the user schedule file is gone" test ! -e "$cfg"
check "archives stay after delete" test -f "$archive"
