#!/bin/bash
# A whole server in the real service: alexandria@NAME.service, with its
# sandbox (ProtectSystem=strict, no network, a system call filter), reads
# the dpkg database and runs the package-state queries; it reports the
# unexpected files to the journal (ALEXANDRIA_UNEXPECTED=), keeps their list
# in its StateDirectory=, and the notifier tells NotifyCommand= and the mail
# whenever the set changes. The sandbox's /usr, /etc and /var are overlays:
# the files the test creates in /usr/bin never reach the host.
source "$(dirname "$0")/lib.sh"
[ -r /var/lib/dpkg/status ] || { echo "# SKIP: no dpkg"; exit 77; }

it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }

: > "$W/events.log"
mail=
[ -x /usr/sbin/sendmail ] && mail=Mail=root@localhost
sys rm -f /var/mail/root
sys sh -c 'echo unowned > /usr/bin/alexandria-it-unowned'
cat > "$W/server.conf" <<EOF
[Schedule]
OnCalendar=daily
[Backup]
Source=/usr/bin
Source=/etc/bash.bashrc
Source=/var/lib/dpkg/alternatives
SkipPackaged=yes
Expect=/etc
Expect=/usr/bin/alexandria-ctl
Destination=/var/backups/server
[Notify]
NotifyCommand=printf '%s|%s|%s\\n' "\$ALEXANDRIA_EVENT" "\$ALEXANDRIA_UNEXPECTED_FILE" "\$ALEXANDRIA_MESSAGE" >> $W/events.log
$mail
EOF
chmod 644 "$W/server.conf"
sys mkdir -p /etc/alexandria/schedules.d
sys cp "$W/server.conf" /etc/alexandria/schedules.d/server.conf && ctl reload > /dev/null

ctl run server > "$W/run.out" 2>&1; rc=$?
check_eq "the service runs the server schedule without warnings" 0 "$rc"
check "run says how many files are unexpected" grep -qx "1 stored file no Expect= covers: alexandria-ctl files server --unexpected" "$W/run.out"
[ "$rc" = 0 ] || { cat "$W/run.out"; sys journalctl --no-pager -o cat ALEXANDRIA_SCHEDULE=server ALEXANDRIA_EVENT=file-warning; }
archive=$(ctl backups server | tail -n1)
sys tar -tzf "$archive" > "$W/list"
for e in dpkg-selections apt-manual apt-auto packages dpkg-architectures alternatives; do
        check "the service's sandbox let it store .alexandria/system/$e" grep -qx ".alexandria/system/$e" "$W/list"
done
check "the selections are the system's" cmp -s <(sys tar -xzOf "$archive" .alexandria/system/dpkg-selections) <(dpkg --get-selections)
check "the new file in /usr/bin is in the archive" grep -qx usr/bin/alexandria-it-unowned "$W/list"
check "dpkg's /usr/bin/dpkg is not" sh -c '! grep -qx usr/bin/dpkg "$1"' _ "$W/list"

journal() { sys journalctl --no-pager -o verbose ALEXANDRIA_SCHEDULE=server ALEXANDRIA_EVENT=unexpected; }
logged() { journal | grep -q "$1"; }
wait_for 10 logged "ALEXANDRIA_UNEXPECTED=1" && ok "the journal has the unexpected event with its count" \
        || fail "unexpected events: $(journal)"
check "... naming the file" logged "MESSAGE=1 file of server not covered by Expect=: /usr/bin/alexandria-it-unowned"
check "... at warning" logged "PRIORITY=4"
check "... with its catalog entry's MESSAGE_ID" logged "MESSAGE_ID=dae9e8efea584dbc8e335d4a1859059d"
check_eq "the service kept the list in its state directory" /usr/bin/alexandria-it-unowned "$(sys cat /var/lib/alexandria/server.unexpected)"
told() { grep -c "^unexpected|/var/lib/alexandria/server.unexpected|" "$W/events.log"; }
check_eq "NotifyCommand= was told once" 1 "$(told)"
if [ -n "$mail" ]; then
        unexpected_mail() { sys cat /var/mail/root 2>/dev/null | grep -q "^Subject: \[alexandria\] backup server: unexpected"; }
        wait_for 10 unexpected_mail && ok "a mail 'backup server: unexpected' arrived" || fail "no mail; $(sys cat /var/mail/root 2>&1 | grep Subject)"
        check "... listing the file" sh -c 'grep -q "^  /usr/bin/alexandria-it-unowned$" "$1"' _ <(sys cat /var/mail/root)
fi
ctl status server > "$W/status"
check "status shows the unexpected file" grep -qx "        /usr/bin/alexandria-it-unowned" "$W/status"

ctl run server > /dev/null 2>&1
check_eq "the same set on the next run: not told again" 1 "$(told)"
sys sh -c 'rm /usr/bin/alexandria-it-unowned; echo other > /usr/bin/alexandria-it-other'
ctl run server > /dev/null 2>&1
check_eq "a changed set is told again" 2 "$(told)"
check_eq "the list is the new one" /usr/bin/alexandria-it-other "$(sys cat /var/lib/alexandria/server.unexpected)"
check_eq "files --unexpected agrees" /usr/bin/alexandria-it-other "$(ctl files server --unexpected)"

# A long list is bounded where people read it: ten names in the journal and
# in status, a thousand in the mail, every one in the state's list.
sys sh -c 'for i in $(seq -w 1 1005); do echo many > /usr/bin/alexandria-it-many-$i; done'
if [ -n "$mail" ]; then
        # the mail about the changed set above first, so that none is left in flight
        other_mail() { sys cat /var/mail/root 2>/dev/null | grep -q "^  /usr/bin/alexandria-it-other$"; }
        wait_for 10 other_mail || fail "no mail about the changed set"
fi
sys rm -f /var/mail/root
ctl run server > /dev/null 2>&1
check_eq "the state's list has all 1006" 1006 "$(sys cat /var/lib/alexandria/server.unexpected | wc -l)"
wait_for 10 logged "ALEXANDRIA_UNEXPECTED=1006" && ok "the journal counts 1006" || fail "unexpected events: $(journal | tail -20)"
msg=$(journal | grep "MESSAGE=1006 files of server" | tail -1)
check_eq "the journal message names ten of them" 10 "$(grep -o '/usr/bin/alexandria-it-' <<<"$msg" | wc -l)"
grep -q " and 996 more (all of them in /var/lib/alexandria/server.unexpected)" <<<"$msg" && ok "... and says how many more" || fail "message: $msg"
ctl status server > "$W/status"
check_eq "status names ten" 10 "$(grep -c '^        /usr/bin/alexandria-it-' "$W/status")"
if [ -n "$mail" ]; then
        many_mail() { sys cat /var/mail/root 2>/dev/null | grep -q "^  … and 6 more$"; }
        wait_for 10 many_mail && ok "the mail lists a thousand and says 6 more" || fail "mail: $(sys cat /var/mail/root 2>&1 | tail -5)"
        check_eq "... a thousand names in it" 1000 "$(sys cat /var/mail/root | grep -c '^  /usr/bin/alexandria-it-')"
fi
