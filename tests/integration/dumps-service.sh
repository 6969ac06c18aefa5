#!/bin/bash
# Dumps, hooks and locks through the real service in the systemd sandbox:
# a real PostgreSQL (on the host, its socket in the work dir, TCP on
# 127.0.0.1) dumped by alexandria@pg.service under the unit's hardening,
# with pg_dumpall through runuser and pg_dump over TCP, restored into a
# fresh cluster and compared; the generated drop-in (hooks with % and $,
# the sandbox widened only as far as the dumps need); a dump that hides
# its TCP host fails (the sandbox is real), the notifier is told; a lock
# held inside the sandbox is named with its holder.
source "$(dirname "$0")/lib.sh"
source "$HERE/../functional/pg.sh"
it_setup
export LC_ALL=C.UTF-8
chmod 0711 "$W"
pg_require "$W/pg" || { fail "PostgreSQL is installed"; exit 1; }
trap 'pg_stop_all; it_finish' EXIT

port1=$(pg_free_port)
port2=$(pg_free_port)
[ "$port1" != "$port2" ] || port2=$((port1 + 1))
check "a PostgreSQL cluster starts (socket in $PG_DIR, TCP on 127.0.0.1:$port1)" pg_start one "$port1" tcp
check "it gets rows" pg_fill "$port1"

sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }
dir=/etc/alexandria/schedules.d
sys mkdir -p "$dir"
mkdir -p "$W/src"; echo data > "$W/src/f"
: > "$W/notify.log"
# put NAME LINE…: a schedule file by hand, applied with reload
put() {
        local name=$1; shift
        {
                printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=/var/backups/%s\n' "$W/src" "$name"
                printf '%s\n' "$@"
        } > "$W/$name.conf"
        chmod 644 "$W/$name.conf"
        sys cp "$W/$name.conf" "$dir/$name.conf"
}
notify_cmd="NotifyCommand=printf '%s|%s|%s\\n' \"\$ALEXANDRIA_EVENT\" \"\$ALEXANDRIA_SCHEDULE\" \"\$ALEXANDRIA_MESSAGE\" >> $W/notify.log"
hooks=/var/backups/pg/hooks.log

put pg \
        "Dump=postgresql.sql runuser -u postgres -- pg_dumpall -h $PG_DIR -p $port1" \
        "Dump=app.dump pg_dump -Fc -h 127.0.0.1 -p $port1 -U postgres app" \
        "Dump=note.txt /bin/sh -c 'echo note; echo a-note-on-stderr >&2'" \
        "ExecStartPre=/bin/sh -c 'echo \"pre 100%\" > $hooks'" \
        "ExecStopPost=/bin/sh -c 'echo \"post \$SERVICE_RESULT \$EXIT_CODE \$EXIT_STATUS\" >> $hooks'"
put plain
put hidden "Dump=app.dump env PGHOST=127.0.0.1 pg_dump -Fc -p $port1 -U postgres app" "[Notify]" "$notify_cmd"
put prefail "ExecStartPre=/bin/sh -c 'exit 7'" \
        "ExecStopPost=/bin/sh -c 'echo \"[\$SERVICE_RESULT] [\$EXIT_CODE] [\$EXIT_STATUS]\" > /var/backups/prefail/env'" \
        "[Notify]" "$notify_cmd"
: > "$W/held.lock"
put locked "LockFile=$W/held.lock" "LockTimeoutSec=1"
sys mkdir -p /var/backups/pg
ctl reload > /dev/null || fail "reload"

# ---- the generated drop-in, and what systemd made of it ----
sys systemctl cat alexandria@pg.service > "$W/cat-pg" 2>&1
check "systemctl cat shows ExecStartPre= with % escaped" grep -qxF "ExecStartPre=/bin/sh -c 'echo \"pre 100%%\" > $hooks'" "$W/cat-pg"
check "systemctl cat shows ExecStopPost= with \$ escaped" \
        grep -qxF "ExecStopPost=/bin/sh -c 'echo \"post \$\$SERVICE_RESULT \$\$EXIT_CODE \$\$EXIT_STATUS\" >> $hooks'" "$W/cat-pg"
check "runuser widens the capabilities" grep -qx 'CapabilityBoundingSet=CAP_SETUID CAP_SETGID' "$W/cat-pg"
check "... and the system calls" grep -qx 'SystemCallFilter=@setuid setrlimit prlimit64 setpriority' "$W/cat-pg"
check "a dump over TCP widens the address families" grep -qx 'RestrictAddressFamilies=AF_INET AF_INET6' "$W/cat-pg"
families() { sys systemctl show -p RestrictAddressFamilies --value "alexandria@$1.service" | tr ' ' '\n' | sort | xargs; }
check_eq "systemd parsed AF_UNIX AF_INET AF_INET6 for pg" "AF_INET AF_INET6 AF_UNIX" "$(families pg)"
check_eq "a schedule without dumps stays AF_UNIX only" "AF_UNIX" "$(families plain)"
check_eq "a dump whose host is hidden gets no network" "AF_UNIX" "$(families hidden)"
caps() { sys systemctl show -p CapabilityBoundingSet --value "alexandria@$1.service" | tr ' ' '\n' | sort | xargs; }
check_eq "a schedule without dumps keeps the unit's capabilities" "cap_dac_override cap_dac_read_search cap_fowner" "$(caps plain)"
sys systemctl cat alexandria@plain.service > "$W/cat-plain"
check "a schedule without dumps has no widening lines" test "$(grep -cE '^(CapabilityBoundingSet|RestrictAddressFamilies|SystemCallFilter|ProcSubset|ExecStartPre|ExecStopPost)=' "$W/cat-plain")" = \
        "$(sys cat /usr/lib/systemd/system/alexandria@.service | grep -cE '^(CapabilityBoundingSet|RestrictAddressFamilies|SystemCallFilter|ProcSubset|ExecStartPre|ExecStopPost)=')"
check_eq "LockFile= makes /proc/locks visible" "all" "$(sys systemctl show -p ProcSubset --value alexandria@locked.service)"

# ---- the run, through the manager ----
ctl run pg > "$W/run-pg" 2>&1; rc=$?
check_eq "alexandria-ctl run pg (the service) exits 0" 0 "$rc"
[ "$rc" = 0 ] || { cat "$W/run-pg"; sys journalctl --no-pager -o cat SYSLOG_IDENTIFIER=alexandria | tail -20; }
check_eq "ExecStartPre= ran, then ExecStopPost= with systemd's variables" "$(printf 'pre 100%%\npost success exited 0')" "$(sys cat $hooks)"
dumpnote() { sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=pg ALEXANDRIA_DUMP=note.txt | grep -q 'a-note-on-stderr'; }
check "the dump's stderr is in the journal with ALEXANDRIA_SCHEDULE= and ALEXANDRIA_DUMP=" wait_for 10 dumpnote
ctl restore pg --dumps --to "$W/r" > /dev/null 2>&1 || fail "restore --dumps"
d=$W/r/.alexandria/dumps
check "pg_dumpall (as postgres, through runuser) wrote the dump" grep -q 'CREATE ROLE reporter' "$d/postgresql.sql"
check "pg_dump over TCP wrote a custom-format dump" test "$(head -c 5 "$d/app.dump" 2>/dev/null)" = PGDMP
check "a second, fresh cluster starts" pg_start two "$port2"
pg_sql "$port2" postgres -v ON_ERROR_STOP=0 < "$d/postgresql.sql" > "$W/restore.log" 2>&1
check "the pg_dumpall dump restores app with the same rows" test "$(pg_rows "$port2" app)" = "$(pg_rows "$port1" app)"
check "... and shop" test "$(pg_rows "$port2" shop)" = "$(pg_rows "$port1" shop)"
pg_sql "$port2" postgres -c "CREATE DATABASE app2"
runuser -u postgres -- pg_restore -h "$PG_DIR" -p "$port2" -d app2 --no-owner < "$d/app.dump" 2> "$W/pg_restore.log"
check "pg_restore of the TCP dump gives the same rows" test "$(pg_rows "$port2" app2)" = "$(pg_rows "$port1" app)"

# ---- the sandbox is real: a hidden TCP host cannot connect; the notifier hears of it ----
ctl run hidden > "$W/run-hidden" 2>&1; rc=$?
check_eq "a dump that cannot reach its database fails the service (exit 1)" 1 "$rc"
failed_event() { grep -q "^failed|hidden|Backup of hidden failed: Dump app.dump (env) exited with status 1" "$W/notify.log"; }
check "the notifier is told which dump failed" wait_for 10 failed_event
check "no archive of hidden" test -z "$(sys ls /var/backups/hidden 2>/dev/null | grep '\.tar')"

# ---- a failing ExecStartPre=: no backup, the unit fails, the notifier is told ----
ctl run prefail > /dev/null 2>&1; rc=$?
check_eq "a failing ExecStartPre= fails the run (exit 1)" 1 "$rc"
check "a failing ExecStartPre=: no archive" test -z "$(sys ls /var/backups/prefail 2>/dev/null | grep '\.tar')"
check_eq "a failing ExecStartPre=: the unit is failed" failed "$(sys systemctl is-failed alexandria@prefail.service)"
prefail_event() { grep -q "^failed|prefail|alexandria@prefail.service ended with result 'exit-code'" "$W/notify.log"; }
check "a failing ExecStartPre=: the notifier is told" wait_for 10 prefail_event
# run --here copies this (tests/functional/dumps.sh)
check_eq "a failing ExecStartPre=: ExecStopPost= gets \$SERVICE_RESULT, no \$EXIT_CODE or \$EXIT_STATUS" \
        "[exit-code] [] []" "$(sys cat /var/backups/prefail/env)"

# ---- a lock held inside the sandbox: named with its holder ----
sys python3 -c 'import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(120)' "$W/held.lock" > /dev/null 2>&1 &
holder_ns=$!
held() { ! flock -n "$W/held.lock" true; }
wait_for 10 held
ctl run locked > /dev/null 2>&1; rc=$?
check_eq "a held LockFile= fails the service (exit 1)" 1 "$rc"
lockmsg() { sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=locked | grep -q "LockFile=$W/held.lock: still locked after 1.0s (LockTimeoutSec=): pid [0-9]* (python3) holds an exclusive flock"; }
check "the journal says which process holds the lock" wait_for 10 lockmsg
kill "$holder_ns" 2>/dev/null; wait "$holder_ns" 2>/dev/null
