#!/bin/bash
# Bad offsite settings are refused at create and by the worker with exit 2,
# naming file, line and key, and change nothing.
source "$(dirname "$0")/lib.sh"
t_setup
export ALEXANDRIA_STATE_DIR=$T/state
mkdir -p "$T/src" && echo data > "$T/src/file"
cd "$T"

create() { "$CTL" --user --no-reload create x --on-calendar daily --source src "$@"; }
expect_refused "create: unknown scheme" "CopyTo=ftp://h/x: unknown scheme 'ftp'" create --copy-to ftp://h/x
expect_refused "create: a relative ssh path" "CopyTo=ssh://h:backups: 'backups' is not a port number; the path must be absolute" \
        create --copy-to ssh://h:backups
expect_refused "create: a relative :local: path" "CopyTo=rclone::local:rel: a :local: path must be absolute" \
        create --copy-to rclone::local:rel
expect_refused "create: port out of range" "CopyTo=ssh://h:70000/x: port 70000 is out of range (1-65535)" create --copy-to ssh://h:70000/x
expect_refused "create: CopyKeep=0" "CopyKeep=0 is not a count of archives" create --copy-to ssh://h/x --copy-keep 0
expect_refused "create: the schedule is named" "Invalid schedule 'x': CopyTo=bogus: unknown scheme" create --copy-to bogus

# The worker reads the same keys from files: file, line and key in the message.
conf=$ALEXANDRIA_CONFIG_DIR/schedules.d/w.conf
worker_refuses() {
        local desc=$1 line=$2 fragment=$3
        printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=%s\n%s\n' "$T/src" "$T/dest" "$line" > "$conf"
        expect_refused "worker: $desc" "$conf:6: $fragment" "$BACKUP" w
        check "worker: $desc: no destination, no archive" test ! -e "$T/dest"
}
worker_refuses "unknown scheme" "CopyTo=smb://h/x" "CopyTo=smb://h/x: unknown scheme 'smb'"
worker_refuses "relative path" "CopyTo=rclone::local:x/y" "CopyTo=rclone::local:x/y: a :local: path must be absolute"
worker_refuses "port out of range" "CopyTo=ssh://h:0/x" "CopyTo=ssh://h:0/x: port 0 is out of range"
worker_refuses "CopyKeep=0" "CopyKeep=0" "CopyKeep=0 is not a count of archives"
worker_refuses "a relative RcloneConfig=" "RcloneConfig=rclone.conf" "RcloneConfig=rclone.conf is not an absolute path"
worker_refuses "a bad DestinationGroup=" "DestinationGroup=Wheel;x" "DestinationGroup=Wheel;x is not a group name"

# A group that does not exist: the worker refuses to run.
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=%s\nDestinationGroup=no-such-group-here\n' "$T/src" "$T/dest" > "$conf"
expect_refused "worker: DestinationGroup= of no group" "$conf: DestinationGroup=no-such-group-here: no such group" "$BACKUP" w
rm -f "$conf"

# On-the-fly rclone parameters hold keys and passwords: the file is 0600 and
# list shows them redacted; a plain target leaves the file 0644.
sd=$ALEXANDRIA_CONFIG_DIR/schedules.d
"$CTL" --user --no-reload create secret --on-calendar daily --source src \
        --copy-to 'rclone::sftp,host=h,pass=hunter2:backups' >"$T/out" 2>&1
check "create with on-the-fly rclone parameters succeeds" test -f "$sd/secret.conf"
check "... and writes the file 0600" test "$(stat -c %a "$sd/secret.conf")" = 600
"$CTL" --user list >"$T/out" 2>&1
check "... and list shows it" grep -q 'CopyTo=rclone::sftp,…:backups' "$T/out"
check "... without the password" test "$(grep -c hunter2 "$T/out")" = 0
"$CTL" --user --no-reload create plain --on-calendar daily --source src --copy-to ssh://h/x >"$T/out" 2>&1
check "a plain CopyTo= leaves the file 0644" test "$(stat -c %a "$sd/plain.conf")" = 644
rm -f "$sd/secret.conf" "$sd/plain.conf"

# serve outside ssh
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=%s\n' "$T/src" "$T/dest" > "$conf"
env -u SSH_ORIGINAL_COMMAND "$CTL" serve w >"$T/out" 2>&1; rc=$?
check "serve without a command exits 2" test $rc -eq 2
check "... and says it is a forced command" grep -q "refused: no command: this is an ssh forced command" "$T/out"
SSH_ORIGINAL_COMMAND="rsync --server --sender -logDtpre.iLsfxCIvu . w/" "$CTL" serve other >"$T/out" 2>&1; rc=$?
check "serve of a schedule that does not exist exits 2" test $rc -eq 2
check "... and says so" grep -q "refused: there is no valid schedule 'other' here" "$T/out"
