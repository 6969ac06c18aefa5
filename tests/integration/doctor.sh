#!/bin/bash
# doctor: a healthy installation passes (exit 0); each fault, induced on a
# schedule of its own, is named with its check id and a fix: a problem
# (exit 1) or a warning (exit 0, e.g. a volatile journal), and --json is one
# valid JSON document with the same verdicts and levels.
source "$(dirname "$0")/lib.sh"
it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }
mkdir -p "$W/src"; echo x > "$W/src/f"
SCHEDULES=/etc/alexandria/schedules.d

# settle RUNNER: wait until the manager (ctl: system, uctl: user) has no
# timer job queued; create and reload start timers without waiting for them.
timer_jobs() {
        if [ "$1" = uctl ]; then usr systemctl --user list-jobs --no-legend; else sys systemctl list-jobs --no-legend; fi |
                grep '\.timer'
}
no_timer_jobs() { ! timer_jobs "$1" >/dev/null; }
settle() { wait_for 10 no_timer_jobs "$1" || fail "timer jobs still queued: $(timer_jobs "$1")"; }

# failed [ARGS…]: "SCHEDULE/CHECK" of each check of `doctor --json ARGS`
# that found a problem, sorted, one per line ("/CHECK" for the
# installation); warned: the same for warnings. Fails if the output is not
# one JSON array of well-formed checks. ufailed, uwarned: with --user.
failed() { findings_in problem ctl "$@"; }
warned() { findings_in warning ctl "$@"; }
ufailed() { findings_in problem uctl "$@"; }
uwarned() { findings_in warning uctl "$@"; }
findings_in() {
        local out
        settle "$2"
        out=$("$2" doctor --json "${@:3}")
        python3 -c '
import json, sys
checks = json.loads(sys.stdin.read())
assert isinstance(checks, list), "not an array"
for c in checks:
    assert sorted(c) == ["check", "fix", "level", "ok", "problem", "schedule"], c
    assert c["schedule"] is None or isinstance(c["schedule"], str), c
    assert isinstance(c["check"], str) and isinstance(c["ok"], bool), c
    if c["ok"]:
        assert c["problem"] is None and c["fix"] is None and c["level"] is None, c
    else:
        assert c["problem"] and c["fix"] and c["level"] in ("problem", "warning"), c
        if c["level"] == sys.argv[1]:
            print("%s/%s" % (c["schedule"] or "", c["check"]))
' "$1" <<<"$out" | sort
}

# expect DESCRIPTION NAME CHECK…: `doctor NAME` exits 1, prints a PROBLEM
# line with a FIX for each CHECK, and --json fails exactly those checks.
expect() {
        local desc=$1 name=$2 out rc want got c
        shift 2
        settle ctl
        out=$(ctl doctor "$name"); rc=$?
        check_eq "$desc: doctor exits 1" 1 "$rc"
        for c in "$@"; do
                grep -q "^PROBLEM: $name/$c: .* FIX: ." <<<"$out" \
                        && ok "$desc: names $name/$c with a fix" || fail "$desc: no PROBLEM line for $name/$c in: $out"
        done
        want=$(printf "$name/%s\n" "$@" | sort)
        got=$(failed "$name") || { fail "$desc: doctor --json is not valid JSON"; return; }
        check_eq "$desc: --json fails exactly [$*]" "$want" "$got"
}

# expect_warning DESCRIPTION NAME CHECK: `doctor NAME` exits 0, prints a
# WARNING line with a FIX for CHECK and a summary that says backups happen.
expect_warning() {
        local desc=$1 name=$2 c=$3 out rc
        settle ctl
        out=$(ctl doctor "$name"); rc=$?
        check_eq "$desc: doctor exits 0 (a warning)" 0 "$rc"
        grep -q "^WARNING: $name/$c: .* FIX: ." <<<"$out" \
                && ok "$desc: warns about $name/$c with a fix" || fail "$desc: no WARNING line for $name/$c in: $out"
        grep -q "^No problems found, 1 warning ([0-9]* checks passed): backups happen" <<<"$out" \
                && ok "$desc: the summary says backups still happen" || fail "$desc: summary: $(tail -1 <<<"$out")"
        check_eq "$desc: --json warns about exactly $name/$c" "$name/$c" "$(warned "$name")"
}

# expect_healthy DESCRIPTION NAME
expect_healthy() {
        local out
        settle ctl
        out=$(ctl doctor "$2"); check_eq "$1: doctor $2 exits 0" 0 $?
        grep -q '^No problems found' <<<"$out" || fail "$1: doctor printed: $out"
}

# The sandbox's journald writes to /run until it is flushed to /var: a
# warning (the history goes at a reboot, the backups do not), exit 0.
out=$(ctl doctor); rc=$?
check_eq "a volatile journal: doctor exits 0" 0 $rc
grep -q "^WARNING: journal-persistent: .*/run/log/journal.*history of backup runs .*lost.* FIX: .*journalctl --flush" <<<"$out" \
        && ok "doctor warns that the journal is only in /run, what is lost and how to fix it" || fail "doctor printed: $out"
grep -q "^No problems found, 1 warning ([0-9]* checks passed): backups happen and can be trusted" <<<"$out" \
        && ok "the summary says what a warning means" || fail "summary: $(tail -1 <<<"$out")"
check_eq "--json: no problem" "" "$(failed)"
check_eq "--json warns about journal-persistent" "/journal-persistent" "$(warned)"
# Storage=auto without /var/log/journal (a tmpfs over /var/log hides it in
# the sandbox): the same warning, saying what is missing and how to fix it.
sys mount -t tmpfs -o mode=0755 tmpfs /var/log
out=$(ctl doctor); rc=$?
sys umount /var/log
check_eq "no /var/log/journal: doctor exits 0" 0 $rc
grep -q "^WARNING: journal-persistent: /var/log/journal does not exist, so journald keeps the journal in /run/log/journal only: .*lost.* FIX: .*mkdir -p /var/log/journal" <<<"$out" \
        && ok "doctor warns that /var/log/journal is missing, what is lost and how to fix it" || fail "doctor printed: $out"
grep -q "^PROBLEM" <<<"$out" && fail "no /var/log/journal: a PROBLEM line: $out" || ok "no /var/log/journal is no problem"
# Persistent: a private tmpfs over /var/log/journal (the host's files stay
# out of sight), then flush.
sys mount -t tmpfs -o mode=2755 tmpfs /var/log/journal
check "journalctl --flush in the sandbox" sys journalctl --flush

# ---- a healthy schedule ----------------------------------------------------
ctl create good --on-calendar daily --source "$W/src" >/dev/null
check "run good" ctl run good >/dev/null
settle ctl
out=$(ctl doctor); rc=$?
check_eq "healthy: doctor exits 0" 0 $rc
grep -q '^No problems found ([0-9]* checks passed)\.$' <<<"$out" && ok "healthy: doctor says so in one line" \
        || fail "healthy: doctor printed: $out"
! grep -q PROBLEM <<<"$out" || fail "healthy: a PROBLEM line: $out"
json=$(ctl doctor --json)
python3 -m json.tool <<<"$json" >/dev/null && ok "healthy: --json is valid JSON" || fail "healthy: --json: $json"
check_eq "healthy: --json fails nothing" "" "$(failed)"
ids=$(python3 -c 'import json,sys; print(" ".join(sorted({c["check"] for c in json.load(sys.stdin)})))' <<<"$json")
# "metrics" applies where Debian's node exporter is installed (tools/deps --test)
exporter=
sys test -x /usr/bin/prometheus-node-exporter && exporter=metrics
want_ids=$(printf '%s\n' config-directory destination enabled free-space journal-persistent last-run manager recent-archive schedule-file \
        same-disk source stale-temporary timer-active timer-loaded timer-wanted watchdog worker $exporter | sort | paste -sd' ')
check_eq "healthy: --json lists the checks that apply" "$want_ids" "$ids"
check_eq "healthy: --json warns about nothing" "" "$(warned)"
expect_healthy "healthy" good
ctl doctor nosuch >/dev/null 2>&1; check_eq "an unknown schedule is bad usage" 2 $?

# ---- one fault per schedule ------------------------------------------------
# missing source
mkdir -p "$W/src-gone"; echo x > "$W/src-gone/f"
ctl create nosrc --on-calendar daily --source "$W/src-gone" >/dev/null
expect_healthy "before the source goes" nosrc
rm -rf "$W/src-gone"
expect "missing source" nosrc source
grep -q "source $W/src-gone does not exist" <<<"$(ctl doctor nosrc)" && ok "missing source: names the path" \
        || fail "missing source: $(ctl doctor nosrc)"

# unwritable destination: a read-only file system (root writes anywhere else)
sys mkdir -p /var/backups/rodest
sys mount -t tmpfs -o ro,size=64k tmpfs /var/backups/rodest
ctl create rodest --on-calendar daily --source "$W/src" --dest /var/backups/rodest >/dev/null
expect "read-only destination" rodest destination
grep -q "read-only file system" <<<"$(ctl doctor rodest)" && ok "read-only destination: says why" || fail "$(ctl doctor rodest)"

# too little space: a 1 MiB tmpfs holding a ~600 KiB archive
head -c 600K /dev/urandom > "$W/big"
sys mkdir -p /var/backups/tiny
sys mount -t tmpfs -o size=1m,mode=0700 tmpfs /var/backups/tiny
ctl create tiny --on-calendar daily --source "$W/big" --dest /var/backups/tiny --compression none >/dev/null
check "run tiny writes its archive to the small file system" ctl run tiny >/dev/null
expect "little free space" tiny free-space

# a destination on the file system of its source, and no CopyTo=
sys mkdir -p /var/backups/same-src
sys sh -c 'echo x > /var/backups/same-src/f'
ctl create samedisk --on-calendar daily --source /var/backups/same-src --dest /var/backups/same-dest >/dev/null
check "run samedisk" ctl run samedisk >/dev/null
expect_warning "archives on their source's disk" samedisk same-disk
grep -q "^WARNING: samedisk/same-disk: destination /var/backups/same-dest is on the same file system as source /var/backups/same-src.* FIX: Add CopyTo=" \
        <<<"$(ctl doctor samedisk)" && ok "same disk: names both and the fix" || fail "$(ctl doctor samedisk)"
printf 'CopyTo=rclone::local:%s\n' "$W/offsite" | sys sh -c "cat >> $SCHEDULES/samedisk.conf"
expect_healthy "with a CopyTo= the local copy is not the only one" samedisk

# runway: a 2 MiB tmpfs, archives of ~160 KiB growing ~40 KiB a run, every
# archive kept: fewer than 30 more runs fit (the free-space check, twice
# the newest archive, still passes)
sys mkdir -p /var/backups/runway
sys mount -t tmpfs -o size=2m,mode=0700 tmpfs /var/backups/runway
mkdir -p "$W/growing"
ctl create runway --on-calendar daily --source "$W/growing" --dest /var/backups/runway --compression none >/dev/null
head -c 160K /dev/urandom > "$W/growing/a"
check "runway: the first run" ctl run runway >/dev/null
check_eq "runway: one run sets no pace" "" "$(warned runway)"
head -c 40K /dev/urandom > "$W/growing/b"
check "runway: the second run" ctl run runway >/dev/null
expect_warning "free space for fewer runs than are kept" runway runway
grep -q "^WARNING: runway/runway: at the pace of the recent runs (archives of about .*, growing .* a run), the .* free on the file system of /var/backups/runway last for [0-9]* more runs, fewer than the 30 " \
        <<<"$(ctl doctor runway)" && ok "runway: gives the estimate" || fail "$(ctl doctor runway)"
# Keep=2: retention frees what each new archive takes
sys sed -i 's/^Keep=.*/Keep=2/' "$SCHEDULES/runway.conf"
check "runway: Keep=2 in the schedule" sys grep -qx Keep=2 "$SCHEDULES/runway.conf"
expect_healthy "runway: Keep=2 fits" runway

# disabled
ctl create off --on-calendar daily --source "$W/src" >/dev/null
ctl stop off >/dev/null
expect "disabled" off enabled
grep -q "FIX: alexandria-ctl start off" <<<"$(ctl doctor off)" && ok "disabled: the fix is start" || fail "$(ctl doctor off)"

# The path unit reloads after every change to the schedules, and a reload
# starts every enabled timer and creates missing destinations: stop it (and
# let a reload it started finish) so that what the test breaks stays broken
# until the test reloads.
sys systemctl stop alexandria-update.path
idle() { [ "$(sys systemctl is-active alexandria-update.service)" != activating ] &&
        ! sys systemctl list-jobs --no-legend | grep -q alexandria-update; }
wait_for 20 idle || fail "alexandria-update.service does not finish"

# a missing destination is created by the service before each run, outside
# its sandbox; one that cannot be created (below a read-only file system) is
# a problem
ctl create nodest --on-calendar daily --source "$W/src" --dest /var/backups/nodest >/dev/null
sys rm -rf /var/backups/nodest
expect_healthy "a missing destination that can be created" nodest
check "run nodest creates its destination again" ctl run nodest >/dev/null
check "and writes its archive there" sys sh -c 'ls /var/backups/nodest/nodest-*.tar.gz'
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=/var/backups/rodest/sub\n' "$W/src" \
        | sys sh -c "umask 022; cat > $SCHEDULES/rosub.conf"
ctl reload >/dev/null
expect "a destination that cannot be created" rosub destination
grep -q "cannot be created there (Read-only file system)" <<<"$(ctl doctor rosub)" && ok "uncreatable destination: says why" \
        || fail "$(ctl doctor rosub)"
sys rm -f "$SCHEDULES/rosub.conf"
ctl reload >/dev/null

# a timer stopped behind the schedule's back
ctl create halted --on-calendar daily --source "$W/src" >/dev/null
sys systemctl stop alexandria-halted.timer
expect "timer stopped" halted timer-active
grep -q "FIX: alexandria-ctl start halted" <<<"$(ctl doctor halted)" && ok "timer stopped: the fix is start" \
        || fail "$(ctl doctor halted)"

# no archive for 1.5 periods: a 3-second schedule whose timer stops
ctl create late --on-calendar '*:*:0/3' --source "$W/src" >/dev/null
has_late() { [ -n "$(ctl backups late)" ]; }
wait_for 20 has_late && ok "a 3-second schedule wrote an archive" || fail "no archive of 'late'"
sys systemctl stop alexandria-late.timer
sleep 6
expect "overdue" late recent-archive timer-active
ctl delete late >/dev/null

# a timer that was never generated (a hand-written file, no reload yet)
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\n' "$W/src" \
        | sys sh -c "umask 022; cat > $SCHEDULES/handmade.conf"
expect "timer not generated" handmade timer-loaded
# a timer that is enabled, but not wanted by timers.target: Enabled=no was
# generated, then Enabled=yes written without a reload
ctl create unwanted --on-calendar daily --source "$W/src" >/dev/null
ctl --no-reload stop unwanted >/dev/null
sys systemctl daemon-reload
sys systemctl stop alexandria-unwanted.timer
ctl --no-reload start unwanted >/dev/null
expect "enabled, but not wanted by timers.target" unwanted timer-active timer-wanted

sys systemctl start alexandria-update.path
ctl reload >/dev/null
expect_healthy "after reload" halted
expect_healthy "after reload" handmade
expect_healthy "after reload" unwanted

# a schedule file the generator skips
printf '[Schedule]\nOnCalendar=daily\nColour=blue\n[Backup]\nSource=%s\n' "$W/src" \
        | sys sh -c "umask 022; cat > $SCHEDULES/bad.conf"
expect "bad schedule file" bad schedule-file
grep -q "unknown key 'Colour'" <<<"$(ctl doctor bad)" && ok "bad schedule file: quotes the parser" || fail "$(ctl doctor bad)"

# a stale temporary archive, removed by the next run
ctl create stale --on-calendar daily --source "$W/src" >/dev/null
check "run stale" ctl run stale >/dev/null
tmp=/var/backups/alexandria/.#stale-20240101T000000Z.tar.gz.0123456789abcdef
sys sh -c "echo partial > '$tmp'"
expect_warning "stale temporary" stale stale-temporary
grep -qF "$tmp" <<<"$(ctl doctor stale)" && ok "stale temporary: names the file" || fail "$(ctl doctor stale)"
check "doctor did not delete it" sys test -e "$tmp"
check "run stale again" ctl run stale >/dev/null
check "the run removed it" sys test ! -e "$tmp"
expect_healthy "after the run" stale

# a failed last run (its source is gone)
mkdir -p "$W/src-broken"; echo x > "$W/src-broken/f"
ctl create broken --on-calendar daily --source "$W/src-broken" >/dev/null
rm -rf "$W/src-broken"
ctl run broken >/dev/null; check_eq "run broken fails" 1 $?
expect "failed last run" broken last-run source
grep -q "^PROBLEM: broken/last-run: .*failed: .*No such file or directory" <<<"$(ctl doctor broken)" \
        && ok "failed last run: quotes the journal" || fail "$(ctl doctor broken)"

# notifications: a command that fails, one that does not exist, mail without sendmail
mkdir -p "$W/src-loud"; echo x > "$W/src-loud/f"
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\n[Notify]\nNotifyCommand=exit 1\n' "$W/src-loud" \
        | sys sh -c "umask 022; cat > $SCHEDULES/loud.conf"
ctl reload >/dev/null
expect_healthy "a NotifyCommand= that is a shell builtin" loud
rm -rf "$W/src-loud"
ctl run loud >/dev/null
noted() { sys grep -q '^notify_error=' /var/lib/alexandria/loud.state; }
wait_for 10 noted || fail "the failed notification was not recorded"
expect "failed notification" loud last-run notify-last source
grep -q "^PROBLEM: loud/notify-last: .*exit status 1" <<<"$(ctl doctor loud)" && ok "failed notification: quotes it" \
        || fail "$(ctl doctor loud)"

printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\n[Notify]\nNotifyCommand=LANG=C no-such-notifier --now\n' "$W/src" \
        | sys sh -c "umask 022; cat > $SCHEDULES/mute.conf"
ctl reload >/dev/null
expect "notify command not found" mute notify-command
grep -q "'no-such-notifier'" <<<"$(ctl doctor mute)" && ok "notify command not found: names it" || fail "$(ctl doctor mute)"

printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\n[Notify]\nMail=root@localhost\n' "$W/src" \
        | sys sh -c "umask 022; cat > $SCHEDULES/mail.conf"
ctl reload >/dev/null
hidden=
if sys test -e /usr/sbin/sendmail -o -L /usr/sbin/sendmail; then
        sys mv /usr/sbin/sendmail /usr/sbin/sendmail.doctor-test && hidden=1
fi
expect "Mail= without sendmail" mail notify-mail
if [ -n "$hidden" ]; then
        sys mv /usr/sbin/sendmail.doctor-test /usr/sbin/sendmail
        expect_healthy "Mail= with sendmail" mail
fi

# the worker binary removed (the sandbox's /usr is an overlay)
worker=/usr/libexec/alexandria/alexandria-backup
check "remove the worker" sys mv "$worker" "$worker.doctor-test"
out=$(ctl doctor good); rc=$?
check_eq "worker removed: doctor exits 1" 1 $rc
grep -q "^PROBLEM: worker: .*$worker.* FIX: ." <<<"$out" && ok "worker removed: named with a fix" || fail "doctor printed: $out"
check_eq "worker removed: --json fails exactly the worker" "/worker" "$(failed good)"
sys mv "$worker.doctor-test" "$worker"
expect_healthy "worker back" good

# everything at once: one document, every fault in it
json=$(ctl doctor --json); rc=$?
check_eq "all schedules: doctor --json exits 1" 1 $rc
python3 -m json.tool <<<"$json" >/dev/null && ok "all schedules: --json is valid JSON" || fail "all: --json: $json"
all=$(failed)
for f in nosrc/source rodest/destination tiny/free-space off/enabled bad/schedule-file broken/last-run \
                loud/notify-last mute/notify-command; do
        grep -qx "$f" <<<"$all" && ok "all schedules: $f" || fail "all schedules: no $f in: $(paste -sd' ' <<<"$all")"
done
out=$(ctl doctor); rc=$?
check_eq "all schedules: doctor exits 1" 1 $rc
grep -Eq '^[0-9]+ problems found, [0-9]+ warnings? \([0-9]+ checks passed\): backups will not happen or cannot be trusted' <<<"$out" \
        && ok "all schedules: a summary line that says what the problems mean" \
        || fail "all schedules: $(tail -1 <<<"$out")"

# metrics: written by default into Debian's node exporter directory; with
# the exporter installed but metrics off, a one-line warning says so
if [ -n "$exporter" ] && sys test -d /var/lib/prometheus/node-exporter; then
        check "run good writes its metrics where the node exporter reads them" \
                sys grep -q '^alexandria_last_exit_status{schedule="good"} 0$' /var/lib/prometheus/node-exporter/alexandria_good.prom
        sys sh -c "mkdir -p /etc/alexandria && printf '[Metrics]\nEnabled=no\n' > /etc/alexandria/alexandria.conf"
        out=$(ctl doctor good); rc=$?
        check_eq "metrics off with the exporter installed: doctor exits 0" 0 $rc
        grep -q "^WARNING: metrics: prometheus-node-exporter is installed, but metrics are off (Enabled=no in /etc/alexandria/alexandria.conf)\. FIX: ." <<<"$out" \
                && ok "metrics off: a one-line warning names the cause" || fail "doctor printed: $out"
        check_eq "metrics off: --json warns about exactly metrics" "/metrics" "$(warned good)"
        sys rm -f /etc/alexandria/alexandria.conf
        sys mv /var/lib/prometheus/node-exporter /var/lib/prometheus/node-exporter.away
        out=$(ctl doctor good)
        grep -q "^WARNING: metrics: .*/var/lib/prometheus/node-exporter does not exist.* FIX: .*Directory=" <<<"$out" \
                && ok "no textfile directory: the warning says where to point Directory=" || fail "doctor printed: $out"
        sys mv /var/lib/prometheus/node-exporter.away /var/lib/prometheus/node-exporter
        check_eq "metrics back on: no warning" "" "$(warned good)"
else
        echo "# SKIP: metrics checks (no prometheus-node-exporter)"
fi

# the journal back in /run
check "journalctl --relinquish-var" sys journalctl --relinquish-var
check_eq "volatile again: doctor good warns about the journal" "/journal-persistent" "$(warned good)"
check_eq "volatile again: and finds no problem" "" "$(failed good)"

# ---- user mode -------------------------------------------------------------
sandbox_system_stop || fail "stop the system sandbox"
sandbox_user_boot "$W" "$STAGE" || { fail "boot the user sandbox"; exit 1; }
mkdir -p "$W/usrc"; echo x > "$W/usrc/f"
uctl create mine --on-calendar daily --source "$W/usrc" --dest "$SANDBOX_USER_HOME/backups" >/dev/null
check "run --user mine" uctl run mine >/dev/null
# the user sandbox's journald keeps its journal in /run
check_eq "--user: no problem" "" "$(ufailed)"
# a home backed up into the same home: the same file system
check_eq "--user: the journal and the disk are warnings" "/journal-persistent mine/same-disk" "$(uwarned | paste -sd' ')"
grep -q "^WARNING: journal-persistent: .* FIX: Run (as root) " <<<"$(uctl doctor)" && ok "--user: the fix needs root" \
        || fail "--user: $(uctl doctor)"
# the user service is not sandboxed: the worker creates a missing destination itself
rm -rf "$SANDBOX_USER_HOME/backups"
check_eq "--user: a destination the worker can create is no problem" "" "$(ufailed mine)"
rm -rf "$W/usrc"
check_eq "--user: missing source" "mine/source" "$(ufailed mine | paste -sd' ')"
