#!/bin/bash
# Notifications against real peers: pings reach an HTTP server on loopback,
# mail goes through the installed sendmail (Debian's dma) into the sandbox's
# /var/mail/root, NotifyCommand= runs, metrics are scraped through a real
# prometheus-node-exporter; a channel that fails never fails the backup but
# shows in the journal and in status; the watchdog tells once when a
# schedule turns overdue and once when it recovers.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
EXPORTER=/usr/bin/prometheus-node-exporter
for t in "$PYTHON" "$EXPORTER" /usr/sbin/sendmail curl setpriv; do
        command -v "$t" >/dev/null 2>&1 || { echo "# SKIP: $t not installed"; exit 77; }
done

it_setup

# (servers: see servers_stop in lib.sh)
trap 'rc=$?; servers_stop; (exit $rc); it_finish' EXIT

# --- an HTTP server: 200 for /ping/..., 500 for /broken/..., logs every path
http_server_start || { fail "start the HTTP server"; exit 1; }
check "the HTTP server answers /ping/ with 200" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/ping/selftest")" = 200
check "the HTTP server answers /broken/ with 500" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/broken/selftest")" = 500
: >"$W/http.log"
# The paths the server saw for one prefix, space-separated, in order.
pings() { grep "^$1" "$W/http.log" | tr '\n' ' ' | sed 's/ $//'; }

# --- a node exporter reading the metrics directory
mkdir -p "$W/metrics"
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$EP/metrics"; }
EP=
for _ in 1 2 3; do
        port=$(free_port)
        setpriv --pdeathsig TERM -- "$EXPORTER" --web.listen-address="127.0.0.1:$port" --collector.disable-defaults --collector.textfile \
                --collector.textfile.directory="$W/metrics" --web.disable-exporter-metrics >"$W/exporter.log" 2>&1 &
        SERVER_PIDS+=($!)
        EP=$port
        if wait_for 10 scrape; then break; fi
        EP=
done
[ -n "$EP" ] || { fail "start prometheus-node-exporter: $(tail -5 "$W/exporter.log")"; exit 1; }
ok "prometheus-node-exporter serves the metrics directory on 127.0.0.1:$EP"
# metric NAME SCHEDULE: its value as the exporter serves it (empty if absent)
metric() { scrape | awk -v m="alexandria_$1{schedule=\"$2\"}" '$1 == m { print $2 }'; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }

# The sandbox's /var is an overlay on the host's: start from an empty
# mailbox (the host's own /var/mail/root stays as it is).
sys rm -f /var/mail/root
# The watchdog timer is wanted by the generator; it is checked here, then
# stopped so that only the test runs the watchdog (hourly, with a random delay).
listed() { sys systemctl list-timers --all --no-legend --no-pager | grep -q 'alexandria-watchdog\.timer'; }
check "alexandria-watchdog.timer is listed by list-timers" listed
check_eq "alexandria-watchdog.timer is active" active "$(sys systemctl is-active alexandria-watchdog.timer)"
sys systemctl stop alexandria-watchdog.timer

sys sh -c "mkdir -p /etc/alexandria && printf '[Metrics]\nDirectory=%s\n' '$W/metrics' > /etc/alexandria/alexandria.conf"
# Every NotifyCommand appends "EVENT|SCHEDULE|MESSAGE|ARCHIVE" to one log.
# The watchdog runs NotifyCommand= inside its sandbox (read-only file
# system, private /tmp): like an admin whose command writes a file, the test
# widens it with a drop-in for that one file.
: >"$W/events.log"
sys mkdir -p /etc/systemd/system/alexandria-watchdog.service.d
printf '[Service]\nPrivateTmp=no\nReadWritePaths=%s\n' "$W/events.log" \
        | sys sh -c 'cat > /etc/systemd/system/alexandria-watchdog.service.d/test-events.conf'
LOGCMD="printf '%s|%s|%s|%s\\n' \"\$ALEXANDRIA_EVENT\" \"\$ALEXANDRIA_SCHEDULE\" \"\$ALEXANDRIA_MESSAGE\" \"\$ALEXANDRIA_ARCHIVE\" >> $W/events.log"
events() { grep -c "^$1|$2|" "$W/events.log"; }

# schedule NAME [Notify]-LINES...: a daily schedule of $W/src-NAME into
# /var/backups/NAME, written by hand and applied with reload.
schedule() {
        local name=$1; shift
        mkdir -p "$W/src-$name"
        {
                printf '[Schedule]\nOnCalendar=%s\n[Backup]\nSource=%s\nDestination=/var/backups/%s\n%s[Notify]\n' \
                        "${CALENDAR:-daily}" "$W/src-$name" "$name" "${BACKUP_EXTRA:+$BACKUP_EXTRA$'\n'}"
                printf '%s\n' "$@"
        } >"$W/$name.conf"
        chmod 644 "$W/$name.conf"
        sys cp "$W/$name.conf" "/etc/alexandria/schedules.d/$name.conf" && ctl reload >/dev/null
}
mailbox() { sys cat /var/mail/root 2>/dev/null; }
mails() { mailbox | grep -c "^Subject: \[alexandria\] backup $1: $2\$"; }
has_mail() { [ "$(mails "$1" "$2")" -ge 1 ]; }
# the newest mail (headers and body) with that subject
mail_body() {
        mailbox | awk -v s="Subject: [alexandria] backup $1: $2" '
                function flush() { if (hit) last = cur; cur = ""; hit = 0 }
                /^From / { flush() }
                { cur = cur $0 "\n"; if ($0 == s) hit = 1 }
                END { flush(); printf "%s", last }'
}

# --- 1. a good run: /start, then success; no command, no mail; metrics 0
mkdir -p "$W/src-good"; echo data >"$W/src-good/f"
schedule good "PingURL=http://127.0.0.1:$HP/ping/good" "NotifyCommand=$LOGCMD" "Mail=root@localhost" \
        || fail "create schedule good"
ctl run good >/dev/null; rc=$?
check_eq "run good exits 0" 0 $rc
check_eq "the server saw /ping/good/start, then /ping/good" "/ping/good/start /ping/good" "$(pings /ping/good)"
check_eq "NotifyCommand is not run for a plain success" 0 "$(events '[a-z]*' good)"
check_eq "no mail for a plain success" 0 "$(mails good '.*')"
wait_for 10 metric_is last_exit_status good 0 \
        && ok "the exporter serves alexandria_last_exit_status{schedule=\"good\"} 0" \
        || fail "metrics of good: $(scrape | grep 'schedule="good"')"
awk -v t="$(metric last_success_timestamp_seconds good)" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 60 && t <= now) }' \
        && ok "the exporter serves a last success time for good" || fail "last_success_timestamp_seconds of good: '$(metric last_success_timestamp_seconds good)'"
check_eq "the exporter had no trouble reading the textfiles" 0 "$(scrape | awk '$1 == "node_textfile_scrape_error" { print $2 }')"
st=$(ctl status good); rc=$?
check_eq "status of good exits 0 (every notification went through)" 0 $rc
# alexandria.conf decides where root writes: a world-writable one is refused
sys chmod 0666 /etc/alexandria/alexandria.conf
out=$(sys env EXIT_CODE=exited EXIT_STATUS=0 SERVICE_RESULT=success "$CTL_IN" notify good finished 2>&1)
grep -q "alexandria.conf: the file is group- or world-writable, refusing it" <<<"$out" \
        && ok "a world-writable alexandria.conf is refused" || fail "notify with a world-writable alexandria.conf: $out"
sys chmod 0644 /etc/alexandria/alexandria.conf

# --- 2. a failed run, then a recovery
mkdir -p "$W/src-bad"; echo data >"$W/src-bad/f"
schedule bad "PingURL=http://127.0.0.1:$HP/ping/bad" "NotifyCommand=$LOGCMD" "Mail=root@localhost" \
        || fail "create schedule bad"
mv "$W/src-bad" "$W/src-bad.away"
ctl run bad >/dev/null; rc=$?
check_eq "run bad (source removed) exits 1" 1 $rc
check_eq "the server saw /ping/bad/start, then /ping/bad/fail" "/ping/bad/start /ping/bad/fail" "$(pings /ping/bad)"
check_eq "NotifyCommand got event=failed once" 1 "$(events failed bad)"
grep -q "^failed|bad|Backup of bad failed: Source $W/src-bad: No such file or directory|\$" "$W/events.log" \
        && ok "NotifyCommand got the worker's message" || fail "events: $(grep '|bad|' "$W/events.log")"
wait_for 10 has_mail bad failed && ok "a mail 'backup bad: failed' arrived in /var/mail/root" \
        || fail "no failure mail; mailbox: $(mailbox | grep Subject:); dma: $(sys journalctl --no-pager -o cat SYSLOG_IDENTIFIER=dma | tail -5)"
body=$(mail_body bad failed)
grep -q "No such file or directory" <<<"$body" && grep -q "^Unit: *alexandria@bad.service" <<<"$body" \
        && ok "the mail says why and names the unit" || fail "mail: $body"
grep -q "^To: root@localhost\$" <<<"$body" \
        && ok "the mail is addressed to root@localhost" || fail "mailbox: $(mailbox | head -20)"
wait_for 10 metric_is last_exit_status bad 1 \
        && ok "the exporter serves alexandria_last_exit_status{schedule=\"bad\"} 1" \
        || fail "metrics of bad: $(scrape | grep 'schedule="bad"')"

mv "$W/src-bad.away" "$W/src-bad"
: >"$W/http.log"
ctl run bad >/dev/null; rc=$?
check_eq "run bad again with its source back exits 0" 0 $rc
check_eq "NotifyCommand got event=recovered once" 1 "$(events recovered bad)"
check_eq "no second failure" 1 "$(events failed bad)"
wait_for 10 has_mail bad recovered && ok "a mail 'backup bad: recovered' arrived" \
        || fail "no recovery mail; mailbox: $(mailbox | grep Subject:)"
p=$(pings /ping/bad)
[[ $p == "/ping/bad/start /ping/bad"* && $p != *fail* ]] && ok "the recovering run pinged /start, then success" || fail "pings: $p"
wait_for 10 metric_is last_exit_status bad 0 && ok "metrics of bad show exit status 0 again" \
        || fail "metrics of bad: $(scrape | grep 'schedule="bad"')"
st=$(ctl status bad); rc=$?
check_eq "status of the recovered schedule exits 0" 0 $rc

# --- 3. warnings: the service loses its capabilities, a file is unreadable
dropcaps() {
        sys mkdir -p "/etc/systemd/system/alexandria@$1.service.d"
        printf '[Service]\nCapabilityBoundingSet=\n' | sys sh -c "cat > /etc/systemd/system/alexandria@$1.service.d/caps.conf"
}
for n in warn quiet; do
        mkdir -p "$W/src-$n"; echo readable >"$W/src-$n/a"; echo secret >"$W/src-$n/b"; chmod 000 "$W/src-$n/b"
        dropcaps "$n"
done
schedule warn "NotifyCommand=$LOGCMD" "Mail=root@localhost" || fail "create schedule warn"
schedule quiet "NotifyCommand=$LOGCMD" "Mail=root@localhost" "NotifyOnWarnings=no" || fail "create schedule quiet"
sys systemctl daemon-reload
ctl run warn >/dev/null; rc=$?
check_eq "run warn (unreadable file) exits 3" 3 $rc
check_eq "NotifyCommand got event=warnings" 1 "$(events warnings warn)"
grep -q "^warnings|warn|.*|/var/backups/warn/warn-.*\.tar\.gz\$" "$W/events.log" \
        && ok "the warnings event names the archive" || fail "events: $(grep '|warn|' "$W/events.log")"
wait_for 10 has_mail warn warnings && ok "a mail 'backup warn: warnings' arrived" \
        || fail "no warnings mail; mailbox: $(mailbox | grep Subject:)"
wait_for 10 metric_is last_exit_status warn 3 && ok "metrics of warn show exit status 3" \
        || fail "metrics of warn: $(scrape | grep 'schedule="warn"')"
ctl run quiet >/dev/null; rc=$?
check_eq "run quiet (unreadable file) exits 3" 3 $rc
# notify runs in ExecStopPost=: once the unit is inactive, it has done all it will do
quiet_done() { case $(sys systemctl is-active alexandria@quiet.service) in inactive | failed) true ;; *) false ;; esac; }
wait_for 10 quiet_done || fail "alexandria@quiet.service does not finish"
check_eq "NotifyOnWarnings=no: no command run" 0 "$(grep -c '|quiet|' "$W/events.log")"
check_eq "NotifyOnWarnings=no: no mail" 0 "$(mails quiet '.*')"

# --- 4. channels that fail never fail the backup, and stay visible
mkdir -p "$W/src-broken"; echo data >"$W/src-broken/f"
schedule broken "PingURL=http://127.0.0.1:$HP/broken/x" || fail "create schedule broken"
: >"$W/http.log"
ctl run broken >/dev/null; rc=$?
check_eq "run with a PingURL that answers 500 exits 0" 0 $rc
grep -q "^/broken/x/start\$" "$W/http.log" && grep -q "^/broken/x\$" "$W/http.log" \
        && ok "the failing server was pinged" || fail "pings: $(pings /broken)"
errs() { sys journalctl --no-pager -o cat SYSLOG_IDENTIFIER=alexandria PRIORITY=3 "ALEXANDRIA_SCHEDULE=$1"; }
errlogged() { errs "$1" | grep -q "$2"; }
wait_for 10 errlogged broken "Notifying about .* of broken failed: ping http://127.0.0.1:$HP/…: HTTP status 500" \
        && ok "the journal has an err entry about the failed ping" || fail "err entries of broken: $(errs broken)"
st=$(ctl status broken); rc=$?
check_eq "status of a schedule whose ping failed exits 1" 1 $rc
grep -q "^broken NOTIFY-FAILED\$" <<<"$st" && ok "status says NOTIFY-FAILED (and nothing else)" || fail "status: $st"
grep -q "Notification failed (.*): ping http://127.0.0.1:$HP/…: HTTP status 500" <<<"$st" \
        && ok "status says which notification failed" || fail "status: $st"
# the URL's path is the check's token: a secret
! grep -q "broken/x" <<<"$st" && ok "status does not show the ping URL's token" || fail "status: $st"
! sys journalctl --no-pager -o cat SYSLOG_IDENTIFIER=alexandria | grep -q "broken/x" \
        && ok "the journal never shows the ping URL's token" || fail "journal: $(sys journalctl --no-pager -o cat SYSLOG_IDENTIFIER=alexandria | grep broken/x)"
ctl list | grep -q "^[0-9]*: broken .*PingURL=http://127.0.0.1:$HP/…" && ! ctl list | grep -q "broken/x" \
        && ok "list shows the ping URL redacted" || fail "list: $(ctl list)"

# a dead mail address and a failing NotifyCommand, on a failure and on the recovery
mkdir -p "$W/src-dead"; echo data >"$W/src-dead/f"
schedule dead "NotifyCommand=exit 1" "Mail=nosuchuser@localhost" || fail "create schedule dead"
mv "$W/src-dead" "$W/src-dead.away"
ctl run dead >/dev/null; rc=$?
check_eq "run dead (source removed) exits 1, as without notifications" 1 $rc
wait_for 10 errlogged dead "Notifying about failed of dead failed: NotifyCommand 'exit 1': exit status 1; mail via /usr/sbin/sendmail: exit status" \
        && ok "the journal has an err entry naming the command and the mail" || fail "err entries of dead: $(errs dead)"
mv "$W/src-dead.away" "$W/src-dead"
ctl run dead >/dev/null; rc=$?
check_eq "run dead with its source back exits 0 although its notifications fail" 0 $rc
wait_for 10 errlogged dead "Notifying about recovered of dead failed" \
        && ok "the failed recovery notification is logged at err" || fail "err entries of dead: $(errs dead)"
st=$(ctl status dead); rc=$?
check_eq "status of dead exits 1" 1 $rc
grep -q "^dead NOTIFY-FAILED\$" <<<"$st" && ok "status of dead says NOTIFY-FAILED only" || fail "status: $st"
# a later run that notifies nobody (no ping, a plain success) proves nothing
# about the dead channels: the failure must stay visible
ctl run dead >/dev/null; rc=$?
check_eq "a third run of dead exits 0" 0 $rc
st=$(ctl status dead); rc=$?
check_eq "status of dead still exits 1" 1 $rc
grep -q "NOTIFY-FAILED" <<<"$st" && ok "NOTIFY-FAILED stays until the channels work again" || fail "status: $st"

# --- 5. the watchdog: overdue once, recovered once
mkdir -p "$W/src-often"; echo data >"$W/src-often/f"
CALENDAR='*:*:0/3' schedule often "PingURL=http://127.0.0.1:$HP/ping/often" "NotifyCommand=$LOGCMD" "Mail=root@localhost" \
        || fail "create schedule often"
newest() { sys sh -c 'ls /var/backups/often/ 2>/dev/null' | grep -E '^often-.*\.tar\.gz$' | sort | tail -1; }
has_often() { [ -n "$(newest)" ]; }
wait_for 20 has_often && ok "a 3-second schedule wrote an archive" || fail "no archive of often"
sys systemctl stop alexandria-often.timer
# no run in flight, and more than 1.5 periods without an archive
idle() { case $(sys systemctl is-active alexandria@often.service) in inactive | failed) true ;; *) false ;; esac; }
wait_for 20 idle || fail "alexandria@often.service still running"
last=$(newest)
stale() {
        local t; t=$(sys stat -c %Y "/var/backups/often/$(newest)") || return 1
        [ $(( $(date +%s) - t )) -ge 6 ]
}
wait_for 20 stale || fail "no 6 s without an archive"
# and a schedule whose channels are dead turns bad too: its timer stops
sys systemctl stop alexandria-dead.timer
check_eq "no overdue event before the watchdog ran" 0 "$(events overdue often)"
check "the watchdog service runs" sys systemctl start alexandria-watchdog.service
check_eq "the watchdog told NotifyCommand event=overdue" 1 "$(events overdue often)"
grep -q "^overdue|often|often: no archive for more than 1.5 times the schedule's period|\$" "$W/events.log" \
        && ok "the overdue event says why" || fail "events: $(grep '|often|' "$W/events.log")"
[ "$(grep -c '^/ping/often/start$' "$W/http.log")" -ge 1 ] && ok "the timer's runs pinged /start" || fail "pings: $(pings /ping/often)"
check_eq "and pinged /fail" 1 "$(grep -c '^/ping/often/fail$' "$W/http.log")"
wait_for 10 has_mail often overdue && ok "a mail 'backup often: overdue' arrived" || fail "no overdue mail: $(mailbox | grep Subject:)"
check "the watchdog runs again" sys systemctl start alexandria-watchdog.service
check_eq "a second watchdog run does not tell again" 1 "$(events overdue often)"
check_eq "nor ping /fail again" 1 "$(grep -c '^/ping/often/fail$' "$W/http.log")"
wait_for 10 errlogged dead "Notifying about overdue of dead failed: NotifyCommand 'exit 1'" \
        && ok "the watchdog logs its failed notification at err, with the schedule's field" || fail "err entries of dead: $(errs dead)"
check_eq "and only once" 1 "$(errs dead | grep -c 'Notifying about overdue of dead failed')"
check_eq "the watchdog set alexandria_overdue{schedule=\"often\"} 1" 1 "$(metric overdue often)"

check "start the timer again" sys systemctl start alexandria-often.timer
sys systemctl start alexandria-dead.timer
fresh() { [ "$(newest)" != "$last" ]; }
wait_for 20 fresh && ok "often wrote a new archive" || fail "no new archive of often"
recovered() { [ "$(events recovered often)" -ge 1 ]; }
wait_for 20 recovered && ok "NotifyCommand got event=recovered" || fail "events: $(grep '|often|' "$W/events.log")"
check "the watchdog runs after the recovery" sys systemctl start alexandria-watchdog.service
check "and once more" sys systemctl start alexandria-watchdog.service
check_eq "recovered was told exactly once" 1 "$(events recovered often)"
check_eq "overdue was told exactly once" 1 "$(events overdue often)"
wait_for 10 has_mail often recovered && ok "a mail 'backup often: recovered' arrived" || fail "no recovery mail: $(mailbox | grep Subject:)"
check_eq "one overdue mail, one recovery mail" "1 1" "$(mails often overdue) $(mails often recovered)"
check_eq "the watchdog cleared alexandria_overdue{schedule=\"often\"}" 0 "$(metric overdue often)"
sys systemctl stop alexandria-often.timer

# --- 6. progress: `systemctl status` shows the worker's STATUS= during a run
# xz of incompressible data: a few seconds
mkdir -p "$W/src-slow"
for i in 1 2 3 4; do head -c 2M /dev/urandom >"$W/src-slow/big$i"; done
BACKUP_EXTRA=Compression=xz schedule slow "PingURL=http://127.0.0.1:$HP/ping/slow" || fail "create schedule slow"
ctl run slow >"$W/slow.out" 2>&1 &
slow_pid=$!
slow_done() { ! kill -0 "$slow_pid" 2>/dev/null; }
seen=
progress() {
        local s; s=$(sys systemctl status --no-pager alexandria@slow.service 2>/dev/null)
        grep -q "Active: activating" <<<"$s" && grep -Eq "Status: \"[0-9]+ files, .* read; now at " <<<"$s" && seen=1
}
if wait_for 60 eval 'progress || slow_done' && [ -n "$seen" ]; then
        ok "systemctl status shows a STATUS= progress line during the run"
elif ! slow_done; then
        fail "no STATUS= line: $(sys systemctl status --no-pager alexandria@slow.service 2>&1 | head -12)"
else
        echo "# SKIP: the slow run ended before its progress could be seen ($(cat "$W/slow.out"))"
fi
wait_for 120 slow_done || { fail "the slow run did not end"; kill "$slow_pid"; }
wait "$slow_pid"; rc=$?
check_eq "the slow run exits 0" 0 $rc
