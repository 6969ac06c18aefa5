# shellcheck shell=bash
# Throwaway PostgreSQL clusters for the dump tests: Debian's postgresql
# package, initdb + pg_ctl as user postgres, the Unix socket in PG_DIR,
# TCP (if at all) on 127.0.0.1 on a port the test picked. Every cluster
# started here is stopped by pg_stop_all (call it from the EXIT trap).

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_DIR=
PG_STARTED=()

# pg_require [DIR]: DIR (default: a new one under /tmp) holds the clusters
# and their sockets; postgres must be able to reach it.
pg_require() {
        if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
                echo "PostgreSQL is not installed (tools/deps --test installs it)" >&2
                return 1
        fi
        if [ -n "${1:-}" ]; then
                PG_DIR=$1
                mkdir -p "$PG_DIR"
        else
                PG_DIR=$(mktemp -d /tmp/alexandria-pg.XXXXXX)
        fi
        chown postgres: "$PG_DIR"
        chmod 0755 "$PG_DIR"
}

# A free TCP port on 127.0.0.1 (the kernel picks it).
pg_free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_start NAME PORT [tcp]: a new cluster in $PG_DIR/NAME; its socket is
# $PG_DIR/.s.PGSQL.PORT; with "tcp" it also listens on 127.0.0.1:PORT
# (trust for local and 127.0.0.1: the test's own throwaway cluster).
pg_start() {
        local name=$1 port=$2 listen=''
        [ "${3:-}" = tcp ] && listen=127.0.0.1
        runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/$name" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
                > "$PG_DIR/$name.initdb.log" 2>&1 || { cat "$PG_DIR/$name.initdb.log" >&2; return 1; }
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/$name" -w -t 60 -l "$PG_DIR/$name.log" \
                -o "-k $PG_DIR -p $port -c listen_addresses='$listen' -c fsync=off" start >/dev/null \
                || { cat "$PG_DIR/$name.log" >&2; return 1; }
        PG_STARTED+=("$name")
}

# pg_sql PORT DB SQL…: psql as postgres on the cluster of PORT, unaligned output.
pg_sql() {
        local port=$1 db=$2; shift 2
        runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$port" -d "$db" "$@"
}

pg_stop_all() {
        local n
        for n in "${PG_STARTED[@]}"; do
                runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/$n" -m immediate -w stop >/dev/null 2>&1 || true
        done
        PG_STARTED=()
        [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
        PG_DIR=
}

# pg_fill PORT: a role, two databases, rows of several types.
pg_fill() {
        local port=$1
        pg_sql "$port" postgres -c "CREATE ROLE reporter LOGIN PASSWORD 'secret-for-test'" \
                -c "CREATE DATABASE app" -c "CREATE DATABASE shop" || return 1
        pg_sql "$port" app -c "CREATE TABLE t(id serial PRIMARY KEY, name text, data bytea, at timestamptz, n numeric)" \
                -c "INSERT INTO t(name, data, at, n) SELECT 'row ' || i || ' ünïcode ''quoted''', decode(md5(i::text), 'hex'), \
                    '2024-01-01'::timestamptz + i * interval '1 hour', i / 7.0 FROM generate_series(1, 1000) i" \
                -c "INSERT INTO t(name) VALUES (NULL)" \
                -c "GRANT SELECT ON t TO reporter" || return 1
        pg_sql "$port" shop -c "CREATE TABLE orders(id int PRIMARY KEY, item text)" \
                -c "INSERT INTO orders SELECT i, 'item ' || i FROM generate_series(1, 50) i"
}

# pg_rows PORT DB: the rows the comparisons compare
pg_rows() {
        case $2 in
        shop) pg_sql "$1" shop -c "SELECT * FROM orders ORDER BY id" ;;
        *) pg_sql "$1" "$2" -c "SELECT id, name, encode(data, 'hex'), at, n FROM t ORDER BY id" ;;
        esac
}
