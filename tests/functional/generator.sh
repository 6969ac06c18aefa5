#!/bin/bash
# The generator, unprivileged, into a temporary directory: schedules become
# timers and drop-ins, every value escaped for the setting it lands in, a
# bad schedule is skipped without failing the others, and a schedule is
# generated whole (drop-in, then timer) or not at all.
source "$(dirname "$0")/lib.sh"
t_setup
GEN=${ALEXANDRIA_GENERATOR:?run through meson test}
export SYSTEMD_LOG_TARGET=console

SCHED=$ALEXANDRIA_CONFIG_DIR/schedules.d
mkdir -p "$T/src"
DEST='/srv/odd "dest" 100%h \x'
KEY="$T/keys/50%.key"
t_schedule plain "Source=$T/src" "Destination=$T/dest"
printf '[Schedule]\nOnCalendar=Mon *-*-* 02:30:00\nPersistent=no\nRandomizedDelaySec=5min\nEnabled=no\n[Backup]\nSource=%s\nDestination=%s\nEncryption=yes\nKeyFile=%s\n' \
        "$T/src" "$DEST" "$KEY" > "$SCHED/odd.conf"
t_schedule broken "Source=$T/src" "Frobnicate=yes"

# generate SCOPE: runs the generator as systemd would, into a fresh $OUT
generate() {
        OUT=$T/out-$1-$RANDOM
        mkdir -p "$OUT"
        SYSTEMD_SCOPE=$1 "$GEN" "$OUT" "$OUT.early" "$OUT.late" > "$T/gen.log" 2>&1
}

generate system
check "the generator exits 0 with a broken schedule among good ones" test $? -eq 0
check "the broken schedule is skipped, saying why" \
        grep -q "Skipping schedule broken: .*broken.conf:5: unknown key 'Frobnicate'" "$T/gen.log"
check "no timer for the broken schedule" test ! -e "$OUT/alexandria-broken.timer"
check "a timer for plain" test -f "$OUT/alexandria-plain.timer"
check "plain's timer: OnCalendar= from the schedule" grep -qx 'OnCalendar=daily' "$OUT/alexandria-plain.timer"
check "plain's timer: SourcePath= is the schedule file" grep -qxF "SourcePath=$SCHED/plain.conf" "$OUT/alexandria-plain.timer"
check "plain's timer: starts its service" grep -qx 'Unit=alexandria@plain.service' "$OUT/alexandria-plain.timer"
check "plain is enabled: wanted by timers.target" \
        test "$(readlink "$OUT/timers.target.wants/alexandria-plain.timer")" = ../alexandria-plain.timer
check "plain's drop-in: ReadWritePaths= its destination" \
        grep -qxF "ReadWritePaths=-\"$T/dest\"" "$OUT/alexandria@plain.service.d/50-alexandria.conf"
check "our own units are wanted too" test -L "$OUT/timers.target.wants/alexandria-watchdog.timer"

check "odd: Persistent=no" grep -qx 'Persistent=no' "$OUT/alexandria-odd.timer"
check "odd: RandomizedDelaySec= in seconds" grep -qx 'RandomizedDelaySec=300' "$OUT/alexandria-odd.timer"
check "odd is disabled: not wanted" test ! -e "$OUT/timers.target.wants/alexandria-odd.timer"
D=$OUT/alexandria@odd.service.d/50-alexandria.conf
check "odd's destination quoted, quotes and backslashes escaped, % doubled" \
        grep -qxF 'ReadWritePaths=-"/srv/odd \"dest\" 100%%h \\x"' "$D"
check "odd's key file as a credential, % doubled" grep -qxF "LoadCredential=alexandria.key:$T/keys/50%%.key" "$D"

generate user
check "user scope: a timer for plain" test -f "$OUT/alexandria-plain.timer"
check "user scope: no ReadWritePaths= (a user service has no such sandbox)" \
        bash -c '! grep -q ReadWritePaths "$1"' _ "$OUT/alexandria@plain.service.d/50-alexandria.conf"

# ---- a schedule is generated whole or not at all ----------------------------
t_schedule blocked "Source=$T/src" "Destination=$T/dest"
OUT=$T/out-whole
mkdir -p "$OUT/alexandria-blocked.timer"        # the timer cannot be written
SYSTEMD_SCOPE=system "$GEN" "$OUT" > "$T/gen.log" 2>&1
check "a timer that cannot be written is reported" grep -q "Skipping schedule blocked: cannot write alexandria-blocked.timer" "$T/gen.log"
check "... and its drop-in is not left behind" test ! -e "$OUT/alexandria@blocked.service.d"
check "... nor a link" test ! -e "$OUT/timers.target.wants/alexandria-blocked.timer"
check "... and the other schedules are generated" test -f "$OUT/alexandria-plain.timer"
OUT=$T/out-whole2
mkdir -p "$OUT"
touch "$OUT/alexandria@blocked.service.d"       # the drop-in cannot be written
SYSTEMD_SCOPE=system "$GEN" "$OUT" > "$T/gen.log" 2>&1
check "a drop-in that cannot be written is reported" grep -q "Skipping schedule blocked: cannot open alexandria@blocked.service.d" "$T/gen.log"
check "... and no timer is written without it" test ! -e "$OUT/alexandria-blocked.timer"
rm "$SCHED/blocked.conf"

# ---- nothing from the environment reaches a unit unescaped ------------------
EVIL=$T/$'conf\nExecStartPre=/bin/touch /tmp/owned'
mkdir -p "$EVIL/schedules.d"
cp "$SCHED/plain.conf" "$EVIL/schedules.d/"
OUT=$T/out-evil
mkdir -p "$OUT"
ALEXANDRIA_CONFIG_DIR=$EVIL SYSTEMD_SCOPE=system "$GEN" "$OUT" > "$T/gen.log" 2>&1
check "a newline in ALEXANDRIA_CONFIG_DIR: the generator still exits 0" test $? -eq 0
check "... no unit holds the injected line" bash -c '! grep -rq "^ExecStartPre" "$1"' _ "$OUT"
check "... the schedule is skipped" test ! -e "$OUT/alexandria-plain.timer"
check "... saying why" grep -qF 'Skipping schedule plain: its file name' "$T/gen.log"
check "... naming the control character, escaped" grep -qF 'conf\x0aExecStartPre' "$T/gen.log"

# ---- the schedules directory must be trusted as a whole ----------------------
chmod 0777 "$SCHED"
OUT=$T/out-untrusted
mkdir -p "$OUT"
SYSTEMD_SCOPE=system "$GEN" "$OUT" > "$T/gen.log" 2>&1
check "a world-writable schedules.d: no timers at all" test -z "$(find "$OUT" -name 'alexandria-*.timer' ! -name 'alexandria-watchdog.timer' -print)"
check "... and the generator says why" grep -qF "the directory is group- or world-writable, refusing it (fix: chmod go-w '$SCHED')" "$T/gen.log"
chmod 0755 "$SCHED"

mkfifo "$SCHED/fifo.conf"
OUT=$T/out-fifo
mkdir -p "$OUT"
timeout 20 env SYSTEMD_SCOPE=system "$GEN" "$OUT" > "$T/gen.log" 2>&1; rc=$?
check "a FIFO named *.conf does not hang the generator (exit $rc)" test $rc -eq 0
check "... it is skipped as a FIFO" grep -q "Skipping schedule fifo: .*is a FIFO" "$T/gen.log"
check "... and the others get their timers" test -f "$OUT/alexandria-plain.timer"
