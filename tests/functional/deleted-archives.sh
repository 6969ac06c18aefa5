#!/bin/bash
# Archives outlive their schedule: after `delete` (or a schedule file removed
# by hand) `backups` still lists them, marked, and `backups NAME`, `restore
# NAME` and `verify NAME` work for the deleted NAME (an encrypted one with
# the key file its schedule named); `delete --archives` removes them only
# when confirmed, never while a run holds the schedule's lock.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C
# User mode: the default destination (and, from lib.sh, the state directory) below $T.
ctl() { "$CTL" --user --no-reload "$@"; }
rc_is() { [ "$rc" -eq "$1" ]; }
DEFAULT=$XDG_DATA_HOME/alexandria/backups
TOMBS=$ALEXANDRIA_STATE_DIR/deleted

mkdir -p "$T/src"; echo "web data" > "$T/src/page"; echo "other data" > "$T/src/other"
ctl create web --on-calendar daily --source "$T/src" --dest "$T/web-dest" >/dev/null
ctl create other --on-calendar daily --source "$T/src" >/dev/null
ctl create keep --on-calendar daily --source "$T/src" >/dev/null
for n in web other keep; do ctl run --here "$n" >/dev/null 2>&1 || fail "run --here $n"; done
web_archive=$(ctl backups web)
# metrics, as the watchdog's pass writes them
mkdir -p "$T/metrics"; printf '[Metrics]\nDirectory=%s\n' "$T/metrics" > "$ALEXANDRIA_CONFIG_DIR/alexandria.conf"
ctl status --notify >/dev/null 2>&1
check "the watchdog's pass wrote web's metrics" test -s "$T/metrics/alexandria_web.prom"
check "web has one archive in its own destination" test -f "$web_archive" -a "${web_archive%/*}" = "$T/web-dest"

# ---- delete keeps the archives findable
out=$(ctl delete web); rc=$?
check "delete web exits 0" rc_is 0
check "and says where the archives stay" grep -q "Its archives stay in $T/web-dest\." <<<"$out"
check "its metrics are gone with it (a schedule that never runs again is no alert)" test ! -e "$T/metrics/alexandria_web.prom"
check "... the others' stay" test -s "$T/metrics/alexandria_keep.prom"
check "its run records stay while its archives do" test -n "$(ls "$ALEXANDRIA_STATE_DIR/runs/web/"*.run 2>/dev/null)"
check "the schedule file is gone" test ! -e "$ALEXANDRIA_CONFIG_DIR/schedules.d/web.conf"
check "a private copy of it is kept" test "$(stat -c %a "$TOMBS/web.conf" 2>&1)" = 600
out=$(ctl backups); rc=$?
check "backups exits 0" rc_is 0
check "backups lists the deleted schedule's archive, marked" grep -qx "$web_archive  (schedule deleted)" <<<"$out"
check "and the live schedules' archives unmarked" grep -qx "$DEFAULT/keep-.*\.tar\.gz" <<<"$out"
check "live schedules come first" test "$(tail -1 <<<"$out")" = "$web_archive  (schedule deleted)"
check_web_listed() { [ "$(ctl backups web)" = "$web_archive  (schedule deleted)" ]; }
check "backups web works for the deleted schedule" check_web_listed
out=$(ctl backups -l web); rc=$?
check "backups -l web counts its entries" grep -q "^$web_archive .* entries  (schedule deleted)$" <<<"$out"
out=$(ctl verify web); rc=$?
check "verify web exits 0" rc_is 0
check "and checked the deleted schedule's archive" grep -q "^$web_archive: OK" <<<"$out"
out=$(ctl verify); rc=$?
check "verify (all) checks deleted schedules too" grep -q "^$web_archive: OK" <<<"$out"
ctl restore web --to "$T/restored-web" 2>/dev/null; rc=$?
check "restore web exits 0" rc_is 0
check "and restored the file" cmp "$T/src/page" "$T/restored-web$T/src/page"
check "GNU tar reads the same archive" sh -c "tar -xzf '$web_archive' -O '${T#/}/src/page' | cmp - '$T/src/page'"

# ---- a schedule file removed by hand: found in the destination still in use
check "other has metrics" test -s "$T/metrics/alexandria_other.prom"
rm "$ALEXANDRIA_CONFIG_DIR/schedules.d/other.conf"
# the watchdog's next pass removes its metrics (it would be overdue forever),
# but not a file of ours it cannot tell is a schedule's, nor another owner's
touch "$T/metrics/alexandria_bad%name.prom" "$T/metrics/node_other.prom" "$T/metrics/alexandria_nobodys.prom"
chown nobody "$T/metrics/alexandria_nobodys.prom"
"$CTL" --user --no-reload status --notify >/dev/null 2>&1
check "the watchdog removed the metrics of a schedule removed by hand" test ! -e "$T/metrics/alexandria_other.prom"
check "... kept the live schedules' metrics" test -s "$T/metrics/alexandria_keep.prom"
check "... and files that are not a schedule's" test -e "$T/metrics/alexandria_bad%name.prom" -a -e "$T/metrics/node_other.prom"
check "... and another owner's" test -e "$T/metrics/alexandria_nobodys.prom"
out=$(ctl backups)
check "archives of a schedule removed by hand are listed, marked" grep -qx "$DEFAULT/other-.*\.tar\.gz  (schedule deleted)" <<<"$out"
ctl restore other --to "$T/restored-other" 2>/dev/null; rc=$?
check "restore of a schedule removed by hand exits 0" rc_is 0
check "and restored the file" cmp "$T/src/other" "$T/restored-other$T/src/other"

# ---- an encrypted schedule: its deleted copy still names the key file
ctl keygen "$T/key" >/dev/null
t_schedule enc "Source=$T/src" "Destination=$T/enc-dest" "Encryption=yes" "KeyFile=$T/key"
ctl run --here enc >/dev/null 2>&1 || fail "run --here enc"
ctl delete enc >/dev/null
ctl restore enc --to "$T/restored-enc" 2>/dev/null; rc=$?
check "restore of a deleted encrypted schedule finds its key (exit 0)" rc_is 0
check "and decrypted the file" cmp "$T/src/page" "$T/restored-enc$T/src/page"

# ---- removing them takes a confirmation
ctl delete web >/dev/null 2>"$T/err"; rc=$?
check "delete of an already deleted schedule exits 2" rc_is 2
check "and points to --archives" grep -q "already deleted.*delete web --archives" "$T/err"
ctl delete web --archives </dev/null >/dev/null 2>"$T/err"; rc=$?
check "delete --archives without a terminal and without --yes exits 2" rc_is 2
check "and asks for --yes" grep -q "confirm with --yes. Nothing was changed." "$T/err"
check "the archive is still there" test -f "$web_archive"
if command -v script >/dev/null; then
        echo no | script -qec "$CTL --user --no-reload delete web --archives" /dev/null >"$T/out" 2>&1; rc=$?
        check "answering no on a terminal exits 1" rc_is 1
        check "after listing the archive" grep -q "^  $web_archive" "$T/out"
        check "the archive is still there after 'no'" test -f "$web_archive"
fi

# a run in progress holds the schedule's lock: nothing is removed
( flock -x 9; : >"$T/locked"; exec sleep 60 ) 9>"$T/web-dest/.alexandria-web.lock" &
holder=$!
wait_for 10 test -e "$T/locked" || fail "the lock holder did not start"
ctl delete web --archives --yes >/dev/null 2>"$T/err"; rc=$?
check "delete --archives while a run holds the lock exits 4" rc_is 4
check "and leaves the archive" test -f "$web_archive"
kill "$holder"; wait "$holder" 2>/dev/null

# what a notify and an Expect= run would have left of web
printf 'reported=failed\n' > "$ALEXANDRIA_STATE_DIR/web.state"
echo /srv/unexpected > "$ALEXANDRIA_STATE_DIR/web.unexpected"
out=$(ctl delete web --archives --yes); rc=$?
check "delete --archives --yes exits 0" rc_is 0
check "and says what it removed" grep -qx "Removed 1 archive of deleted schedule web." <<<"$out"
check "the archive is gone" test ! -e "$web_archive"
check "its lock file is gone" test ! -e "$T/web-dest/.alexandria-web.lock"
check "its copy of the schedule is gone" test ! -e "$TOMBS/web.conf"
check "its run records went with its archives" test ! -e "$ALEXANDRIA_STATE_DIR/runs/web"
check "... and its state" test ! -e "$ALEXANDRIA_STATE_DIR/web.state"
check "... and its list of unexpected files" test ! -e "$ALEXANDRIA_STATE_DIR/web.unexpected"
ctl backups web >/dev/null 2>&1; rc=$?
check "backups web is now an unknown schedule (exit 2)" rc_is 2
check "no other archive was touched" test -n "$(ls "$DEFAULT"/keep-*.tar.gz "$T"/enc-dest/enc-*.enc 2>/dev/null)"

# a live schedule with --archives: schedule and archives in one go
keep_archive=$(ctl backups keep)
out=$(ctl delete keep --archives --yes); rc=$?
check "delete keep --archives --yes exits 0" rc_is 0
check "and says so" grep -qx "Deleted schedule keep and 1 archive." <<<"$out"
check "its archive is gone" test ! -e "$keep_archive"
check "its schedule file is gone" test ! -e "$ALEXANDRIA_CONFIG_DIR/schedules.d/keep.conf"
check "no copy of it is kept" test ! -e "$TOMBS/keep.conf"
check "its history is gone" test ! -e "$ALEXANDRIA_STATE_DIR/runs/keep"
# a new schedule of the old name starts afresh: no comparison with the old one's runs
mkdir -p "$T/tiny"; echo x > "$T/tiny/one"
for i in $(seq 1 40); do echo "data $i" > "$T/src/more$i"; done
ctl create big --on-calendar daily --source "$T/src" >/dev/null
for i in 1 2 3; do ctl run --here big >/dev/null 2>&1 || fail "run --here big"; done
check "big has its three runs" test "$(ls "$ALEXANDRIA_STATE_DIR/runs/big/"*.run | wc -l)" -eq 3
ctl delete big --archives --yes >/dev/null
ctl create big --on-calendar daily --source "$T/tiny" >/dev/null
ctl run --here big >/dev/null 2>"$T/err"; rc=$?
check "a new schedule with a deleted one's name has not 'shrunk' (exit 0)" rc_is 0
