#!/bin/bash
# Hand-edited schedules with injection attempts must not change any generated
# unit: each is refused (no timer) or lands escaped. We check the generated
# text itself and what systemd parsed from it: `systemd-analyze verify` alone
# passes units with injected lines.
source "$(dirname "$0")/lib.sh"
it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }

mkdir -p "$W/src"; echo x > "$W/src/f"
dir=/etc/alexandria/schedules.d
gen=/run/systemd/generator
sys mkdir -p "$dir"

# put NAME LINE…: writes a schedule file by hand, as configuration management would
put() {
        local name=$1; shift
        printf '%s\n' "$@" | sys sh -c "umask 022; cat > '$dir/$name.conf'"
}
base() { printf '%s\n' '[Schedule]' "OnCalendar=${1:-daily}" '[Backup]' "Source=$W/src"; }

# refused NAME DESC: no timer was generated, and the reason is in the journal
refused() {
        local name=$1 desc=$2
        if sys test -e "$gen/alexandria-$name.timer"; then
                fail "$desc: a timer was generated: $(sys cat "$gen/alexandria-$name.timer")"
        else
                ok "$desc: refused, no timer"
        fi
        # journald takes the entry asynchronously: give it a moment
        skipped() { sys journalctl --no-pager -o cat SYSLOG_IDENTIFIER=alexandria | grep -q "Skipping schedule $1"; }
        if wait_for 10 skipped "$name"; then
                ok "$desc: the generator logged why"
        else
                fail "$desc: no 'Skipping schedule $name' in the journal"
                # seen once in a full run (2 of 14 lines missing): keep what
                # the next time needs to tell why
                sys journalctl --no-pager -o cat SYSLOG_IDENTIFIER=alexandria | grep Skipping | sort | uniq -c | sed 's/^/# /'
                sys journalctl --no-pager -o short-monotonic -u systemd-journald.service | tail -n 20 | sed 's/^/# /'
                sys journalctl --no-pager --disk-usage | sed 's/^/# /'
        fi
}

put cal_spec   $(base) ; sys sed -i 's/^OnCalendar=.*/OnCalendar=daily %h/' "$dir/cal_spec.conf"
put cal_pct    '[Schedule]' 'OnCalendar=*-*-* 10:00:00 %%' '[Backup]' "Source=$W/src"
put cal_var    '[Schedule]' 'OnCalendar=$VAR' '[Backup]' "Source=$W/src"
put cal_quote  '[Schedule]' 'OnCalendar=daily"' '[Backup]' "Source=$W/src"
put cal_semi   '[Schedule]' 'OnCalendar=daily;weekly' '[Backup]' "Source=$W/src"
put cal_nl     '[Schedule]' 'OnCalendar=daily' 'ExecStartPost=/bin/touch /tmp/pwned' '[Backup]' "Source=$W/src"
put section    '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" '[Service]' 'ExecStartPost=/bin/touch /tmp/pwned'
put backslash  '[Schedule]' 'OnCalendar=daily \' 'ExecStartPost=/bin/touch /tmp/pwned' '[Backup]' "Source=$W/src"
put ctrl       '[Schedule]' $'OnCalendar=daily\x1b[2J' '[Backup]' "Source=$W/src"
put ctrl_dest  '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" $'Destination=/var/backups/a\x01b'
put 'bad%name' '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src"
put delay      '[Schedule]' 'OnCalendar=daily' 'RandomizedDelaySec=1h\nExecStartPost=x' '[Backup]' "Source=$W/src"

# accepted, escaped
put d_spec   '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" 'Destination=/var/backups/%h/x'
put d_var    '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" 'Destination=/var/backups/$VAR'
put d_quote  '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" 'Destination=/var/backups/a"b'
put d_bs     '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" 'Destination=/var/backups/a\b/c'
put d_semi   '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" 'Destination=/var/backups/a;b'
put d_sect   '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" 'Destination=/var/backups/x [Service] ExecStartPost=/bin/true'
put d_space  '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src" 'Destination=/var/backups/two words'
put ok_plain '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src"

# files nobody but root may have written are the only ones trusted
put perm_world '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src"
sys chmod 0666 "$dir/perm_world.conf"
put perm_group '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src"
sys chmod 0664 "$dir/perm_group.conf"
put perm_owner '[Schedule]' 'OnCalendar=daily' '[Backup]' "Source=$W/src"
sys chown 1000:1000 "$dir/perm_owner.conf"

check "reload with the hand-written files" ctl reload
refused perm_world "a world-writable schedule"
refused perm_group "a group-writable schedule"
refused perm_owner "a schedule owned by another user"

for n in cal_spec cal_pct cal_var cal_quote cal_semi cal_nl section backslash ctrl ctrl_dest delay; do
        refused "$n" "$n"
done
if sys sh -c "ls $gen | grep -q 'bad'"; then fail "a schedule with an invalid name produced units"; else ok "a schedule with an invalid name produced no unit"; fi

# For accepted ones: the exact text of the drop-in, and what systemd made of it.
expect_rw() {
        local name=$1 line=$2 parsed=$3
        local text
        text=$(sys cat "$gen/alexandria@$name.service.d/50-alexandria.conf")
        check_eq "$name: the drop-in line is escaped" "$line" "$(grep '^ReadWritePaths=' <<<"$text")"
        local mounts_dest=${line#ReadWritePaths=-}
        check_eq "$name: the drop-in has exactly its directives" \
                "SourcePath=/etc/alexandria/schedules.d/$name.conf|RequiresMountsFor=\"$W/src\"|RequiresMountsFor=$mounts_dest|[Service]|$line" \
                "$(grep -v '^#' <<<"$text" | grep -v '^\[Unit\]$' | grep -v '^$' | paste -sd'|')"
        check_eq "$name: systemd parsed the destination literally" "$parsed" \
                "$(sys systemctl show -P ReadWritePaths "alexandria@$name.service")"
        check_eq "$name: no ExecStartPost= appeared" "" "$(sys systemctl show -P ExecStartPost "alexandria@$name.service")"
}
expect_rw d_spec  'ReadWritePaths=-"/var/backups/%%h/x"'   '-/var/backups/%h/x'
# (systemctl show quotes and escapes what it prints, like a shell would)
expect_rw d_var   'ReadWritePaths=-"/var/backups/$VAR"'    '"-/var/backups/\$VAR"'
expect_rw d_quote 'ReadWritePaths=-"/var/backups/a\"b"'    '"-/var/backups/a\"b"'
expect_rw d_bs    'ReadWritePaths=-"/var/backups/a\\b/c"'  '"-/var/backups/a\\b/c"'
expect_rw d_semi  'ReadWritePaths=-"/var/backups/a;b"'     '"-/var/backups/a;b"'
expect_rw d_sect  'ReadWritePaths=-"/var/backups/x [Service] ExecStartPost=/bin/true"' '"-/var/backups/x [Service] ExecStartPost=/bin/true"'
expect_rw d_space 'ReadWritePaths=-"/var/backups/two words"' '"-/var/backups/two words"'

# Every generated timer has exactly the directives we write, nothing else.
for n in d_spec d_var d_quote d_bs d_semi d_sect d_space ok_plain; do
        keys=$(sys grep -o '^[A-Za-z]*=' "$gen/alexandria-$n.timer" | paste -sd' ')
        check_eq "$n: the timer holds only our directives" \
                "Description= Documentation= SourcePath= OnCalendar= Persistent= RandomizedDelaySec= AccuracySec= Unit=" "$keys"
        check_eq "$n: the timer starts its own service" "alexandria@$n.service" "$(sys systemctl show -P Triggers "alexandria-$n.timer")"
done
check "the timer of an escaped schedule verifies" sys systemd-analyze verify --man=no "$gen/alexandria-d_spec.timer" alexandria@d_spec.service

# A run of the %h one really writes to the literal path.
check "run a schedule whose destination holds %h" ctl run d_spec
check "its archive is under the literal %h directory" sys sh -c 'ls /var/backups/%h/x/d_spec-*.tar.gz'
check "nothing was ever written to /tmp/pwned" sys test ! -e /tmp/pwned
