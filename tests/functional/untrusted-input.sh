#!/bin/bash
# What could hang, mislead or leak: directories and files others could have
# written are refused as a whole (exit 2, naming them and the fix), a FIFO
# where a file belongs never blocks anything, output that does not arrive
# fails, names reach a terminal escaped, secrets stay secret.
source "$(dirname "$0")/lib.sh"
t_setup

CONF=$ALEXANDRIA_CONFIG_DIR
SCHED=$CONF/schedules.d
mkdir -p "$T/src" "$T/dest" && echo data > "$T/src/file"
chmod 0755 "$CONF" "$SCHED"
t_schedule good "Source=$T/src" "Destination=$T/dest"
ctl() { "$CTL" --user --no-reload "$@"; }

# ---- directories others may write: every command refuses them -------------
for dir in "$SCHED" "$CONF"; do
        chmod 0777 "$dir"
        fix="(fix: chmod go-w '$dir')"
        what="${dir#$T/} world-writable"
        expect_refused "$what: list"    "$dir: the directory is group- or world-writable, refusing it $fix" ctl list
        expect_refused "$what: status"  "$fix" ctl status
        expect_refused "$what: backups" "$fix" ctl backups
        expect_refused "$what: start"   "$fix" ctl start good
        expect_refused "$what: create"  "$fix" ctl create "$T/src;10:00;other"
        expect_refused "$what: worker"  "$fix" "$BACKUP" good
        chmod 0775 "$dir"
        expect_refused "${dir#$T/} group-writable: list" "group- or world-writable" ctl list
        out=$(ctl doctor 2>&1); rc=$?
        check "${dir#$T/} group-writable: doctor exits 1" test $rc -eq 1
        check "${dir#$T/} group-writable: doctor names the directory and the fix" \
                grep -qF "PROBLEM: config-directory: $dir is group- or world-writable" <<<"$out"
        check "${dir#$T/} group-writable: doctor's fix" grep -qF "FIX: chmod go-w '$dir'" <<<"$out"
        chmod 0755 "$dir"
done
out=$(ctl doctor --json 2>&1)
check "doctor: the directories pass when only the owner may write them" \
        grep -q '"check": "config-directory", "ok": true' <<<"$out"
if [ "$(id -u)" -eq 0 ]; then
        chown nobody "$SCHED"
        expect_refused "schedules.d owned by another user: list" "is owned by uid $(id -u nobody), not by uid 0" ctl list
        expect_refused "schedules.d owned by another user: worker" "(fix: chown 0 '$SCHED')" "$BACKUP" good
        chown 0 "$SCHED"
else
        ok "# SKIP a directory owned by another user needs root"
fi
check "with the directories fixed, the schedule runs" "$BACKUP" good

# ---- a FIFO named *.conf never blocks, and is named for what it is ----------
mkfifo "$SCHED/fifo.conf"
# whatever hangs is killed by timeout(1): exit 124
for verb in list status doctor start; do
        timeout 20 "$CTL" --user --no-reload $verb >"$T/out" 2>&1; rc=$?
        check "FIFO schedule: $verb returns (exit $rc)" test $rc -ne 124
        [ $verb = start ] && continue   # start leaves out what is invalid; the others report it
        check "FIFO schedule: $verb says it is a FIFO" grep -q "fifo.conf: is a FIFO, refusing it" "$T/out"
done
timeout 20 "$BACKUP" fifo >"$T/out" 2>&1; rc=$?
check "FIFO schedule: the worker refuses it (exit $rc)" test $rc -eq 2
check "FIFO schedule: the worker says it is a FIFO" grep -q "is a FIFO" "$T/out"
timeout 20 "$BACKUP" good >"$T/out" 2>&1; rc=$?
check "FIFO schedule: the other schedules still run (exit $rc)" test $rc -eq 0
rm "$SCHED/fifo.conf"

ln -s "$SCHED/good.conf" "$SCHED/link.conf"
expect_refused "a symlinked schedule: the worker" "link.conf: is a symbolic link, refusing it" "$BACKUP" link
rm "$SCHED/link.conf"

# ---- alexandria.conf: trusted like a schedule file --------------------------
# status --notify (the watchdog) reads it for the metrics directory.
mkfifo "$CONF/alexandria.conf"
timeout 20 "$CTL" --user --no-reload status --notify good >"$T/out" 2>&1; rc=$?
check "alexandria.conf a FIFO: status --notify returns (exit $rc)" test $rc -ne 124
check "alexandria.conf a FIFO: named as one" grep -q "alexandria.conf: is a FIFO, refusing it" "$T/out"
rm "$CONF/alexandria.conf"
printf '[Metrics]\nDirectory=%s\n' "$T/metrics" > "$T/elsewhere.conf"
ln -s "$T/elsewhere.conf" "$CONF/alexandria.conf"
"$CTL" --user --no-reload status --notify good >"$T/out" 2>&1
check "alexandria.conf a symlink: refused" grep -q "alexandria.conf: is a symbolic link, refusing it" "$T/out"
check "alexandria.conf a symlink: its directory was not used" test ! -e "$T/metrics"
rm "$CONF/alexandria.conf"
head -c 70000 /dev/zero | tr '\0' '#' > "$CONF/alexandria.conf"
"$CTL" --user --no-reload status --notify good >"$T/out" 2>&1
check "alexandria.conf larger than 64 KiB: refused" grep -q "alexandria.conf: larger than 64 KiB" "$T/out"
rm "$CONF/alexandria.conf"
printf '[Metrics]\nDirectory=%s\nDirectory=%s\n' "$T/metrics-a" "$T/metrics-b" > "$CONF/alexandria.conf"
chmod 0644 "$CONF/alexandria.conf"
"$CTL" --user --no-reload status --notify good >"$T/out" 2>&1
check "alexandria.conf with Directory= twice: refused, naming both lines" \
        grep -q "alexandria.conf:3: Directory= is set twice (first on line 2)" "$T/out"
check "... and neither directory was used" test ! -e "$T/metrics-a" -a ! -e "$T/metrics-b"
rm "$CONF/alexandria.conf"

# ---- output that does not arrive is a failure --------------------------------
for verb in list backups status; do
        ctl $verb >/dev/full 2>"$T/out"; rc=$?
        check "$verb into /dev/full exits 1 (got $rc)" test $rc -eq 1
        check "$verb into /dev/full says so" grep -q "Cannot write to standard output: No space left on device" "$T/out"
done
"$CTL" --help >/dev/full 2>/dev/null
check "--help into /dev/full exits 1" test $? -eq 1

# ---- names reach a terminal escaped ------------------------------------------
evil=$'evil\e]0;owned\a\e[2J'
printf '[Schedule]\n' > "$SCHED/$evil.conf"
script -qec "$CTL --user --no-reload list" /dev/null > "$T/tty" 2>&1
check "list on a terminal: no escape sequence from a file name" bash -c '! grep -q $'"'"'\e\]0;owned'"'"' "$1"' _ "$T/tty"
check "list on a terminal: the name escaped" grep -qF 'evil\x1b]0;owned\x07\x1b[2J' "$T/tty"
script -qec "$CTL --user --no-reload status" /dev/null > "$T/tty" 2>&1
check "status on a terminal: the name escaped" grep -qF 'evil\x1b]0;owned\x07\x1b[2J INVALID' "$T/tty"
ctl list > "$T/out"
check "list into a pipe: names as they are, for scripts" grep -qF "$evil" "$T/out"
rm "$SCHED/$evil.conf"

# ---- secrets: a PingURL holds a token ----------------------------------------
t_schedule pinged "Source=$T/src" "Destination=$T/dest" '[Notify]' 'PingURL=https://hc-ping.example/5ecret-t0ken'
chmod 0644 "$SCHED/pinged.conf"
ctl list > "$T/out"
check "list shows the ping URL redacted" grep -qF "PingURL=https://hc-ping.example/…" "$T/out"
check "list never shows the token" bash -c '! grep -q 5ecret "$1"' _ "$T/out"
ctl stop pinged >/dev/null
check "stop rewrote the file 0600: it holds a secret" test "$(stat -c %a "$SCHED/pinged.conf")" = 600
check "... and kept the URL" grep -qx 'PingURL=https://hc-ping.example/5ecret-t0ken' "$SCHED/pinged.conf"
ctl start pinged >/dev/null
check "start keeps it 0600" test "$(stat -c %a "$SCHED/pinged.conf")" = 600
ctl stop good >/dev/null
check "stop keeps a file without secrets 0644" test "$(stat -c %a "$SCHED/good.conf")" = 644
printf '[Notify]\nPingURL=hc-ping.example/5ecret-t0ken\n' >> "$SCHED/good.conf"
"$BACKUP" good >"$T/out" 2>&1
check "a bad PingURL= is refused without showing it" bash -c 'grep -q "PingURL= is not an http" "$1" && ! grep -q 5ecret "$1"' _ "$T/out"
