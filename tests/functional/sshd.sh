# A real sshd for the offsite tests: its own host key, config and
# authorized_keys in $T/sshd, listening on 127.0.0.1 on a port the test
# picks, stopped by the test (and by the kernel should the test die:
# setpriv --pdeathsig). Source after lib.sh's t_setup.

SSHD_DIR=$T/sshd
SSHD_PID=

# A free port on 127.0.0.1 (the kernel's choice; sshd binds it right after).
free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sshd_setup: keys and config; sets SSHD_PORT, CLIENT_KEY, KNOWN_HOSTS, SSH_OPTS.
sshd_setup() {
        mkdir -p "$SSHD_DIR"
        chmod 700 "$SSHD_DIR"
        ssh-keygen -q -t ed25519 -N '' -C alexandria-test-host -f "$SSHD_DIR/host_key"
        ssh-keygen -q -t ed25519 -N '' -C alexandria-test-client -f "$SSHD_DIR/client_key"
        SSHD_PORT=$(free_port)
        CLIENT_KEY=$SSHD_DIR/client_key
        KNOWN_HOSTS=$SSHD_DIR/known_hosts
        echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/host_key.pub")" > "$KNOWN_HOSTS"
        : > "$SSHD_DIR/authorized_keys"
        cat > "$SSHD_DIR/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
        # What SSHCommand= needs to reach it (the host key is pinned).
        SSH_OPTS="-i $CLIENT_KEY -o UserKnownHostsFile=$KNOWN_HOSTS -o IdentitiesOnly=yes"
}

# sshd_authorize OPTIONS: the client key, with authorized_keys OPTIONS
# (such as command="rrsync -wo DIR",restrict).
sshd_authorize() {
        echo "$1 $(cat "$CLIENT_KEY.pub")" > "$SSHD_DIR/authorized_keys"
}

sshd_start() {
        # sshd insists on its privilege separation directory
        mkdir -p /run/sshd
        setpriv --pdeathsig TERM -- /usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 &
        SSHD_PID=$!
        # listening once a connection gets an SSH banner
        wait_for 10 sshd_answers || { echo "# sshd did not start: $(tail -5 "$SSHD_DIR/sshd.log")"; return 1; }
}

sshd_answers() {
        python3 - "$SSHD_PORT" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
sys.exit(0 if s.recv(4).startswith(b"SSH-") else 1)
EOF
}

sshd_stop() {
        [ -n "$SSHD_PID" ] || return 0
        kill -TERM "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
        SSHD_PID=
        # its sessions end with the connections; nothing may listen any more
        wait_for 10 sh -c "! python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $SSHD_PORT), timeout=1)' 2>/dev/null"
}

T_CLEANUP_HOOK='sshd_stop'
