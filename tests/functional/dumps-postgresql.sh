#!/bin/bash
# Dump= with a real PostgreSQL: pg_dumpall through runuser and a per-database
# pg_dump -Fc, restored into a second fresh cluster, rows compared. Run by
# the worker as the timer would (not through systemd: see
# tests/integration/dumps-service.sh for that).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg.sh"
t_setup
export LC_ALL=C.UTF-8
pg_require || exit 1
T_CLEANUP_HOOK='pg_stop_all'

port1=$(pg_free_port)
port2=$(pg_free_port)
[ "$port1" != "$port2" ] || port2=$((port1 + 1))
check "a first PostgreSQL cluster starts" pg_start one "$port1"
check "it gets rows" pg_fill "$port1"

src=$T/src; dest=$T/dest
mkdir -p "$src" "$dest"
printf 'x\n' > "$src/x"
t_schedule pg "Source=$src" "Destination=$dest" \
        "Dump=postgresql.sql runuser -u postgres -- pg_dumpall -h $PG_DIR -p $port1" \
        "Dump=app.dump runuser -u postgres -- pg_dump -Fc -h $PG_DIR -p $port1 app"
"$BACKUP" pg 2> "$T/err"; rc=$?
check "the backup with both dumps succeeds (exit 0)" test "$rc" = 0 || cat "$T/err"
check "restore --dumps" "$CTL" restore pg --dumps --to "$T/r"
d=$T/r/.alexandria/dumps
check "pg_dumpall's output is in the archive" grep -q "CREATE ROLE reporter" "$d/postgresql.sql"
check "pg_dump -Fc's output is a custom-format archive" test "$(head -c 5 "$d/app.dump")" = PGDMP

check "a second, fresh cluster starts" pg_start two "$port2"
# the restore commands of the man page
pg_sql "$port2" postgres -v ON_ERROR_STOP=0 < "$d/postgresql.sql" > "$T/restore.log" 2>&1
for db in app shop; do
        if [ "$(pg_rows "$port2" $db)" = "$(pg_rows "$port1" $db)" ] && [ -n "$(pg_rows "$port1" $db)" ]; then
                ok "psql -f postgresql.sql restores database $db with the same rows"
        else
                fail "database $db differs after restoring pg_dumpall's output: $(tail -5 "$T/restore.log")"
        fi
done
check "the role is restored too" test "$(pg_sql "$port2" postgres -c "SELECT rolname FROM pg_roles WHERE rolname = 'reporter'")" = reporter
pg_sql "$port2" postgres -c "CREATE DATABASE app2"
runuser -u postgres -- pg_restore -h "$PG_DIR" -p "$port2" -d app2 --no-owner < "$d/app.dump" 2> "$T/pg_restore.log"
check "pg_restore of the -Fc dump gives the same rows" test "$(pg_rows "$port2" app2)" = "$(pg_rows "$port1" app)"

# A dump of a database that is not there fails the run with pg_dump's word.
before=$(ls "$dest" | grep -c '\.tar\.gz$')
t_schedule pg "Source=$src" "Destination=$dest" \
        "Dump=gone.dump runuser -u postgres -- pg_dump -Fc -h $PG_DIR -p $port1 no_such_db"
"$BACKUP" pg 2> "$T/err"; rc=$?
check "a dump of a missing database fails the run (exit 1)" test "$rc" = 1
check "... naming the dump, its status and pg_dump's message" grep -q 'Dump gone.dump (runuser) exited with status 1; its last message: .*no_such_db' "$T/err"
check "... and no archive is linked" test "$(ls "$dest" | grep -c '\.tar\.gz$')" = "$before"
