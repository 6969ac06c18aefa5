#!/bin/bash
# Dump=, LockFile= and the hooks of run --here, with real programs: SQLite
# (sqlite3), the outcomes of a dump (fails, killed, timed out, empty), the
# spool (unnamed, memory flat for a big dump), locks held by flock(1),
# ExecStartPre=/ExecStopPost= and bad input.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C

src=$T/src; dest=$T/dest
mkdir -p "$src" "$dest"
printf 'file\n' > "$src/file"
archives() { ls "$dest" | grep -c '^d-.*\.tar\.gz$'; }
# schedule d with LINES…; the runs here differ in size on purpose: no ShrinkWarn=
sched() { t_schedule d "Source=$src" "Destination=$dest" "ShrinkWarn=no" "$@"; }
newest() { ls "$dest"/d-*.tar.gz | tail -1; }

# ---- SQLite: .dump ----
# (".backup /dev/stdout" does not fit: sqlite3 resolves the /dev/stdout link
# itself and creates a file of that name, here "#INODE (deleted)" in the
# destination. The man page says so.)
db=$T/app.db
sqlite3 "$db" "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t(name) VALUES ('ada'),('grace'),('it''s'),('ünïcode');"
sched \
        "Dump=app.sql sqlite3 -readonly $db .dump" "Dump=app2.sql sqlite3 -readonly $db .dump"
"$BACKUP" d 2> "$T/err"; rc=$?
check "a run with SQLite dumps succeeds (exit 0)" test "$rc" = 0
check "no named file is left in the destination: only the archive and the lock" \
        test "$(ls -A "$dest" | grep -v '^d-.*\.tar\.gz$' | grep -cv '^\.alexandria-d\.lock$')" = 0
tar tzf "$(newest)" > "$T/list"
check "the dumps are the entries .alexandria/dumps/app.sql and app2.sql" \
        grep -qx '.alexandria/dumps/app.sql' "$T/list"
check "... and app2.sql" grep -qx '.alexandria/dumps/app2.sql' "$T/list"
check "the files are archived too" grep -qx "${src#/}/file" "$T/list"
"$CTL" restore d --list --dumps > "$T/listed"
check "restore --list --dumps lists the dumps" grep -q '\.alexandria/dumps/app\.sql$' "$T/listed"
check "restore --list --dumps lists nothing else" test "$(grep -vc 'alexandria/dumps' "$T/listed")" = 0
check "restore --dumps" "$CTL" restore d --dumps --to "$T/r"
check "restore --dumps restores no other file" test ! -e "$T/r$src"
check "the dump entry is private (0600)" test "$(stat -c %a "$T/r/.alexandria/dumps/app.sql")" = 600
sqlite3 "$T/new.db" < "$T/r/.alexandria/dumps/app.sql"
want=$(sqlite3 "$db" 'SELECT id, name FROM t ORDER BY id')
check "the .dump restores into a new database with the same rows" test "$(sqlite3 "$T/new.db" 'SELECT id, name FROM t ORDER BY id')" = "$want"
check "both dumps are the same" cmp "$T/r/.alexandria/dumps/app.sql" "$T/r/.alexandria/dumps/app2.sql"
check "verify checks the dumps against the manifest" "$CTL" verify d

# ---- a generic command, its standard error ----
sched "Dump=generic.txt sh -c 'echo out; echo \"note from the dump\" >&2'"
"$BACKUP" d 2> "$T/err"; rc=$?
check "a dump that writes to stderr and exits 0 succeeds" test "$rc" = 0
check "its stderr is passed on, named by the entry" grep -qx 'generic.txt: note from the dump' "$T/err"
check "its stdout is the entry" test "$(tar xzOf "$(newest)" .alexandria/dumps/generic.txt)" = out

# ---- failures: no archive, the dump and its status named ----
fails() {
        local what=$1 expect=$2; shift 2
        local before; before=$(archives)
        sched "$@"
        "$BACKUP" d 2> "$T/err"; rc=$?
        check "$what: exit 1" test "$rc" = 1
        grep -qF -- "$expect" "$T/err" && ok "$what: says '$expect'" || fail "$what: said: $(cat "$T/err")"
        check "$what: no archive is linked" test "$(archives)" = "$before"
        check "$what: nothing named is left behind" test "$(ls -A "$dest" | grep -v '^d-.*\.tar\.gz$' | grep -cv '^\.alexandria-d\.lock$')" = 0
}
fails "a dump that exits 2" "Dump bad.sql (sh) exited with status 2; its last message: database is gone" \
        "Dump=ok.sql echo fine" "Dump=bad.sql sh -c 'echo half; echo database is gone >&2; exit 2'"
fails "a dump killed by a signal" "Dump crash.sql (sh) was killed by signal SIGKILL" \
        "Dump=crash.sql sh -c 'echo half; kill -KILL \$\$'"
start=$(now_ms)
fails "a dump over its DumpTimeoutSec=" "Dump slow.sql (sleep) did not finish within 1.0s (DumpTimeoutSec=) and was killed" \
        "DumpTimeoutSec=1" "Dump=slow.sql sleep 60"
check "the timeout stopped it in time" test $(( $(now_ms) - start )) -lt 20000

# ---- an empty dump is a warning ----
sched "Dump=empty.sql true"
"$BACKUP" d 2> "$T/err"; rc=$?
check "an empty dump: exit 3 (written with warnings)" test "$rc" = 3
check "an empty dump: the warning names it" grep -q 'Dump empty.sql wrote nothing' "$T/err"
check "an empty dump: stored as an empty entry" test "$(tar tvzf "$(newest)" .alexandria/dumps/empty.sql | awk '{print $3}')" = 0

# ---- memory stays flat for a big dump (1 GiB) ----
sched "Compression=zstd" "Dump=big.bin head -c 1073741824 /dev/zero"
/usr/bin/time -f %M -o "$T/rss" "$BACKUP" d 2> "$T/err"; rc=$?
check "a 1 GiB dump succeeds" test "$rc" = 0
rss=$(tail -1 "$T/rss")
[ "$rss" -lt 131072 ] && ok "a 1 GiB dump needs $rss KiB of memory (< 128 MiB)" || fail "a 1 GiB dump took $rss KiB of memory"
check "the 1 GiB dump is stored whole" test "$(tar --zstd -tvf "$(ls "$dest"/d-*.tar.zst | tail -1)" .alexandria/dumps/big.bin | awk '{print $3}')" = 1073741824
rm -f "$dest"/d-*.tar.zst

# ---- LockFile= ----
lock=$T/service.lock
: > "$lock"
# the holder takes the lock itself (flock(1) 9 would take it in a child that exits)
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)' "$lock" > /dev/null 2>&1 &
holder=$!
T_CLEANUP_HOOK='kill $holder 2>/dev/null; wait'
wait_for 5 bash -c '! flock -n "$1" true' _ "$lock"
before=$(archives)
sched "LockFile=$lock" "LockTimeoutSec=1"
"$BACKUP" d 2> "$T/err"; rc=$?
check "a lock held past LockTimeoutSec=: exit 1" test "$rc" = 1
grep -q "LockFile=$lock: still locked after 1.0s (LockTimeoutSec=): pid $holder (python3) holds an exclusive flock" "$T/err" \
        && ok "it says who holds the lock" || fail "lock message: $(cat "$T/err")"
check "a lock held: no archive" test "$(archives)" = "$before"
# released while the run waits: the run goes on
sched "LockFile=$lock" "LockTimeoutSec=30"
"$BACKUP" d 2> "$T/err" &
run=$!
waiting() { awk -v ino="$(stat -c %i "$lock")" '$2 == "->" && $0 ~ ":" ino " " { found = 1 } END { exit !found }' /proc/locks; }
check "the run waits in flock(2) for the held lock" wait_for 10 waiting
check "while it waits, no archive appears" test "$(archives)" = "$before"
check "... and it is still running" kill -0 "$run"
kill "$holder"; wait "$holder" 2>/dev/null
wait "$run"; rc=$?
check "once released, the run takes it and succeeds" test "$rc" = 0
check "the run takes the lock while it reads" test "$(archives)" = $((before + 1))
check "the lock file is never removed" test -f "$lock"
sched "LockFile=$T/absent.lock"
"$BACKUP" d 2> "$T/err"; rc=$?
check "a missing lock file: exit 3" test "$rc" = 3
check "a missing lock file: warned about" grep -q "LockFile=$T/absent.lock does not exist" "$T/err"
check "a missing lock file is not created" test ! -e "$T/absent.lock"
# the lock is let go once the archive is linked: a slow copy after it does
# not hold the service up. The "ssh" here waits for the test's word, then fails.
cat > "$T/slow-ssh" <<EOF
#!/bin/sh
: > "$T/copy-started"
for i in \$(seq 1 600); do [ -e "$T/gate" ] && exit 255; sleep 0.1; done
exit 255
EOF
chmod +x "$T/slow-ssh"
n0=$(archives)
sched "LockFile=$lock" "CopyTo=ssh://nobody@127.0.0.1/unused" "SSHCommand=$T/slow-ssh"
"$BACKUP" d 2> "$T/err" &
run=$!
check "the copy starts" wait_for 20 test -e "$T/copy-started"
check "while it runs, the archive is already linked" test "$(archives)" = $((n0 + 1))
check "... and the service's lock is free again" flock -n "$lock" true
: > "$T/gate"
wait "$run"; rc=$?
check "the failed copy then fails the run (exit 1)" test "$rc" = 1

# ---- hooks in run --here ----
log=$T/hooks.log
: > "$log"
sched \
        "ExecStartPre=/bin/sh -c 'echo pre >> $log'" \
        "ExecStopPost=/bin/sh -c 'echo \"post \$SERVICE_RESULT \$EXIT_CODE \$EXIT_STATUS\" >> $log'"
"$CTL" run --here d 2> "$T/err"; rc=$?
check "run --here with hooks: exit 0" test "$rc" = 0
check "run --here: ExecStartPre= ran, then ExecStopPost= with the result" \
        test "$(cat "$log")" = "$(printf 'pre\npost success exited 0')"
: > "$log"
before=$(archives)
sched \
        "ExecStartPre=-/bin/false" \
        "ExecStartPre=/bin/sh -c 'exit 5'" \
        "ExecStopPost=/bin/sh -c 'echo \"post \$SERVICE_RESULT \$EXIT_CODE \$EXIT_STATUS\" >> $log'"
"$CTL" run --here d 2> "$T/err"; rc=$?
check "a failing ExecStartPre=: exit 1" test "$rc" = 1
check "a failing ExecStartPre=: named" grep -q "ExecStartPre=/bin/sh -c 'exit 5' exited with status 5; the backup of d did not run" "$T/err"
check "a failing ExecStartPre=: no backup" test "$(archives)" = "$before"
# as systemd: $SERVICE_RESULT, but no $EXIT_CODE or $EXIT_STATUS when the backup never ran
check "a failing ExecStartPre=: ExecStopPost= still runs and sees it" test "$(cat "$log")" = "post exit-code  "
sched "ExecStopPost=/bin/false"
"$CTL" run --here d 2> "$T/err"; rc=$?
check "a failing ExecStopPost=: exit 1" test "$rc" = 1
check "a failing ExecStopPost=: named" grep -q "ExecStopPost=/bin/false exited with status 1" "$T/err"

# ---- bad input: exit 2, naming file, line and key; nothing changed ----
bad() {
        local what=$1 expect=$2; shift 2
        sched "$@"
        "$BACKUP" d 2> "$T/err"; rc=$?
        check "worker refuses $what: exit 2" test "$rc" = 2
        grep -qF -- "$expect" "$T/err" && ok "worker refuses $what: '$expect'" || fail "worker on $what said: $(cat "$T/err")"
}
conf=$ALEXANDRIA_CONFIG_DIR/schedules.d/d.conf
bad "Dump= without a command" "$conf:7: Dump=x.sql: no command" "Dump=x.sql"
bad "an entry name with /" "$conf:7: Dump=a/b true: the entry name 'a/b' must be a plain file name" "Dump=a/b true"
bad "an entry name .." "$conf:7: Dump=.. true" "Dump=.. true"
bad "a command not in PATH" "$conf:7: Dump=x no-such-dumper: the command 'no-such-dumper' is not in PATH" "Dump=x no-such-dumper"
bad "a relative command" "$conf:7: Dump=x bin/dump: the command 'bin/dump' must be an absolute path" "Dump=x bin/dump"
bad "a relative LockFile=" "$conf:7: LockFile=var/lock is not an absolute path" "LockFile=var/lock"
rm -f "$conf"
"$CTL" --no-reload create e --on-calendar daily --source "$src" --dest "$dest" --dump "x no-such-dumper" 2> "$T/err"; rc=$?
check "create refuses a dump command not in PATH: exit 2" test "$rc" = 2
check "create names the key" grep -q "Dump=x no-such-dumper: the command 'no-such-dumper' is not in PATH" "$T/err"
"$CTL" --no-reload create e --on-calendar daily --source "$src" --dest "$dest" --dump "a/b true" 2> "$T/err"; rc=$?
check "create refuses an entry name with /: exit 2" test "$rc" = 2
"$CTL" --no-reload create e --on-calendar daily --source "$src" --dest "$dest" --lock-file relative 2> "$T/err"; rc=$?
check "create refuses a relative --lock-file: exit 2" test "$rc" = 2
check "a refused create writes nothing" test ! -e "$ALEXANDRIA_CONFIG_DIR/schedules.d/e.conf"
check "create with --dump and --lock-file" "$CTL" --no-reload create e --on-calendar daily --source "$src" --dest "$dest" \
        --dump "e.sql sqlite3 -readonly $db .dump" --lock-file "$lock:shared"
check "the schedule file has Dump=" grep -qxF "Dump=e.sql sqlite3 -readonly $db .dump" "$ALEXANDRIA_CONFIG_DIR/schedules.d/e.conf"
check "the schedule file has LockFile=" grep -qxF "LockFile=$lock:shared" "$ALEXANDRIA_CONFIG_DIR/schedules.d/e.conf"
