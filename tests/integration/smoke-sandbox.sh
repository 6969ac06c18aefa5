#!/bin/bash
# smoke-sandbox.sh - proves tests/integration/sandbox.sh works: a generator
# and a templated oneshot from a hand-made STAGE run under a sandboxed system
# manager and under a sandboxed user manager, and the host is left as it was.
# Output is TAP; exit status 0 = all ok, 1 = a failure, 77 = skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/sandbox.sh
. "$here/sandbox.sh"

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP the systemd sandbox needs root"
	exit 77
fi

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
# check DESCRIPTION CMD...: one TAP line from CMD's status
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
diag() { printf '# %s\n' "$@"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# host state that must not change: mount table including per-mount and
# superblock options, the cgroup tmpfs, the root directory, the hostname
host_state() {
	findmnt -rn -o TARGET,SOURCE,FSTYPE,VFS-OPTIONS,FS-OPTIONS | sort
	ls -la /sys/fs/cgroup / | awk '{ print $1, $NF }'
	hostname
}
host_before=$(host_state)
W=$(mktemp -d)
sentinel=$(mktemp /tmp/alexandria-smoke-sentinel.XXXXXX)
echo "host /tmp must keep this" >"$sentinel"
devlog_before=$(ls -la /dev/log /dev/initctl 2>&1 || true)

finish() {
	local rc=$?
	set +e
	trap - EXIT INT TERM HUP
	sandbox_cleanup_all
	check "teardown: no sandbox manager left" test -z "${SANDBOX_SYSTEM_PID}${SANDBOX_USER_PID}"
	check "host: sentinel file in /tmp survived" grep -q "host /tmp must keep this" "$sentinel"
	check "host: test directory in /tmp survived" test -d "$W/stage"
	host_after=$(host_state)
	if [ "$host_after" = "$host_before" ]; then
		ok "host: mounts (and their options), /sys/fs/cgroup, / and hostname unchanged"
	else
		not_ok "host: mounts (and their options), /sys/fs/cgroup, / and hostname unchanged"
		diff <(echo "$host_before") <(echo "$host_after") | sed 's/^/# /'
	fi
	# (only ours: tests running in parallel have their own)
	check "host: no sandbox cgroup left" \
		test -z "$(ls -d /sys/fs/cgroup/*/alexandria-sandbox-*-$$-* /sys/fs/cgroup/alexandria-sandbox-*-$$-* 2>/dev/null)"
	check "host: /dev/log and /dev/initctl untouched" test "$(ls -la /dev/log /dev/initctl 2>&1)" = "$devlog_before"
	check "host: nothing written to the host's /var, /usr or /etc" \
		test ! -e /var/smoke-written -a ! -e /usr/bin/smoke-fold-marker -a ! -e /etc/smoke-written
	echo "1..$n"
	rm -f "$sentinel"
	if [ "$failed" = 0 ] && [ "$rc" = 0 ] && [ -z "${SMOKE_KEEP:-}" ]; then
		rm -rf "$W"
	else
		diag "kept $W for inspection"
	fi
	if [ "$failed" != 0 ] || [ "$rc" != 0 ]; then exit 1; fi
	exit 0
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- the stage
stage=$W/stage
mkdir -p "$stage/usr/lib/systemd/system-generators" "$stage/usr/lib/systemd/user-generators" \
	"$stage/usr/lib/systemd/system" "$stage/usr/lib/systemd/user" "$stage/bin"
cat >"$stage/usr/lib/systemd/system-generators/smoke-generator" <<'EOF'
#!/bin/sh
# Writes smoke.timer into the normal generator directory ($1) and enables it,
# once /etc/smoke-enabled exists (created after boot, like a new schedule).
set -e
out=$1
[ -e /etc/smoke-enabled ] || exit 0
inst=x
if [ "${SYSTEMD_SCOPE:-}" = user ]; then inst=user; fi
cat >"$out/smoke.timer" <<EOT
[Unit]
Description=smoke test timer ($inst)

[Timer]
OnCalendar=*:*:0/2
AccuracySec=1s
Unit=smoke@$inst.service
EOT
mkdir -p "$out/timers.target.wants"
ln -sf "$out/smoke.timer" "$out/timers.target.wants/smoke.timer"
EOF
chmod 0755 "$stage/usr/lib/systemd/system-generators/smoke-generator"
cp -p "$stage/usr/lib/systemd/system-generators/smoke-generator" "$stage/usr/lib/systemd/user-generators/"
cat >"$stage/usr/lib/systemd/system/smoke@.service" <<'EOF'
[Unit]
Description=smoke oneshot %i

[Service]
Type=oneshot
ExecStart=/usr/bin/systemd-cat -t smoke-test /bin/echo fired %i
EOF
cp -p "$stage/usr/lib/systemd/system/smoke@.service" "$stage/usr/lib/systemd/user/"
# bin/ of a non-merged DESTDIR must end up in /usr/bin
printf '#!/bin/sh\necho folded\n' >"$stage/bin/smoke-fold-marker"
chmod 0755 "$stage/bin/smoke-fold-marker"

journal_has() { # EXEC-FUNCTION IDENTIFIER TEXT
	"$1" journalctl --no-pager -o cat "SYSLOG_IDENTIFIER=$2" 2>/dev/null | grep -qx "$3"
}

# ---------------------------------------------------------- system manager
t0=$EPOCHREALTIME
if sandbox_system_boot "$W" "$stage"; then
	t1=$EPOCHREALTIME
	ok "system sandbox boots (pid $SANDBOX_SYSTEM_PID, $(elapsed "$t0" "$t1") s)"
	check "system: /tmp inside is a tmpfs" test "$(sandbox_system_exec stat -f -c %T /tmp)" = tmpfs
	check "system: host sentinel is not visible inside /tmp" sandbox_system_exec test ! -e "$sentinel"
	check "system: WORKDIR visible inside at the same path" sandbox_system_exec test -f "$stage/bin/smoke-fold-marker"
	check "system: STAGE bin/ folded into /usr/bin" test "$(sandbox_system_exec /usr/bin/smoke-fold-marker)" = folded
	check "system: exit status passes through" test "$(sandbox_system_exec sh -c 'exit 3' || echo $?)" = 3
	check "system: stdin and env VAR=x pass through" \
		test "$(echo in | sandbox_system_exec env SMOKE_VAR=x sh -c 'read -r l; echo "$l $SMOKE_VAR"')" = "in x"
	check "system: systemd-tmpfiles-setup.service is masked" \
		test "$(sandbox_system_exec systemctl is-enabled systemd-tmpfiles-setup.service 2>/dev/null || true)" = masked
	check "system: host timer apt-daily.timer is masked" \
		test "$(sandbox_system_exec systemctl is-enabled apt-daily.timer 2>/dev/null || true)" = masked
	sandbox_system_exec sh -c 'echo w >/var/smoke-written; echo w >/etc/smoke-written'
	check "system: writes to /var land in the upper layer in WORKDIR" test -f "$SANDBOX_SYSTEM_DIR/up-var/smoke-written"

	check "system: no smoke.timer before the generator is enabled" \
		test "$(sandbox_system_exec systemctl show -P LoadState smoke.timer)" = not-found
	sandbox_system_exec touch /etc/smoke-enabled
	check "system: daemon-reload" sandbox_system_exec systemctl daemon-reload
	check "system: start timers.target" sandbox_system_exec systemctl start timers.target
	t2=$EPOCHREALTIME
	if sandbox_wait_until 15 journal_has sandbox_system_exec smoke-test "fired x"; then
		ok "system: generated timer fired smoke@x.service, logged to the journal ($(elapsed "$t2" "$EPOCHREALTIME") s)"
	else
		not_ok "system: generated timer fired smoke@x.service within 15 s"
		sandbox_system_exec systemctl --no-pager status smoke.timer 'smoke@x.service' 2>&1 | sed 's/^/# /' || true
		sandbox_system_journal -n 30 2>&1 | sed 's/^/# /' || true
	fi
	check "system: list-timers shows smoke.timer" \
		sh -c 'sandbox_out=$1; printf "%s\n" "$sandbox_out" | grep -q "smoke\.timer"' _ \
		"$(sandbox_system_exec systemctl --no-pager list-timers --all 2>&1 || true)"
	check "system: busctl reaches the manager over the system bus" \
		sandbox_system_exec busctl --system call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.DBus.Peer Ping
	t3=$EPOCHREALTIME
	check "system: stop" sandbox_system_stop
	diag "system sandbox stop took $(elapsed "$t3" "$EPOCHREALTIME") s"
	check "system: stop is idempotent" sandbox_system_stop
	check "system: exec after stop fails cleanly" test "$(sandbox_system_exec true 2>/dev/null || echo $?)" = 125
else
	not_ok "system sandbox boots"
fi

# ------------------------------------------------------------ user manager
t0=$EPOCHREALTIME
if sandbox_user_boot "$W" "$stage"; then
	ok "user sandbox boots (pid $SANDBOX_USER_PID, $(elapsed "$t0" "$EPOCHREALTIME") s)"
	check "user: /tmp inside is a tmpfs" test "$(sandbox_user_exec stat -f -c %T /tmp)" = tmpfs
	check "user: HOME and XDG_RUNTIME_DIR are the sandbox's" \
		test "$(sandbox_user_exec sh -c 'echo "$HOME:$XDG_RUNTIME_DIR"')" = "$SANDBOX_USER_HOME:$SANDBOX_USER_RUNTIME_DIR"
	check "user: no smoke.timer before the generator is enabled" \
		test "$(sandbox_user_exec systemctl --user show -P LoadState smoke.timer)" = not-found
	sandbox_user_exec touch /etc/smoke-enabled
	check "user: systemctl --user reaches the user manager" sandbox_user_exec systemctl --user daemon-reload
	check "user: start timers.target" sandbox_user_exec systemctl --user start timers.target
	if sandbox_wait_until 15 journal_has sandbox_user_exec smoke-test "fired user"; then
		ok "user: generated user timer fired smoke@user.service, logged to the journal"
	else
		not_ok "user: generated user timer fired smoke@user.service within 15 s"
		sandbox_user_exec systemctl --user --no-pager status smoke.timer 'smoke@user.service' 2>&1 | sed 's/^/# /' || true
		sandbox_user_journal -n 30 2>&1 | sed 's/^/# /' || true
	fi

	# a unit file in $XDG_CONFIG_HOME/systemd/user, written from the host side
	mkdir -p "$SANDBOX_USER_CONFIG_HOME/systemd/user"
	cat >"$SANDBOX_USER_CONFIG_HOME/systemd/user/smoke-home.service" <<EOF
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "\$HOME" >"$W/home-unit-ran"'
EOF
	sandbox_user_exec systemctl --user daemon-reload
	if sandbox_user_exec systemctl --user start smoke-home.service &&
		sandbox_wait_until 5 test -s "$W/home-unit-ran" &&
		[ "$(cat "$W/home-unit-ran")" = "$SANDBOX_USER_HOME" ]; then
		ok "user: unit from \$XDG_CONFIG_HOME ran, with the sandbox's HOME"
	else
		not_ok "user: unit from \$XDG_CONFIG_HOME ran, with the sandbox's HOME ($(cat "$W/home-unit-ran" 2>/dev/null || echo no file))"
	fi

	check "user: systemd-run --user --on-active=1 transient timer" \
		sandbox_user_exec systemd-run --user --quiet --unit=smoke-transient --on-active=1 \
		/bin/sh -c "echo transient >'$W/transient-ran'"
	if sandbox_wait_until 10 test -s "$W/transient-ran"; then
		ok "user: transient timer ran its command"
	else
		not_ok "user: transient timer ran its command within 10 s"
	fi
	check "user: sd-bus user connection (busctl --user) reaches the manager" \
		sandbox_user_exec busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.DBus.Peer Ping
	check "user: logger reaches the sandbox journal" sandbox_user_exec logger -t smoke-logger hello-from-logger
	if sandbox_wait_until 5 journal_has sandbox_user_exec smoke-logger hello-from-logger; then
		ok "user: logger line found in the journal"
	else
		not_ok "user: logger line found in the journal"
	fi
	check "user: stop" sandbox_user_stop
	check "user: stop is idempotent" sandbox_user_stop
else
	not_ok "user sandbox boots"
fi
