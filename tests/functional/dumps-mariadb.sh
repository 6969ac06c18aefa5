#!/bin/bash
# Dump= with a real MariaDB: the man page's mariadb-dump recipe against a
# throwaway server (Debian's mariadb-server; mariadb-install-db and mariadbd
# as user mysql, no TCP at all: a Unix socket in a temporary directory),
# restored into a second fresh server with the man page's restore command,
# rows compared; a dump of a database that is not there fails the run.
source "$(dirname "$0")/lib.sh"
t_setup
export LC_ALL=C.UTF-8
export PATH=$PATH:/usr/sbin
for t in mariadbd mariadb-install-db mariadb mariadb-dump mariadb-admin; do
        command -v "$t" >/dev/null 2>&1 || { fail "$t is not installed (tools/deps --test installs mariadb-server)"; exit 1; }
done

DB_DIR=$(mktemp -d /tmp/alexandria-mariadb.XXXXXX)
DB_PIDS=()
db_stop_all() {
        local p
        for p in "${DB_PIDS[@]}"; do
                kill -TERM "$p" 2>/dev/null
                # mariadbd exits within seconds of SIGTERM; then the directory can go
                for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$p" 2>/dev/null
        done
        rm -rf "$DB_DIR"
}
T_CLEANUP_HOOK='db_stop_all'
chown mysql: "$DB_DIR" && chmod 0755 "$DB_DIR"

# db_start NAME: a new server in $DB_DIR/NAME, its socket $DB_DIR/NAME.sock
db_start() {
        local name=$1 d=$DB_DIR/$1
        mkdir -p "$d" && chown mysql: "$d"
        mariadb-install-db --no-defaults --user=mysql --datadir="$d" --skip-test-db \
                --auth-root-authentication-method=socket > "$DB_DIR/$name.install.log" 2>&1 \
                || { cat "$DB_DIR/$name.install.log" >&2; return 1; }
        mariadbd --no-defaults --user=mysql --datadir="$d" --socket="$DB_DIR/$name.sock" \
                --pid-file="$DB_DIR/$name.pid" --log-error="$DB_DIR/$name.err" --skip-networking \
                --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --skip-log-bin --open-files-limit=1024 &
        DB_PIDS+=($!)
        wait_for 60 mariadb-admin --no-defaults -S "$DB_DIR/$name.sock" -u root ping >/dev/null 2>&1 \
                || { cat "$DB_DIR/$name.err" >&2; return 1; }
}
# db_sql NAME SQL: as root through the socket, tab-separated, no headers
db_sql() { mariadb --no-defaults -S "$DB_DIR/$1.sock" -u root -N -B -e "$2"; }
db_rows() {
        db_sql "$1" "SELECT id, name, HEX(data), at, n FROM app.t ORDER BY id; SELECT * FROM shop.orders ORDER BY id;
                     SELECT routine_name FROM information_schema.routines WHERE routine_schema = 'app'"
}

check "a first MariaDB server starts" db_start one
db_sql one "CREATE DATABASE app; CREATE DATABASE shop; USE app;
        CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT, data BLOB, at DATETIME(6), n DECIMAL(12,4)) ENGINE=InnoDB;
        INSERT INTO app.t (name, data, at, n) SELECT CONCAT('row ', seq, ' ünïcode ''quoted'' \\\\ tab\\there'),
               UNHEX(MD5(seq)), '2024-01-01' + INTERVAL seq HOUR, seq / 7 FROM seq_1_to_1000;
        INSERT INTO app.t (name) VALUES (NULL);
        CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40)) ENGINE=InnoDB;
        INSERT INTO shop.orders SELECT seq, CONCAT('item ', seq) FROM seq_1_to_50;
        CREATE FUNCTION app.twice(x INT) RETURNS INT DETERMINISTIC RETURN 2 * x;" \
        && ok "it gets rows, two databases and a function" || fail "filling the first server"
check "... 1001 rows in app.t" test "$(db_sql one 'SELECT COUNT(*) FROM app.t')" = 1001

src=$T/src; dest=$T/dest
mkdir -p "$src" "$dest"
printf 'x\n' > "$src/x"
# the recipe of alexandria.schedule(5), with the socket of this server
t_schedule maria "Source=$src" "Destination=$dest" \
        "Dump=mariadb.sql mariadb-dump --no-defaults --socket=$DB_DIR/one.sock -u root --single-transaction --all-databases --routines --events"
"$BACKUP" maria 2> "$T/err"; rc=$?
check "the backup with the MariaDB dump succeeds (exit 0)" test "$rc" = 0 || cat "$T/err"
check "restore --dumps" "$CTL" restore maria --dumps --to "$T/r"
d=$T/r/.alexandria/dumps
check "mariadb-dump's output is in the archive" grep -q "CREATE DATABASE .*\`app\`" "$d/mariadb.sql"

check "a second, fresh MariaDB server starts" db_start two
# the restore command of the man page: mariadb < mariadb.sql
mariadb --no-defaults -S "$DB_DIR/two.sock" -u root < "$d/mariadb.sql" > "$T/restore.log" 2>&1 \
        && ok "mariadb < mariadb.sql restores it" || fail "restoring: $(tail -5 "$T/restore.log")"
rows_one=$(db_rows one)
check "the rows, the other database and the function are the same" test -n "$rows_one" -a "$(db_rows two)" = "$rows_one"
check "... and the function works" test "$(db_sql two 'SELECT app.twice(21)')" = 42

# A dump of a database that is not there fails the run with mariadb-dump's word.
before=$(ls "$dest" | grep -c '\.tar\.gz$')
t_schedule maria "Source=$src" "Destination=$dest" \
        "Dump=gone.sql mariadb-dump --no-defaults --socket=$DB_DIR/one.sock -u root --single-transaction no_such_db"
"$BACKUP" maria 2> "$T/err"; rc=$?
check_eq "a dump of a missing database fails the run" 1 "$rc"
if grep -q 'Dump gone.sql (mariadb-dump) exited with status 2; its last message: .*no_such_db' "$T/err"; then
        ok "... naming the dump, its status and mariadb-dump's message"
else
        fail "... naming the dump, its status and mariadb-dump's message: $(cat "$T/err")"
fi
check "... and no archive is linked" test "$(ls "$dest" | grep -c '\.tar\.gz$')" = "$before"
