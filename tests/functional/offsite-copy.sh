#!/bin/bash
# CopyTo= against the real programs: a real sshd on 127.0.0.1 whose key is
# forced into Debian's `rrsync -wo DIR` (write-only: Alexandria cannot list
# it), and rclone's :local: backend. First copy, a second run that sends only
# the new archive, remote retention (Keep=, CopyKeep=N, CopyKeep=all), the
# sshd stopped (exit 1, the archive kept, status says so, the next run
# catches up, `copy NAME` retries), and uploads killed halfway (nothing half
# written under an archive's name).
source "$(dirname "$0")/lib.sh"
t_setup
source "$(dirname "$0")/sshd.sh"
export LC_ALL=C
export ALEXANDRIA_STATE_DIR=$T/state
HERE=$(cd "$(dirname "$0")" && pwd)

SRC=$T/src DEST=$T/dest REMOTE=$T/remote RC=$T/rclone
mkdir -p "$SRC" "$DEST" "$REMOTE"
seq 1 20000 > "$SRC/numbers"

sshd_setup
sshd_authorize "command=\"rrsync -wo $REMOTE\",restrict"
sshd_start || exit 1

# What is in the remote directory that is not ours must stay as it is.
printf 'notes\n' > "$REMOTE/notes.txt"
head -c 1000 /dev/urandom > "$REMOTE/other-20000101T000000Z.tar.gz"    # another schedule's
head -c 1000 /dev/urandom > "$REMOTE/off-x-20000101T000000Z.tar.gz"    # schedule "off-x": a prefix clash
foreign() { (cd "$REMOTE" && sha256sum notes.txt other-20000101T000000Z.tar.gz off-x-20000101T000000Z.tar.gz); }
foreign_before=$(foreign)

SSH_TARGET="ssh://root@127.0.0.1:$SSHD_PORT/"
RC_TARGET="rclone::local:$RC"
schedule() {
        t_schedule off "Source=$SRC" "Destination=$DEST" "CopyTo=$SSH_TARGET" "CopyTo=$RC_TARGET" \
                "SSHCommand=ssh $SSH_OPTS" "$@"
}

# run: the worker; its stderr in $T/err, its exit status in $rc
run() { "$BACKUP" off >"$T/out" 2>"$T/err"; rc=$?; }
newest() { "$CTL" backups off | tail -1; }
# archives of "off" in DIR, one name a line
archives_in() { (cd "$1" && ls -1 | grep -E '^off-[0-9]{8}T[0-9]{6}Z\.tar' | sort); }
local_archives() { archives_in "$DEST"; }
same_content() { cmp -s "$DEST/$1" "$2/$1"; }
inode() { stat -c %i "$1"; }
show_err() { sed 's/^/#   /' "$T/err" | head -20; }

# ---- first copy ----
schedule "Keep=3"
run
check "first run exits 0" test "$rc" -eq 0 || show_err
first=$(basename "$(newest)")
check "rrsync target holds the archive, byte for byte" same_content "$first" "$REMOTE"
check "rclone target holds the archive, byte for byte" same_content "$first" "$RC"
check "the copy on the ssh target is private (0600)" test "$(stat -c %a "$REMOTE/$first")" = 600
check "the copy on the rclone target is private (0600)" test "$(stat -c %a "$RC/$first")" = 600
check "stderr says what was sent to each target" grep -q "copied to ssh://root@127.0.0.1:$SSHD_PORT/: 1 sent, 0 already there" "$T/err"
check "no partial upload left on the rclone target" test -z "$(ls -A "$RC" | grep partial)"

# ---- a second run sends only the new archive ----
ino_ssh=$(inode "$REMOTE/$first") ino_rc=$(inode "$RC/$first")
sleep 1.1       # a new second: a new archive name
run
check "second run exits 0" test "$rc" -eq 0 || show_err
second=$(basename "$(newest)")
check "the new archive is on both targets" same_content "$second" "$REMOTE" -a -e "$RC/$second"
check "... and the first was not sent again (ssh: same inode)" test "$(inode "$REMOTE/$first")" = "$ino_ssh"
check "... (rclone: same inode)" test "$(inode "$RC/$first")" = "$ino_rc"
check "stderr: 1 sent, 1 already there (ssh)" grep -q "copied to ssh://root@127.0.0.1:$SSHD_PORT/: 1 sent, 1 already there" "$T/err"
check "stderr: 1 sent, 1 already there (rclone)" grep -q "copied to rclone::local:$RC: 1 sent, 1 already there" "$T/err"

# ---- remote retention: by default what the destination keeps (Keep=3) ----
for i in 1 2 3; do sleep 1.1; run; [ "$rc" -eq 0 ] || { show_err; break; }; done
check "after 5 runs with Keep=3, 3 archives are local" test "$(local_archives | wc -l)" -eq 3
check "the ssh target keeps the same 3" test "$(archives_in "$REMOTE")" = "$(local_archives)"
check "the rclone target keeps the same 3" test "$(archives_in "$RC")" = "$(local_archives)"
check "nothing else in the ssh target's directory was touched" test "$(foreign)" = "$foreign_before"

# CopyKeep=2: the newest 2 there, the destination still keeps 3
schedule "Keep=3" "CopyKeep=2"
sleep 1.1; run
check "CopyKeep=2 run exits 0" test "$rc" -eq 0 || show_err
check "CopyKeep=2: the ssh target holds the newest 2" test "$(archives_in "$REMOTE")" = "$(local_archives | tail -2)"
check "CopyKeep=2: the rclone target holds the newest 2" test "$(archives_in "$RC")" = "$(local_archives | tail -2)"
check "CopyKeep=2: the destination keeps its 3" test "$(local_archives | wc -l)" -eq 3

# CopyKeep=5 with Keep=1: the targets keep more than the destination has
schedule "Keep=1" "CopyKeep=5"
before=$(archives_in "$REMOTE")
for i in 1 2 3 4; do sleep 1.1; run; [ "$rc" -eq 0 ] || { show_err; break; }; done
check "Keep=1: one archive local" test "$(local_archives | wc -l)" -eq 1
check "CopyKeep=5: the ssh target holds 5" test "$(archives_in "$REMOTE" | wc -l)" -eq 5
check "CopyKeep=5: the rclone target holds 5" test "$(archives_in "$RC" | wc -l)" -eq 5
check "... the newest 5 that were made" test "$(archives_in "$REMOTE" | head -1)" \> "$(echo "$before" | head -1)"

# CopyKeep=all never deletes
schedule "Keep=1" "CopyKeep=all"
for i in 1 2; do sleep 1.1; run; [ "$rc" -eq 0 ] || { show_err; break; }; done
check "CopyKeep=all: the ssh target now holds 7" test "$(archives_in "$REMOTE" | wc -l)" -eq 7
check "CopyKeep=all: the rclone target now holds 7" test "$(archives_in "$RC" | wc -l)" -eq 7
check "other schedules' files are still untouched" test "$(foreign)" = "$foreign_before"

# ---- the sshd stops: exit 1, the archive is kept, status says so ----
schedule "Keep=3" "CopyKeep=3"
sleep 1.1; run; [ "$rc" -eq 0 ] || show_err
good_copy=$(basename "$(newest)")
sshd_stop
sleep 1.1; run
unreached=$(basename "$(newest)")
check "with sshd stopped the run exits 1" test "$rc" -eq 1
check "... after writing and keeping the local archive" test "$unreached" != "$good_copy" -a -s "$DEST/$unreached"
check "... the message names the target and ssh's error" grep -q "ssh://root@127.0.0.1:$SSHD_PORT/: .*Connection refused" "$T/err" || show_err
check "... the other target (rclone) still got it" test -e "$RC/$unreached"
check "... nothing of it reached the ssh target" test ! -e "$REMOTE/$unreached"
"$CTL" --user --no-reload status off >"$T/status" 2>&1; status_rc=$?
check "status exits 1" test "$status_rc" -eq 1
check "status flags COPY-FAILED" grep -q "^off .*COPY-FAILED" "$T/status"
check "status: COPY FAILED to the target, with ssh's error" grep -q "COPY FAILED to ssh://root@127.0.0.1:$SSHD_PORT/ .*Connection refused" "$T/status"
check "status: the time of the last good copy" grep -q "last good copy: [0-9-]* [0-9:]* " "$T/status"
check "status: the rclone target is fine" grep -q "Copy to rclone::local:$RC: last good copy" "$T/status"
# the watchdog's pass (status --notify) writes the metrics: the copy's state per target
mkdir -p "$T/metrics"; printf '[Metrics]\nDirectory=%s\n' "$T/metrics" > "$ALEXANDRIA_CONFIG_DIR/alexandria.conf"
metrics() { "$CTL" --user --no-reload status --notify off >/dev/null 2>&1; cat "$T/metrics"/*.prom 2>/dev/null; }
ssh_series() { grep "^alexandria_$1{schedule=\"off\",target=\"ssh://root@127.0.0.1:$SSHD_PORT/[^\"]*\"} "; }
rc_series() { grep "^alexandria_$1{schedule=\"off\",target=\"rclone:" ; }
prom=$(metrics)
check "metrics: copy_failed is 1 for the ssh target" test "$(ssh_series copy_failed <<<"$prom" | awk '{print $2}')" = 1
check "metrics: copy_failed is 0 for the rclone target" test "$(rc_series copy_failed <<<"$prom" | awk '{print $2}')" = 0
last_good=$(ssh_series copy_last_success_timestamp_seconds <<<"$prom" | awk '{print $2}')
check "metrics: the ssh target's last good copy is kept (${last_good:-none})" test "${last_good:-0}" -gt 1000000000
sed 's/^/#   /' "$T/status"
"$CTL" --user --no-reload copy off >"$T/copy.out" 2>&1; copy_rc=$?
check "copy NAME with sshd still stopped exits 1" test "$copy_rc" -eq 1

# the next run catches up
sshd_start || exit 1
sleep 1.1; run
check "with sshd back the next run exits 0" test "$rc" -eq 0 || show_err
check "... and sent the archive the failed run could not" same_content "$unreached" "$REMOTE"
check "... the ssh target holds the newest 3" test "$(archives_in "$REMOTE")" = "$(local_archives | tail -3)"
"$CTL" --user --no-reload status off >"$T/status" 2>&1
check "status no longer shows COPY FAILED" sh -c "! grep -q 'COPY FAILED\|COPY-FAILED' '$T/status'"
prom=$(metrics)
check "metrics: copy_failed is 0 again for the ssh target" test "$(ssh_series copy_failed <<<"$prom" | awk '{print $2}')" = 0
check "metrics: its last good copy moved on" test "$(ssh_series copy_last_success_timestamp_seconds <<<"$prom" | awk '{print $2}')" -gt "${last_good:-0}"

# copy NAME retries now, without a new backup
sshd_stop
sleep 1.1; run
missed=$(basename "$(newest)")
check "a run while sshd is down fails again" test "$rc" -eq 1
sshd_start || exit 1
n_local=$(local_archives | wc -l)
"$CTL" --user --no-reload copy off >"$T/copy.out" 2>&1; copy_rc=$?
check "copy NAME exits 0 once sshd is back" test "$copy_rc" -eq 0 || sed 's/^/#   /' "$T/copy.out"
check "... and sent the missed archive" same_content "$missed" "$REMOTE"
check "... without writing a new archive" test "$(local_archives | wc -l)" -eq "$n_local" -a "$(basename "$(newest)")" = "$missed"
check "... and says what it did" grep -q "ssh://root@127.0.0.1:$SSHD_PORT/: 1 sent" "$T/copy.out"

# ---- an upload killed halfway ----
# A big incompressible archive over a slow link (ssh's ProxyCommand through a
# rate-limited relay, rclone's own --bwlimit through its environment), and
# the whole run killed while the upload is under way.
head -c $((24 * 1024 * 1024)) /dev/urandom > "$SRC/big"
schedule "Keep=3" "CopyKeep=3" "Compression=none"
killed_run() {      # TARGET-LINE: only that target, so the other does not hold the kill up
        t_schedule off "Source=$SRC" "Destination=$DEST" "Compression=none" "Keep=3" "$@"
        setsid "$BACKUP" off >"$T/out" 2>"$T/err" &
        bg=$!
}
partial_ssh() {     # rsync's temporary name or its partial dir, with data in it
        find "$REMOTE" -name '*off-*' -newer "$SRC/big" -size +1k \( -path '*/.alexandria-partial/*' -o -name '.off-*' \) | grep -q .
}
killed_run "CopyTo=$SSH_TARGET" "SSHCommand=ssh $SSH_OPTS -o ProxyCommand=\"python3 $HERE/slow-relay.py 127.0.0.1 $SSHD_PORT 2000000\""
if wait_for 60 partial_ssh; then
        kill -KILL -- -"$bg"; wait "$bg" 2>/dev/null
        killed=$(basename "$(newest)")
        ok "an rsync upload was caught halfway"
        check "... the archive is whole locally" test "$(stat -c %s "$DEST/$killed")" -gt $((24 * 1024 * 1024))
        check "... nothing under its name on the ssh target" test ! -e "$REMOTE/$killed"
        check "... no archive on the target is incomplete" sh -c "cd '$REMOTE' && for f in \$(ls | grep '^off-'); do cmp -s \"\$f\" '$DEST/'\"\$f\" || [ ! -e '$DEST/'\"\$f\" ] || exit 1; done"
        schedule "Keep=3" "CopyKeep=3" "Compression=none"
        sleep 1.1; run
        check "the next run exits 0" test "$rc" -eq 0 || show_err
        check "... and the interrupted archive is now there complete" same_content "$killed" "$REMOTE"
else
        fail "an rsync upload was caught halfway (no partial file appeared)"; show_err; kill -KILL -- -"$bg"
fi

partial_rclone() { find "$RC" -name '.off-*.partial' -size +1k | grep -q .; }
export RCLONE_BWLIMIT=2M
killed_run "CopyTo=$RC_TARGET"
if wait_for 60 partial_rclone; then
        kill -KILL -- -"$bg"; wait "$bg" 2>/dev/null
        killed=$(basename "$(newest)")
        ok "an rclone upload was caught halfway"
        check "... nothing under its name on the rclone target" test ! -e "$RC/$killed"
        unset RCLONE_BWLIMIT
        schedule "Keep=3" "CopyKeep=3" "Compression=none"
        sleep 1.1; run
        check "the next run exits 0" test "$rc" -eq 0 || show_err
        check "... the interrupted archive is now there complete" same_content "$killed" "$RC"
        check "... and no .partial is left" test -z "$(ls -A "$RC" | grep partial)"
else
        fail "an rclone upload was caught halfway (no .partial appeared)"; show_err; kill -KILL -- -"$bg"
fi
unset RCLONE_BWLIMIT
check "other schedules' files are untouched at the end" test "$(foreign)" = "$foreign_before"

# ---- rclone's sftp backend, to the same sshd: an on-the-fly remote whose
# parameters reach rclone through its environment, never its command line
ssh-keygen -q -t ed25519 -N '' -C sftp -f "$SSHD_DIR/sftp_key"
echo "command=\"/usr/lib/openssh/sftp-server\",restrict $(cat "$SSHD_DIR/sftp_key.pub")" >> "$SSHD_DIR/authorized_keys"
SFTP=$T/sftp
mkdir -p "$SFTP"
SFTP_TARGET="rclone::sftp,host=127.0.0.1,port=$SSHD_PORT,user=root,key_file=$SSHD_DIR/sftp_key,known_hosts_file=$KNOWN_HOSTS,shell_type=none:$SFTP"
t_schedule off "Source=$SRC" "Destination=$DEST" "Compression=none" "Keep=3" "CopyKeep=2" "CopyTo=$SFTP_TARGET"
sleep 1.1; run
check "rclone :sftp: run exits 0" test "$rc" -eq 0 || show_err
check "rclone :sftp: the newest 2 archives are on the sftp target, byte for byte" \
        test "$(archives_in "$SFTP")" = "$(local_archives | tail -2)" -a -n "$(archives_in "$SFTP")"
check "... the newest one complete" same_content "$(basename "$(newest)")" "$SFTP"
check "stderr names the target with its parameters hidden" grep -q "copied to rclone::sftp,…:$SFTP: 2 sent" "$T/err"
check "... and never the key's path" sh -c "! grep -q sftp_key '$T/err'"
"$CTL" --user --no-reload list >"$T/list" 2>&1
check "list shows the target redacted" grep -q "CopyTo=rclone::sftp,…:$SFTP" "$T/list"

# ---- RcloneConfig=: a remote named in a configuration file of its own.
# Without the key rclone reads its default file, which does not know the
# remote: the run fails naming the target; with it, the copy lands.
VAULT=$T/vault
mkdir -p "$VAULT" "$T/home"
printf '[vault]\ntype = local\n' > "$T/rclone.conf"
chmod 600 "$T/rclone.conf"
export HOME=$T/home
unset RCLONE_CONFIG
t_schedule off "Source=$SRC" "Destination=$DEST" "Keep=3" "CopyTo=rclone:vault:$VAULT"
sleep 1.1; run
check "rclone: a remote no configuration names fails the run (exit 1)" test "$rc" -eq 1
check "... naming the target" grep -q "rclone:vault:$VAULT" "$T/err" || show_err
check "... and nothing reached the directory" test -z "$(archives_in "$VAULT")"
t_schedule off "Source=$SRC" "Destination=$DEST" "Keep=3" "CopyTo=rclone:vault:$VAULT" "RcloneConfig=$T/rclone.conf"
sleep 1.1; run
check "RcloneConfig=: the named remote is found, run exits 0" test "$rc" -eq 0 || show_err
check "... the target keeps what the destination keeps" \
        test "$(archives_in "$VAULT")" = "$(local_archives)" -a -n "$(archives_in "$VAULT")"
check "... the newest one byte for byte" same_content "$(basename "$(newest)")" "$VAULT"
