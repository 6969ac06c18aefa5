#!/bin/bash
# Offsite in a real systemd: the copy runs inside alexandria@.service's
# hardening (the generator opens the network only for schedules with
# CopyTo=), to a real sshd (key forced into rrsync -wo) and rclone :local:;
# a failed copy fails the unit after the archive is kept, is logged at err
# with ALEXANDRIA_COPY_TARGET=, reaches the notifier and shows in status.
# And the pull: a dedicated unprivileged account whose key is forced into
# `alexandria-ctl serve NAME` pulls the archives with rsync
# (DestinationGroup=), starts a run, reads status, and everything else it
# asks for is refused and logged with its address.
source "$(dirname "$0")/lib.sh"

for t in /usr/sbin/sshd /usr/bin/rrsync rsync rclone ssh-keygen useradd; do
        command -v "$t" >/dev/null 2>&1 || { echo "# SKIP: $t not installed"; exit 77; }
done

it_setup
sandbox_system_boot "$W" "$STAGE" || { fail "boot the system sandbox"; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- accounts and keys (inside: /etc and /var are the sandbox's overlays)
sys groupadd --system alexandria-pull
sys useradd --system --gid alexandria-pull --home-dir /var/lib/alexandria-pull --create-home --shell /bin/sh alexandria-pull
# no password, but not locked: sshd refuses locked accounts even for keys
sys usermod -p '*' alexandria-pull
K=$W/keys
mkdir -p "$K"
for k in push pull serve-root; do ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$K/$k"; done
ssh-keygen -q -t ed25519 -N '' -C host -f "$K/host"
PORT=$(free_port)
REMOTE=$W/remote RC=$W/rclone
mkdir -p "$REMOTE" "$RC"

S=/etc/alexandria-test-ssh
sys mkdir -p $S /etc/alexandria /run/sshd
sys cp "$K/host" "$K/host.pub" $S/
sys sh -c "cat > $S/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $S/host
PidFile /run/test-sshd.pid
AuthorizedKeysFile $S/authorized_keys.%u
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel VERBOSE
EOF
# root: one key for the copies (write-only rrsync), one for serve (run)
sys sh -c "cat > $S/authorized_keys.root" <<EOF
command="rrsync -wo $REMOTE",restrict $(cat "$K/push.pub")
command="$CTL_IN serve pulled",restrict $(cat "$K/serve-root.pub")
EOF
sys sh -c "cat > $S/authorized_keys.alexandria-pull" <<EOF
command="$CTL_IN serve pulled",restrict $(cat "$K/pull.pub")
EOF
sys chmod 644 $S/authorized_keys.root $S/authorized_keys.alexandria-pull
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$K/host.pub")" > "$K/known_hosts"
sys cp "$K/push" /etc/alexandria/offsite.key
sys cp "$K/known_hosts" /etc/alexandria/known_hosts
sys chmod 600 /etc/alexandria/offsite.key

sshd_up() { sys systemd-run --quiet --unit=test-sshd /usr/sbin/sshd -D -e -f $S/sshd_config; wait_for 10 ssh_answers; }
sshd_down() { sys systemctl stop test-sshd; ! ssh_answers; }
ssh_answers() { python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1', $PORT), timeout=1); sys.exit(0 if s.recv(4) == b'SSH-' else 1)" 2>/dev/null; }
sshd_up || { fail "start sshd inside the sandbox: $(sys journalctl --no-pager -u test-sshd | tail -5)"; exit 1; }
ok "sshd runs inside the sandbox on 127.0.0.1:$PORT"

# --- the schedules: one with copies, one without
mkdir -p "$W/src"; seq 1 5000 > "$W/src/numbers"
: >"$W/events.log"
sys sh -c "cat > /etc/alexandria/schedules.d/pulled.conf" <<EOF
[Schedule]
OnCalendar=daily
[Backup]
Source=$W/src
Destination=/var/backups/pulled
Keep=3
DestinationGroup=alexandria-pull
CopyTo=ssh://root@127.0.0.1:$PORT/
CopyTo=rclone::local:$RC
SSHCommand=ssh -i /etc/alexandria/offsite.key -o UserKnownHostsFile=/etc/alexandria/known_hosts
[Notify]
NotifyCommand=printf '%s|%s\\n' "\$ALEXANDRIA_EVENT" "\$ALEXANDRIA_MESSAGE" >> $W/events.log
EOF
sys sh -c "printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=$W/src\nDestination=/var/backups/plain\n' > /etc/alexandria/schedules.d/plain.conf"
sys chmod 644 /etc/alexandria/schedules.d/pulled.conf /etc/alexandria/schedules.d/plain.conf
ctl reload >/dev/null || fail "reload"
# alexandria-update.path reloads again when it sees the new files, and a
# reload empties the generator's directory while it runs: let it finish
# before reading the drop-ins.
sys systemctl stop alexandria-update.path
idle() { [ "$(sys systemctl is-active alexandria-update.service)" != activating ] &&
        ! sys systemctl list-jobs --no-legend | grep -q alexandria-update; }
wait_for 20 idle || fail "alexandria-update.service does not finish"
ctl reload >/dev/null || fail "reload"

dropin() { sys cat "/run/systemd/generator/alexandria@$1.service.d/50-alexandria.conf"; }
check "the drop-in of a schedule with CopyTo= opens the network" \
        grep -qx 'RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK' <(dropin pulled)
check "... and lets it write the :local: target" grep -qx "ReadWritePaths=-\"$RC\"" <(dropin pulled) || dropin pulled | sed 's/^/#   /'
check "... and DestinationGroup= gives it CAP_CHOWN" grep -qx 'CapabilityBoundingSet=CAP_CHOWN' <(dropin pulled)
no_network() { dropin plain | grep -q '^ReadWritePaths=' && ! dropin plain | grep -q RestrictAddressFamilies; }
check "a schedule without CopyTo= stays off the network" no_network
check_eq "the service still allows only AF_UNIX for plain" "AF_UNIX" \
        "$(sys systemctl show -p RestrictAddressFamilies --value alexandria@plain.service)"

# --- a run through the manager copies, under the hardening
out=$(ctl run pulled 2>&1); rc=$?
check_eq "run pulled (through systemd, hardened) exits 0" 0 $rc || echo "# $out"
archive=$(ctl backups pulled | tail -1); name=$(basename "$archive")
check "the archive reached the rrsync target" cmp -s <(sys cat "$archive") "$REMOTE/$name"
check "the archive reached the rclone :local: target" cmp -s <(sys cat "$archive") "$RC/$name"
check_eq "the destination is 0750 for alexandria-pull" "750 alexandria-pull" "$(sys stat -c '%a %G' /var/backups/pulled)"
check_eq "the archive is 0640 for alexandria-pull" "640 alexandria-pull" "$(sys stat -c '%a %G' "$archive")"
# (grep reads it all: an early exit would fail the pipe under pipefail)
journal_has() { sys journalctl --no-pager -o export SYSLOG_IDENTIFIER=alexandria ALEXANDRIA_SCHEDULE=pulled "$@" | grep -a . >/dev/null; }
check "the journal has a 'copied' event per target" journal_has ALEXANDRIA_EVENT=copied "ALEXANDRIA_COPY_TARGET=ssh://root@127.0.0.1:$PORT/"

# --- sshd stopped: the unit fails after the archive is kept; told everywhere
sshd_down || fail "stop sshd"
sleep 1.1
out=$(ctl run pulled 2>&1); rc=$?
check_eq "with sshd stopped, run pulled exits 1" 1 $rc
kept=$(ctl backups pulled | tail -1)
check "... the new archive is written and kept" test "$kept" != "$archive" -a -n "$kept"
check "... the journal has copy-failed at err with ALEXANDRIA_COPY_TARGET=" \
        journal_has ALEXANDRIA_EVENT=copy-failed PRIORITY=3 "ALEXANDRIA_COPY_TARGET=ssh://root@127.0.0.1:$PORT/"
grep -q "^failed|Backup of pulled failed: the archive .* is written and kept, but the copy to ssh://root@127.0.0.1:$PORT/ failed: .*Connection refused" "$W/events.log" \
        && ok "the notifier was told, with the target and ssh's error" || fail "events: $(cat "$W/events.log")"
st=$(ctl status pulled 2>&1); rc=$?
check_eq "status exits 1" 1 $rc
grep -q "COPY FAILED to ssh://root@127.0.0.1:$PORT/" <<<"$st" && grep -q "last good copy: " <<<"$st" \
        && ok "status shows COPY FAILED and the last good copy" || fail "status: $st"

sshd_up || fail "restart sshd"
sleep 1.1
ctl run pulled >/dev/null; rc=$?
check_eq "with sshd back, the next run exits 0" 0 $rc
check "... and sent the archive the failed run kept" cmp -s <(sys cat "$kept") "$REMOTE/$(basename "$kept")"

# --- the pull: an unprivileged account, serve as its forced command
pull_ssh="ssh -T -i $K/pull -o UserKnownHostsFile=$K/known_hosts -o IdentitiesOnly=yes -o BatchMode=yes -p $PORT"
mkdir -p "$W/pulled"
rsync -a -e "$pull_ssh" alexandria-pull@127.0.0.1:pulled/ "$W/pulled/" >"$W/pull.out" 2>&1; rc=$?
check_eq "rsync -a alexandria-pull@host:pulled/ DIR/ exits 0" 0 $rc || sed 's/^/#   /' "$W/pull.out"
check "... and pulled something" test -n "$(ls "$W/pulled")"
check_eq "it pulled exactly pulled's archives" "$(ctl backups pulled | xargs -n1 basename | sort)" "$(ls "$W/pulled" | sort)"
for a in $(ctl backups pulled); do
        check "pulled $(basename "$a") byte for byte" cmp -s <(sys cat "$a") "$W/pulled/$(basename "$a")"
done
sys sh -c "head -c 100 /dev/urandom > /var/backups/pulled/other-20000101T000000Z.tar.gz; chgrp alexandria-pull /var/backups/pulled/other-20000101T000000Z.tar.gz; chmod 640 /var/backups/pulled/other-20000101T000000Z.tar.gz"
rm -rf "$W/pulled2"; mkdir "$W/pulled2"
rsync -a -e "$pull_ssh" alexandria-pull@127.0.0.1:pulled/ "$W/pulled2/" >/dev/null 2>&1; rc=$?
check "another schedule's archive in the same destination is not pulled" \
        test $rc -eq 0 -a -n "$(ls "$W/pulled2")" -a ! -e "$W/pulled2/other-20000101T000000Z.tar.gz"
one=$(ctl backups pulled | head -1 | xargs basename)
rm -rf "$W/pulled3"; mkdir "$W/pulled3"
rsync -a -e "$pull_ssh" "alexandria-pull@127.0.0.1:pulled/$one" "$W/pulled3/" >/dev/null 2>&1; rc=$?
check "pulling one archive by name works" test $rc -eq 0 -a -s "$W/pulled3/$one"

out=$($pull_ssh alexandria-pull@127.0.0.1 status 2>&1); rc=$?
grep -q "^pulled" <<<"$out" && grep -q "Newest archive: /var/backups/pulled/" <<<"$out" \
        && ok "serve: status answers for the pull account (exit $rc)" || fail "serve status: $out"
serve_root="ssh -i $K/serve-root -o UserKnownHostsFile=$K/known_hosts -o IdentitiesOnly=yes -o BatchMode=yes -p $PORT root@127.0.0.1"
n_before=$(ctl backups pulled | wc -l)
sleep 1.1
out=$($serve_root run 2>&1); rc=$?
check_eq "serve: run starts the backup and reports it (exit 0)" 0 $rc
grep -q "alexandria@pulled.service: succeeded; archive /var/backups/pulled/" <<<"$out" && ok "... and says it succeeded" || fail "serve run: $out"
# the pull account itself: the package's polkit rule lets alexandria-pull
# start (only start) alexandria@NAME.service, so the remote never needs root
newest_before=$(ctl backups pulled | tail -1)
sleep 1.1
out=$($pull_ssh alexandria-pull@127.0.0.1 run 2>&1); rc=$?
check_eq "serve: run as the unprivileged pull account exits 0 (polkit rule)" 0 $rc
grep -q "^alexandria@pulled.service: succeeded" <<<"$out" && ok "... and says it succeeded" || fail "serve run as alexandria-pull: $out"
check "... and the backup ran: a newer archive" test "$(ctl backups pulled | tail -1)" \> "$newest_before"
out=$(sys runuser -u alexandria-pull -- systemctl stop alexandria@pulled.service 2>&1 </dev/null); rc=$?
[ $rc -ne 0 ] && ok "the rule allows no more: the pull account cannot stop the service (exit $rc)" \
        || fail "alexandria-pull could stop alexandria@pulled.service: $out"

# each bad request: refused with a message, non-zero exit, nothing changed
refused() {
        local desc=$1 cmd=$2 fragment=$3 out rc
        out=$($pull_ssh alexandria-pull@127.0.0.1 "$cmd" 2>&1 </dev/null); rc=$?
        if [ $rc -eq 0 ]; then fail "serve refuses $desc: exit 0 ($out)"
        elif ! grep -q "refused: " <<<"$out" || ! grep -qF -- "$fragment" <<<"$out"; then fail "serve refuses $desc: message '$out'"
        else ok "serve refuses $desc (exit $rc)"; fi
}
ls_dest() { sys ls -la /var/backups/pulled; }
dest_before=$(ls_dest)
refused "a shell command" "id; cat /etc/shadow" "only run, status and a read-only rsync"
refused "an upload" "rsync --server -logDtpre.iLsfxCIvu . pulled/" "only a pulling rsync"
refused "--remove-source-files" "rsync --server --sender -logDtpre.iLsfxCIvu --remove-source-files . pulled/" \
        "option --remove-source-files is not allowed"
refused "--delete" "rsync --server --sender -logDtpre.iLsfxCIvu --delete . pulled/" "option --delete is not allowed"
refused "a path outside (..)" "rsync --server --sender -logDtpre.iLsfxCIvu . pulled/../../etc/" "outside the schedule's archives"
refused "a path outside (/etc)" "rsync --server --sender -logDtpre.iLsfxCIvu . /etc/" "outside the schedule's archives"
refused "another schedule's archive" "rsync --server --sender -logDtpre.iLsfxCIvu . pulled/other-20000101T000000Z.tar.gz" \
        "outside the schedule's archives"
refused "following symlinks (-L)" "rsync --server --sender -Llogtpre.iLsfxCIvu . pulled/" "option -Llogtpre.iLsfxCIvu is not allowed"
refused "arguments over the protocol (-s)" "rsync --server --sender -slogtpre.iLsfxCIvu . pulled/" "option -slogtpre.iLsfxCIvu is not allowed"
refused "a --files-from on the server" "rsync --server --sender -logDtpre.iLsfxCIvu --files-from=/etc/shadow . pulled/" \
        "option --files-from=/etc/shadow is not allowed"
out=$($pull_ssh alexandria-pull@127.0.0.1 2>&1 </dev/null); rc=$?
[ $rc -ne 0 ] && grep -q "refused: no command" <<<"$out" && ok "serve refuses a login without a command (exit $rc)" \
        || fail "serve without a command: exit $rc, $out"
check "nothing in the destination changed" test "$(ls_dest)" = "$dest_before"

n_refused=$(sys journalctl --no-pager -o export SYSLOG_IDENTIFIER=alexandria ALEXANDRIA_EVENT=serve-refused | grep -c '^ALEXANDRIA_REMOTE=127\.0\.0\.1:[0-9]*$')
check_eq "every refused request is in the journal with the client's address" 11 "$n_refused"
n_served=$(sys journalctl --no-pager -o export SYSLOG_IDENTIFIER=alexandria ALEXANDRIA_EVENT=served | grep -c '^ALEXANDRIA_REMOTE=127\.0\.0\.1:[0-9]*$')
check "every allowed request too (3 pulls, status, two runs)" test "$n_served" -eq 6
sys journalctl --no-pager -o export SYSLOG_IDENTIFIER=alexandria ALEXANDRIA_EVENT=serve-refused | grep -a '^ALEXANDRIA_REQUEST=id; cat /etc/shadow$' >/dev/null \
        && ok "the journal says what was asked" || { fail "no ALEXANDRIA_REQUEST for the shell command";
                sys journalctl --no-pager -o export SYSLOG_IDENTIFIER=alexandria ALEXANDRIA_EVENT=serve-refused | grep -a REQUEST | head -3; }

sys systemctl stop test-sshd
