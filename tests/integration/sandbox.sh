# shellcheck shell=bash
#
# sandbox.sh - throwaway systemd managers for Alexandria's integration tests.
#
# Source this file from a bash test (it is safe under `set -euo pipefail`).
# It implements /work/shared/SANDBOX.md: a real systemd 252 *system* manager
# as PID 1 of a new PID+mount namespace, and a real *user* manager with its
# own journald (in its own mount+pid namespace). Needs root.
#
# Isolation, beyond SANDBOX.md: both sandboxes get fresh tmpfs on /run, /tmp,
# /var/tmp; overlays on /usr, /etc, /var (upper layers in WORKDIR); a private
# /dev (binds of null zero full random urandom tty fuse net/tun, own devpts,
# so sockets' Symlinks= such as /dev/log stay inside); a private
# /sys/fs/cgroup tmpfs (systemd remounts it read-only, a superblock change
# that would otherwise hit the host); read-only /sys and /proc/sys; their own
# UTS and IPC namespaces; their own cgroup (alexandria-sandbox-*, removed on
# stop). Host units are masked as SANDBOX.md says. NOT isolated: every other
# path (/root, /home, /srv, /work, WORKDIR itself ...) and the network -- a
# write there from inside reaches the host.
# A watchdog process kills a sandbox whose test died without stopping it
# (SIGKILL, meson timeout), within ~1 s.
#
# Public functions (see each one's comment):
#   sandbox_require_root
#   sandbox_system_boot WORKDIR [STAGE]     sandbox_system_exec CMD...
#   sandbox_system_journal [JOURNALCTL-ARGS...]     sandbox_system_stop
#   sandbox_user_boot WORKDIR [STAGE]       sandbox_user_exec CMD...
#   sandbox_user_journal [JOURNALCTL-ARGS...]       sandbox_user_stop
#   sandbox_cleanup_all                     sandbox_trap_install
#   sandbox_wait_until TIMEOUT CMD...
#
# Public variables (set by the boot functions, cleared by the stop functions):
#   SANDBOX_SYSTEM_PID   host pid of the system manager (the namespace's PID 1)
#   SANDBOX_SYSTEM_DIR   WORKDIR/sandbox-system: state, logs, overlay upper
#                        layers (up-usr, up-etc, up-var: whatever the sandbox
#                        wrote to /usr, /etc, /var; read them, never write)
#   SANDBOX_USER_PID     host pid of the user sandbox's anchor (its PID 1)
#   SANDBOX_USER_DIR     WORKDIR/sandbox-user (same layout as above)
#   SANDBOX_USER_HOME, SANDBOX_USER_RUNTIME_DIR, SANDBOX_USER_CONFIG_HOME
#                        $HOME, $XDG_RUNTIME_DIR, $XDG_CONFIG_HOME of the
#                        user manager (all under WORKDIR, visible on the host
#                        too; put user units in $SANDBOX_USER_CONFIG_HOME/systemd/user)
# The host pids are also written to DIR/pid ("PID LAUNCHER-PID").
#
# Tunables (environment): SANDBOX_BOOT_TIMEOUT (default 30 s),
# SANDBOX_STOP_TIMEOUT (default 10 s), SANDBOX_SYSTEMD (/lib/systemd/systemd),
# SANDBOX_JOURNALD (/lib/systemd/systemd-journald), SANDBOX_DEBUG=1 (trace),
# SANDBOX_SYSTEM_WANTS (extra units the system sandbox's test.target wants;
# default "dbus.socket", i.e. a system bus as on a real host; set it to ""
# to test the no-bus-daemon path through /run/systemd/private).
#
# Logs for post-mortems: DIR/inner.log (namespace setup, early output),
# DIR/console.log (what the manager wrote to /dev/console).

SANDBOX_BOOT_TIMEOUT=${SANDBOX_BOOT_TIMEOUT:-30}
SANDBOX_STOP_TIMEOUT=${SANDBOX_STOP_TIMEOUT:-10}
SANDBOX_SYSTEMD=${SANDBOX_SYSTEMD:-/lib/systemd/systemd}
SANDBOX_JOURNALD=${SANDBOX_JOURNALD:-/lib/systemd/systemd-journald}
SANDBOX_SYSTEM_WANTS=${SANDBOX_SYSTEM_WANTS-dbus.socket}

SANDBOX_SYSTEM_PID=${SANDBOX_SYSTEM_PID:-}
SANDBOX_SYSTEM_DIR=${SANDBOX_SYSTEM_DIR:-}
SANDBOX_USER_PID=${SANDBOX_USER_PID:-}
SANDBOX_USER_DIR=${SANDBOX_USER_DIR:-}
SANDBOX_USER_HOME=${SANDBOX_USER_HOME:-}
SANDBOX_USER_RUNTIME_DIR=${SANDBOX_USER_RUNTIME_DIR:-}
SANDBOX_USER_CONFIG_HOME=${SANDBOX_USER_CONFIG_HOME:-}

# Internal bookkeeping: "pid starttime" pairs, so that we only ever signal
# the very processes we started (pids can be reused).
_SANDBOX_SYSTEM_START=
_SANDBOX_SYSTEM_LAUNCHER=
_SANDBOX_SYSTEM_WATCHDOG=
_SANDBOX_SYSTEM_CGROUP=
_SANDBOX_USER_START=
_SANDBOX_USER_LAUNCHER=
_SANDBOX_USER_WATCHDOG=
_SANDBOX_USER_CGROUP=

# Units of the host that the system sandbox must never start (SANDBOX.md,
# point 3), on top of everything in the host's sysinit.target.wants/ and
# timers.target.wants/ (journald excepted).
_SANDBOX_ALWAYS_MASK="systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service
systemd-tmpfiles-clean.timer systemd-tmpfiles-clean.service systemd-sysctl.service
systemd-modules-load.service systemd-timesyncd.service systemd-udevd.service
systemd-udev-trigger.service systemd-udev-settle.service systemd-binfmt.service
systemd-journal-flush.service systemd-journald-audit.socket systemd-pstore.service
systemd-random-seed.service systemd-hwdb-update.service systemd-firstboot.service
systemd-repart.service systemd-sysusers.service systemd-machine-id-commit.service
ldconfig.service apt-daily.timer apt-daily-upgrade.timer systemd-remount-fs.service
systemd-fsck-root.service systemd-fsck@.service systemd-quotacheck.service quotaon.service
systemd-growfs-root.service systemd-update-utmp.service systemd-update-done.service
systemd-boot-update.service systemd-pcrphase.service systemd-pcrphase-sysinit.service"

_sandbox_log() { printf 'sandbox: %s\n' "$*" >&2; }
_sandbox_debug() { if [ -n "${SANDBOX_DEBUG:-}" ]; then printf 'sandbox[debug]: %s\n' "$*" >&2; fi; }

# Microseconds since the epoch (bash >= 5).
_sandbox_now_us() { local t=${EPOCHREALTIME/./}; printf '%s\n' "$((10#$t))"; }

# Start time (clock ticks since boot) of PID, empty when it does not exist.
_sandbox_starttime() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	printf '%s\n' "${20:-}"
}

# _sandbox_is_proc PID START: does PID still name the process we started?
_sandbox_is_proc() {
	[ -n "$1" ] && [ -n "$2" ] && [ "$(_sandbox_starttime "$1")" = "$2" ]
}

# _sandbox_kill_wait PID START TIMEOUT: SIGKILL the process if it is ours,
# wait (bounded) until it has disappeared (zombies included).
_sandbox_kill_wait() {
	local pid=$1 start=$2 timeout=$3 deadline
	[ -n "$pid" ] || return 0
	if _sandbox_is_proc "$pid" "$start"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	deadline=$(( $(_sandbox_now_us) + timeout * 1000000 ))
	while _sandbox_is_proc "$pid" "$start"; do
		if [ "$(_sandbox_now_us)" -ge "$deadline" ]; then
			_sandbox_log "process $pid did not go away within ${timeout}s"
			return 1
		fi
		sleep 0.05
	done
	return 0
}

# sandbox_wait_until TIMEOUT CMD...: run CMD every 0.2 s until it succeeds
# (returns 0) or TIMEOUT seconds (may be fractional: 1.5) have passed (returns 1).
sandbox_wait_until() {
	local timeout=$1 deadline us
	shift
	us=$(awk -v t="$timeout" 'BEGIN { printf "%d\n", t * 1000000 }')
	deadline=$(( $(_sandbox_now_us) + us ))
	while :; do
		if "$@"; then return 0; fi
		if [ "$(_sandbox_now_us)" -ge "$deadline" ]; then return 1; fi
		sleep 0.2
	done
}

# sandbox_require_root: fail (status 1, message) unless running as root with
# the tools the sandbox needs.
sandbox_require_root() {
	if [ "$(id -u)" != 0 ]; then
		_sandbox_log "refusing to run: the systemd sandbox needs uid 0 (running as uid $(id -u))"
		return 1
	fi
	local t
	for t in unshare nsenter setsid mount findmnt stat realpath "$SANDBOX_SYSTEMD" "$SANDBOX_JOURNALD"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			_sandbox_log "refusing to run: $t not found"
			return 1
		fi
	done
}

# Prints the canonical WORKDIR or fails with a reason.
_sandbox_check_workdir() {
	local w=${1:-}
	if [ -z "$w" ] || [ ! -d "$w" ]; then
		_sandbox_log "WORKDIR '${w}' is not an existing directory"
		return 1
	fi
	w=$(realpath -e -- "$w") || return 1
	case "$w" in
	/ | *[,:\\[:space:]]*)
		_sandbox_log "unusable WORKDIR '$w' (the root, or contains ',', ':', '\\' or white space)"
		return 1 ;;
	esac
	case "$w/" in
	/usr/* | /etc/* | /var/* | /run/* | /proc/* | /sys/* | /boot/*)
		# /usr /etc /var become overlays whose upper layers live in WORKDIR
		# (overlayfs refuses an upper layer inside a lower one); /run is
		# covered by a tmpfs before WORKDIR could be saved.
		_sandbox_log "WORKDIR '$w' must not be under /usr, /etc, /var, /run, /proc, /sys or /boot (use mktemp -d under /tmp)"
		return 1 ;;
	esac
	printf '%s\n' "$w"
}

# _sandbox_fold_stage STAGE DEST: copy a `meson install --destdir` tree into
# DEST/{usr,etc,var}, folding lib/ bin/ sbin/ (and lib32/lib64/libx32) into
# usr/ (Debian 12 has merged /usr). Missing parts are fine; STAGE may be "".
_sandbox_fold_stage() {
	local stage=$1 dest=$2 d e name
	case "$dest" in
	/*/sandbox-system/lower | /*/sandbox-user/lower) ;;
	*) _sandbox_log "internal error: bad fold destination '$dest'"; return 1 ;;
	esac
	rm -rf -- "$dest"
	mkdir -p "$dest/usr" "$dest/etc" "$dest/var"
	[ -n "$stage" ] || return 0
	if [ ! -d "$stage" ]; then
		_sandbox_log "STAGE '$stage' is not a directory"
		return 1
	fi
	for d in usr etc var; do
		if [ -d "$stage/$d" ] && [ ! -L "$stage/$d" ]; then
			cp -a -- "$stage/$d/." "$dest/$d/"
		fi
	done
	for d in bin sbin lib lib32 lib64 libx32; do
		if [ -d "$stage/$d" ] && [ ! -L "$stage/$d" ]; then
			mkdir -p "$dest/usr/$d"
			cp -a -- "$stage/$d/." "$dest/usr/$d/"
		fi
	done
	for e in "$stage"/* "$stage"/.[!.]*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		name=${e##*/}
		case $name in
		usr | etc | var | bin | sbin | lib | lib32 | lib64 | libx32) ;;
		*) _sandbox_log "warning: ignoring STAGE/$name (only usr etc var bin sbin lib* are installed)" ;;
		esac
	done
}

# Names of the host units the system sandbox masks.
_sandbox_mask_list() {
	local d t f
	{
		for d in /etc/systemd/system /run/systemd/system /usr/lib/systemd/system /lib/systemd/system; do
			for t in sysinit.target.wants timers.target.wants; do
				for f in "$d/$t"/*; do
					if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\n' "${f##*/}"; fi
				done
			done
		done
		printf '%s\n' $_SANDBOX_ALWAYS_MASK
	} | awk '/^systemd-journald(\.service|\.socket|-dev-log\.socket)$/ { next } NF { print }' | sort -u
}

# Cgroup hierarchies in which a sandbox gets its own cgroup (so that the
# manager does not take over the host's root cgroup, and two sandboxes never
# share one): the unified hierarchy, or name=systemd + unified (hybrid).
_sandbox_cgroup_roots() {
	local t
	t=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null) || return 0
	if [ "$t" = cgroup2fs ]; then
		printf '%s\n' /sys/fs/cgroup
		return 0
	fi
	if [ "$(stat -f -c %T /sys/fs/cgroup/systemd 2>/dev/null)" = cgroupfs ]; then
		printf '%s\n' /sys/fs/cgroup/systemd
	fi
	if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		printf '%s\n' /sys/fs/cgroup/unified
	fi
}

# _sandbox_cgroup_remove NAME: remove NAME (and what systemd made below it)
# from every mounted cgroup hierarchy. Bounded.
_sandbox_cgroup_remove() {
	local name=$1 h d t try left
	case $name in
	alexandria-sandbox-*) ;;
	*) return 0 ;;
	esac
	for try in $(seq 1 50); do
		: "$try"
		left=
		while read -r _ h t _; do
			case $t in cgroup | cgroup2) ;; *) continue ;; esac
			d=$h/$name
			[ -d "$d" ] || continue
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
			if [ -d "$d" ]; then left="$left $d"; fi
		done </proc/self/mounts
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	printf 'sandbox: could not remove cgroup(s):%s\n' "$left" >&2
	return 1
}

# Runs as PID 1 of the new namespaces (passed in with `declare -f`), sets up
# the mounts, checks them and then becomes the system manager (MODE=system)
# or starts journald + the user manager and stays as their anchor (MODE=user).
# Never lets systemd start unless /run, /tmp, /var/tmp are fresh tmpfs and
# /usr, /etc, /var are overlays.
_sandbox_inner() {
	set -euo pipefail
	local mode=$1 W=$2 SD=$3 CG=$4 HOSTTMP=$5 SYSTEMD=$6 JOURNALD=$7
	shift 7
	local cgroots=("$@")
	local pid ppid d n h
	# /proc is still the host's: the first field is our host pid, the
	# fourth the host pid of unshare.
	read -r pid _ _ ppid _ </proc/self/stat
	echo "$pid $ppid" >"$SD/pid.new"
	mv -f "$SD/pid.new" "$SD/pid"
	echo "sandbox-inner: mode=$mode host-pid=$pid"

	mount --make-rprivate /
	mount -t proc -o nosuid,nodev,noexec proc /proc
	if [ -n "$CG" ]; then
		for h in "${cgroots[@]}"; do
			echo 0 >"$h/$CG/cgroup.procs" || echo "sandbox-inner: warning: cannot join $h/$CG" >&2
		done
	fi

	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
	mkdir /run/.sandbox-keep
	mount --bind "$W" /run/.sandbox-keep

	# A private /dev: sockets' Symlinks= (/dev/log, /dev/initctl) and the
	# console must not land in the host's devtmpfs.
	mkdir /run/.sandbox-dev
	mount -t tmpfs -o mode=0755,nosuid tmpfs /run/.sandbox-dev
	for n in null zero full random urandom tty fuse net/tun; do
		if [ -c "/dev/$n" ]; then
			mkdir -p "/run/.sandbox-dev/$(dirname "$n")"
			touch "/run/.sandbox-dev/$n"
			mount --bind "/dev/$n" "/run/.sandbox-dev/$n"
		fi
	done
	mkdir -m 0755 /run/.sandbox-dev/pts
	mkdir -m 1777 /run/.sandbox-dev/shm
	ln -s /proc/self/fd /run/.sandbox-dev/fd
	ln -s /proc/self/fd/0 /run/.sandbox-dev/stdin
	ln -s /proc/self/fd/1 /run/.sandbox-dev/stdout
	ln -s /proc/self/fd/2 /run/.sandbox-dev/stderr
	ln -s pts/ptmx /run/.sandbox-dev/ptmx
	touch /run/.sandbox-dev/console
	mount --bind "$SD/console.log" /run/.sandbox-dev/console
	mount --move /run/.sandbox-dev /dev
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts /dev/pts
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm

	# A private /sys/fs/cgroup tmpfs holding binds of the host's hierarchies:
	# on a legacy/hybrid host, systemd as PID 1 creates mount points there
	# and then remounts that tmpfs read-only -- a superblock change that
	# would hit the host's /sys/fs/cgroup if the tmpfs were shared.
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ]; then
		mkdir /run/.sandbox-cg
		mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs /run/.sandbox-cg
		for d in /sys/fs/cgroup/* /sys/fs/cgroup/.[!.]*; do
			n=${d##*/}
			if [ -L "$d" ]; then
				ln -s "$(readlink "$d")" "/run/.sandbox-cg/$n"
			elif [ -d "$d" ]; then
				mkdir "/run/.sandbox-cg/$n"
				if mountpoint -q "$d"; then mount --bind "$d" "/run/.sandbox-cg/$n"; fi
			fi
		done
		mount --move /run/.sandbox-cg /sys/fs/cgroup
		rmdir /run/.sandbox-cg
	fi

	for d in usr etc var; do
		mkdir -p "$SD/up-$d" "$SD/wk-$d"
		mount -t overlay overlay -o "lowerdir=$SD/lower/$d:/$d,upperdir=$SD/up-$d,workdir=$SD/wk-$d" "/$d"
	done
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
	mkdir -p "$W"
	mount --move /run/.sandbox-keep "$W"
	rmdir /run/.sandbox-keep

	# Kernel tunables and sysfs read-only (cgroupfs below /sys stays writable).
	mount -o remount,bind,ro,nosuid,nodev,noexec /sys
	mount --bind /proc/sys /proc/sys
	mount -o remount,bind,ro,nosuid,nodev,noexec /proc/sys
	if [ -e /proc/sysrq-trigger ]; then
		mount --bind /proc/sysrq-trigger /proc/sysrq-trigger
		mount -o remount,bind,ro /proc/sysrq-trigger
	fi

	# The guard: refuse to start anything unless the mounts are what we want.
	for d in /run /tmp /var/tmp; do
		if [ "$(stat -f -c %T "$d")" != tmpfs ]; then
			echo "sandbox-inner: FATAL: $d is not a tmpfs, not starting systemd" >&2
			exit 1
		fi
	done
	if [ "$(stat -c %d:%i /tmp)" = "$HOSTTMP" ]; then
		echo "sandbox-inner: FATAL: /tmp is the host's /tmp, not starting systemd" >&2
		exit 1
	fi
	for d in /usr /etc /var; do
		if [ "$(stat -f -c %T "$d")" != overlayfs ]; then
			echo "sandbox-inner: FATAL: $d is not an overlay, not starting systemd" >&2
			exit 1
		fi
	done
	if [ ! -e "$SD/.visible" ]; then
		echo "sandbox-inner: FATAL: $W is not visible inside, not starting systemd" >&2
		exit 1
	fi

	mkdir -p /run/systemd/system /run/log/journal
	local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	if [ "$mode" = system ]; then
		# Masks go to /etc/systemd/system (the overlay: lands in up-etc), which
		# beats a unit file an admin put in the host's /etc/systemd/system;
		# a mask in /run/systemd/system would lose against that.
		while read -r n; do
			[ -n "$n" ] || continue
			ln -sfn /dev/null "/etc/systemd/system/$n"
		done <"$SD/mask.list"
		cp "$SD/test.target" /run/systemd/system/test.target
		echo "sandbox-inner: exec $SYSTEMD --system"
		exec env -i container=alexandria-test PATH="$path" LANG=C.UTF-8 \
			"$SYSTEMD" --system --unit=test.target --show-status=no
	fi

	# MODE=user: journald + systemd --user, this shell stays as their anchor.
	local home=$SD/home rt=$SD/run
	mkdir -p /run/systemd/journal "$home/.config" "$home/.local/share" "$home/.local/state" "$home/.cache"
	mkdir -p "$rt"
	chmod 0700 "$rt"
	ln -s /run/systemd/journal/dev-log /dev/log
	local -a uenv=(env -i PATH="$path" LANG=C.UTF-8 USER=root LOGNAME=root SHELL=/bin/sh
		HOME="$home" XDG_RUNTIME_DIR="$rt" XDG_CONFIG_HOME="$home/.config"
		XDG_DATA_HOME="$home/.local/share" XDG_STATE_HOME="$home/.local/state"
		XDG_CACHE_HOME="$home/.cache" DBUS_SESSION_BUS_ADDRESS="unix:path=$rt/bus")
	"${uenv[@]}" "$JOURNALD" </dev/null &
	local jpid=$! i
	for i in $(seq 1 100); do
		[ -S /run/systemd/journal/socket ] && break
		sleep 0.1
	done
	if [ -n "$CG" ]; then
		for h in "${cgroots[@]}"; do
			mkdir -p "$h/$CG/manager" || true
		done
	fi
	(
		if [ -n "$CG" ]; then
			for h in "${cgroots[@]}"; do echo 0 >"$h/$CG/manager/cgroup.procs" || true; done
		fi
		exec "${uenv[@]}" "$SYSTEMD" --user
	) </dev/null &
	local mpid=$!
	echo "sandbox-inner: journald=$jpid user-manager=$mpid (namespace pids)"
	set +e
	wait "$mpid"
	echo "sandbox-inner: user manager exited with status $?; tearing the namespace down" >&2
	exit 1
}

# Watches the test process; if it disappears without stopping the sandbox
# (SIGKILL, meson timeout), kills the sandbox and removes its cgroups.
_sandbox_watchdog() {
	local tpid=$1 tstart=$2 mpid=$3 mstart=$4 cg=$5 pidfile=$6
	echo $$ >"$pidfile"
	while [ "$(_sandbox_starttime "$tpid")" = "$tstart" ]; do
		[ "$(_sandbox_starttime "$mpid")" = "$mstart" ] || exit 0
		sleep 1
	done
	if [ "$(_sandbox_starttime "$mpid")" = "$mstart" ]; then
		kill -KILL "$mpid" 2>/dev/null || true
	fi
	sleep 1
	_sandbox_cgroup_remove "$cg" || true
}

# _sandbox_boot MODE WORKDIR STAGE: common part of the boot functions. Sets
# _SANDBOX_B_{PID,START,LAUNCHER,WATCHDOG,CGROUP,DIR}.
_sandbox_boot() {
	local mode=$1 w=$2 stage=$3 sd cg h pid launcher i hosttmp start
	local -a cgroots=()
	_SANDBOX_B_DIR='' _SANDBOX_B_CGROUP='' _SANDBOX_B_PID='' _SANDBOX_B_START='' _SANDBOX_B_LAUNCHER='' _SANDBOX_B_WATCHDOG=''
	sandbox_require_root || return 1
	w=$(_sandbox_check_workdir "$w") || return 1
	sd=$w/sandbox-$mode
	mkdir -p "$sd"
	if [ -s "$sd/pid" ]; then
		read -r pid _ <"$sd/pid" || true
		if [ -n "${pid:-}" ] && [ -e "/proc/$pid" ] && [ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] \
			&& [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = / ] && grep -qa "sandbox-inner\|systemd" "/proc/$pid/cmdline" 2>/dev/null; then
			_sandbox_log "a $mode sandbox (pid $pid) already runs on $w"
			return 1
		fi
	fi
	rm -f "$sd/pid" "$sd/pid.new" "$sd/watchdog.pid"
	: >"$sd/console.log"
	: >"$sd/inner.log"
	_sandbox_fold_stage "$stage" "$sd/lower" || return 1
	if [ "$mode" = system ]; then
		_sandbox_mask_list >"$sd/mask.list"
		printf '[Unit]\nDescription=Alexandria test boot target\nWants=%s\n' \
			"systemd-journald.socket systemd-journald.service timers.target $SANDBOX_SYSTEM_WANTS" >"$sd/test.target"
	fi
	touch "$sd/.visible"
	hosttmp=$(stat -c %d:%i /tmp)

	cg=alexandria-sandbox-$mode-$$-${RANDOM}${RANDOM}
	while read -r h; do
		[ -n "$h" ] || continue
		if mkdir "$h/$cg" 2>/dev/null; then
			cgroots+=("$h")
		else
			_sandbox_log "warning: cannot create cgroup $h/$cg; the manager will share its parent's cgroup"
		fi
	done < <(_sandbox_cgroup_roots)
	if [ ${#cgroots[@]} -eq 0 ]; then cg=; fi

	_sandbox_debug "booting $mode sandbox in $sd (cgroup ${cg:-none})"
	# The scripts are written to files (not bash -c) to keep `ps` readable.
	{
		echo "# generated by tests/integration/sandbox.sh; runs as PID 1 of the sandbox"
		declare -f _sandbox_inner
		echo '_sandbox_inner "$@"'
	} >"$sd/sandbox-inner.sh"
	{
		echo "# generated by tests/integration/sandbox.sh"
		declare -f _sandbox_watchdog _sandbox_starttime _sandbox_cgroup_remove
		echo '_sandbox_watchdog "$@"'
	} >"$sd/sandbox-watchdog.sh"
	setsid unshare --pid --fork --mount --uts --ipc --propagation private \
		/bin/bash "$sd/sandbox-inner.sh" \
		"$mode" "$w" "$sd" "$cg" "$hosttmp" "$SANDBOX_SYSTEMD" "$SANDBOX_JOURNALD" "${cgroots[@]}" \
		</dev/null >>"$sd/inner.log" 2>&1 &
	launcher=$!
	disown "$launcher" 2>/dev/null || true

	_SANDBOX_B_DIR=$sd
	_SANDBOX_B_CGROUP=$cg
	for i in $(seq 1 100); do
		[ -s "$sd/pid" ] && break
		kill -0 "$launcher" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$sd/pid" ]; then
		_sandbox_log "$mode sandbox did not start; $sd/inner.log:"
		sed 's/^/  | /' "$sd/inner.log" >&2 || true
		kill -KILL "$launcher" 2>/dev/null || true
		_sandbox_cgroup_remove "$cg" || true
		return 1
	fi
	read -r pid launcher <"$sd/pid"
	start=$(_sandbox_starttime "$pid")
	_SANDBOX_B_PID=$pid
	_SANDBOX_B_START=$start
	_SANDBOX_B_LAUNCHER="$launcher $(_sandbox_starttime "$launcher")"
	if [ -z "$start" ]; then
		_sandbox_log "$mode sandbox died during setup; $sd/inner.log:"
		sed 's/^/  | /' "$sd/inner.log" >&2 || true
		return 1
	fi

	setsid /bin/bash "$sd/sandbox-watchdog.sh" "$$" "$(_sandbox_starttime "$$")" "$pid" "$start" "$cg" "$sd/watchdog.pid" \
		</dev/null >/dev/null 2>&1 &
	disown "$!" 2>/dev/null || true
	for i in $(seq 1 50); do
		[ -s "$sd/watchdog.pid" ] && break
		sleep 0.05
	done
	if [ -s "$sd/watchdog.pid" ]; then
		read -r i <"$sd/watchdog.pid"
		_SANDBOX_B_WATCHDOG="$i $(_sandbox_starttime "$i")"
	fi
}

# _sandbox_stop PID START LAUNCHER WATCHDOG CGROUP
_sandbox_stop() {
	local pid=$1 start=$2 launcher=$3 watchdog=$4 cg=$5 rc=0 wpid wstart lpid lstart
	_sandbox_kill_wait "$pid" "$start" "$SANDBOX_STOP_TIMEOUT" || rc=1
	read -r lpid lstart <<<"$launcher" || true
	if [ -n "${lpid:-}" ] && [ -n "${lstart:-}" ]; then
		# unshare exits as soon as its child (the namespace's PID 1) is gone
		sandbox_wait_until "$SANDBOX_STOP_TIMEOUT" eval '! _sandbox_is_proc "$lpid" "$lstart"' || rc=1
	fi
	read -r wpid wstart <<<"$watchdog" || true
	if [ -n "${wpid:-}" ] && _sandbox_is_proc "$wpid" "$wstart"; then
		# the watchdog leads its own process group (setsid): it and its sleep
		kill -KILL -- "-$wpid" 2>/dev/null || true
		_sandbox_kill_wait "$wpid" "$wstart" "$SANDBOX_STOP_TIMEOUT" || rc=1
	fi
	if [ -n "$cg" ]; then _sandbox_cgroup_remove "$cg" || rc=1; fi
	return $rc
}

# Prints the last lines of the sandbox logs to stderr (for failed boots).
_sandbox_dump_logs() {
	local sd=$1 f
	for f in inner.log console.log; do
		if [ -s "$sd/$f" ]; then
			_sandbox_log "--- $sd/$f (last 40 lines) ---"
			tail -n 40 "$sd/$f" | sed 's/^/  | /' >&2 || true
		fi
	done
}

# _sandbox_verify_tmp EXEC-FUNCTION: from inside, /tmp must be a tmpfs that is
# not the host's /tmp, and WORKDIR must be visible.
_sandbox_verify_inside() {
	local exec=$1 sd=$2 fstype devino
	fstype=$("$exec" stat -f -c %T /tmp 2>/dev/null) || fstype=
	devino=$("$exec" stat -c %d:%i /tmp 2>/dev/null) || devino=
	if [ "$fstype" != tmpfs ] || [ -z "$devino" ] || [ "$devino" = "$(stat -c %d:%i /tmp)" ]; then
		_sandbox_log "FATAL: /tmp inside the sandbox is not a private tmpfs (type '$fstype', dev:ino '$devino')"
		return 1
	fi
	if ! "$exec" test -e "$sd/.visible"; then
		_sandbox_log "FATAL: $sd is not visible inside the sandbox"
		return 1
	fi
}

# sandbox_system_boot WORKDIR [STAGE]
#   Boots a systemd system manager as PID 1 of a new PID+mount(+UTS+IPC)
#   namespace. STAGE: optional `meson install --destdir` tree, installed into
#   the sandbox's /usr, /etc, /var (lib/ bin/ sbin/ folded into usr/). Returns
#   once `systemctl is-system-running` says running or degraded (bounded by
#   SANDBOX_BOOT_TIMEOUT); on failure prints the logs, stops it, returns 1.
sandbox_system_boot() {
	local w=${1:-} stage=${2:-} state deadline
	if [ -n "$SANDBOX_SYSTEM_PID" ]; then
		_sandbox_log "a system sandbox is already booted (pid $SANDBOX_SYSTEM_PID)"
		return 1
	fi
	_sandbox_boot system "$w" "$stage" || {
		_SANDBOX_SYSTEM_CGROUP=${_SANDBOX_B_CGROUP:-}
		SANDBOX_SYSTEM_PID=${_SANDBOX_B_PID:-}
		_SANDBOX_SYSTEM_START=${_SANDBOX_B_START:-}
		_SANDBOX_SYSTEM_LAUNCHER=${_SANDBOX_B_LAUNCHER:-}
		_SANDBOX_SYSTEM_WATCHDOG=${_SANDBOX_B_WATCHDOG:-}
		sandbox_system_stop || true
		return 1
	}
	SANDBOX_SYSTEM_PID=$_SANDBOX_B_PID
	SANDBOX_SYSTEM_DIR=$_SANDBOX_B_DIR
	_SANDBOX_SYSTEM_START=$_SANDBOX_B_START
	_SANDBOX_SYSTEM_LAUNCHER=$_SANDBOX_B_LAUNCHER
	_SANDBOX_SYSTEM_WATCHDOG=$_SANDBOX_B_WATCHDOG
	_SANDBOX_SYSTEM_CGROUP=$_SANDBOX_B_CGROUP

	deadline=$(( $(_sandbox_now_us) + SANDBOX_BOOT_TIMEOUT * 1000000 ))
	state=
	while :; do
		if ! _sandbox_is_proc "$SANDBOX_SYSTEM_PID" "$_SANDBOX_SYSTEM_START"; then
			_sandbox_log "system manager died while booting"
			break
		fi
		state=$(sandbox_system_exec systemctl is-system-running 2>/dev/null) || true
		case $state in running | degraded) break ;; esac
		if [ "$(_sandbox_now_us)" -ge "$deadline" ]; then
			_sandbox_log "system manager not up after ${SANDBOX_BOOT_TIMEOUT}s (state '$state')"
			break
		fi
		sleep 0.2
	done
	case $state in
	running | degraded) ;;
	*)
		_sandbox_dump_logs "$SANDBOX_SYSTEM_DIR"
		sandbox_system_stop || true
		return 1 ;;
	esac
	if [ "$state" = degraded ]; then
		_sandbox_log "note: system sandbox is degraded; failed units:"
		sandbox_system_exec systemctl --no-pager --no-legend --failed >&2 || true
	fi
	if ! _sandbox_verify_inside sandbox_system_exec "$SANDBOX_SYSTEM_DIR"; then
		sandbox_system_stop || true
		return 1
	fi
	_sandbox_debug "system sandbox up: pid $SANDBOX_SYSTEM_PID, state $state"
}

# _sandbox_nsenter PID CMD...: run CMD in PID's mount+pid namespaces, in the
# caller's working directory if it exists there (else /).
_sandbox_nsenter() {
	local pid=$1
	shift
	nsenter -t "$pid" -m -p -- /bin/sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$PWD" "$@"
}

# sandbox_system_exec CMD...
#   Runs CMD inside the system sandbox (mount+pid namespaces) with the
#   caller's stdin/stdout/stderr and environment (minus XDG_RUNTIME_DIR and
#   DBUS_SESSION_BUS_ADDRESS); returns CMD's exit status (125 if no sandbox).
#   Use `sandbox_system_exec env VAR=value CMD...` to add variables.
sandbox_system_exec() {
	if [ $# -eq 0 ]; then
		_sandbox_log "usage: sandbox_system_exec CMD..."
		return 125
	fi
	if ! _sandbox_is_proc "$SANDBOX_SYSTEM_PID" "$_SANDBOX_SYSTEM_START"; then
		_sandbox_log "sandbox_system_exec: no system sandbox is running"
		return 125
	fi
	_sandbox_nsenter "$SANDBOX_SYSTEM_PID" env -u XDG_RUNTIME_DIR -u DBUS_SESSION_BUS_ADDRESS "$@"
}

# sandbox_system_journal [ARGS...]: journalctl --no-pager ARGS inside the
# system sandbox, e.g. sandbox_system_journal -o cat SYSLOG_IDENTIFIER=foo
sandbox_system_journal() {
	sandbox_system_exec journalctl --no-pager "$@"
}

# sandbox_system_stop: SIGKILL the namespace's PID 1 from outside (SIGTERM
# would only make systemd re-execute), wait until it is gone, remove its
# cgroups. Idempotent; returns 1 only if something would not go away.
sandbox_system_stop() {
	local rc=0
	if [ -n "$SANDBOX_SYSTEM_PID$_SANDBOX_SYSTEM_CGROUP" ]; then
		_sandbox_stop "$SANDBOX_SYSTEM_PID" "$_SANDBOX_SYSTEM_START" "$_SANDBOX_SYSTEM_LAUNCHER" \
			"$_SANDBOX_SYSTEM_WATCHDOG" "$_SANDBOX_SYSTEM_CGROUP" || rc=1
	fi
	if [ $rc -eq 0 ]; then
		SANDBOX_SYSTEM_PID='' _SANDBOX_SYSTEM_START='' _SANDBOX_SYSTEM_LAUNCHER=''
		_SANDBOX_SYSTEM_WATCHDOG='' _SANDBOX_SYSTEM_CGROUP=''
	fi
	return $rc
}

# sandbox_user_boot WORKDIR [STAGE]
#   Starts journald and `systemd --user` (as root) in a new mount+pid
#   namespace with the same tmpfs/overlay protection as the system sandbox
#   (STAGE installed the same way, so user generators and units in it are
#   seen), HOME and XDG_RUNTIME_DIR under WORKDIR/sandbox-user. Returns once
#   `systemctl --user is-system-running` says running or degraded.
sandbox_user_boot() {
	local w=${1:-} stage=${2:-} state deadline sd
	if [ -n "$SANDBOX_USER_PID" ]; then
		_sandbox_log "a user sandbox is already booted (pid $SANDBOX_USER_PID)"
		return 1
	fi
	_sandbox_boot user "$w" "$stage" || {
		_SANDBOX_USER_CGROUP=${_SANDBOX_B_CGROUP:-}
		SANDBOX_USER_PID=${_SANDBOX_B_PID:-}
		_SANDBOX_USER_START=${_SANDBOX_B_START:-}
		_SANDBOX_USER_LAUNCHER=${_SANDBOX_B_LAUNCHER:-}
		_SANDBOX_USER_WATCHDOG=${_SANDBOX_B_WATCHDOG:-}
		sandbox_user_stop || true
		return 1
	}
	sd=$_SANDBOX_B_DIR
	SANDBOX_USER_PID=$_SANDBOX_B_PID
	SANDBOX_USER_DIR=$sd
	SANDBOX_USER_HOME=$sd/home
	SANDBOX_USER_RUNTIME_DIR=$sd/run
	SANDBOX_USER_CONFIG_HOME=$sd/home/.config
	_SANDBOX_USER_START=$_SANDBOX_B_START
	_SANDBOX_USER_LAUNCHER=$_SANDBOX_B_LAUNCHER
	_SANDBOX_USER_WATCHDOG=$_SANDBOX_B_WATCHDOG
	_SANDBOX_USER_CGROUP=$_SANDBOX_B_CGROUP

	deadline=$(( $(_sandbox_now_us) + SANDBOX_BOOT_TIMEOUT * 1000000 ))
	state=
	while :; do
		if ! _sandbox_is_proc "$SANDBOX_USER_PID" "$_SANDBOX_USER_START"; then
			_sandbox_log "user sandbox died while booting"
			break
		fi
		state=$(sandbox_user_exec systemctl --user is-system-running 2>/dev/null) || true
		case $state in running | degraded) break ;; esac
		if [ "$(_sandbox_now_us)" -ge "$deadline" ]; then
			_sandbox_log "user manager not up after ${SANDBOX_BOOT_TIMEOUT}s (state '$state')"
			break
		fi
		sleep 0.2
	done
	case $state in
	running | degraded) ;;
	*)
		_sandbox_dump_logs "$sd"
		sandbox_user_stop || true
		return 1 ;;
	esac
	if [ "$state" = degraded ]; then
		_sandbox_log "note: user sandbox is degraded; failed units:"
		sandbox_user_exec systemctl --user --no-pager --no-legend --failed >&2 || true
	fi
	if ! _sandbox_verify_inside sandbox_user_exec "$sd"; then
		sandbox_user_stop || true
		return 1
	fi
	_sandbox_debug "user sandbox up: anchor pid $SANDBOX_USER_PID, state $state"
}

# sandbox_user_exec CMD...
#   Runs CMD inside the user sandbox with HOME, XDG_RUNTIME_DIR,
#   XDG_CONFIG_HOME (and the other XDG_*_HOME) and DBUS_SESSION_BUS_ADDRESS
#   of its user manager, so `systemctl --user`, `systemd-run --user`,
#   `journalctl` and sd-bus user connections reach it. Exit status and stdio
#   pass through (125 if no sandbox).
sandbox_user_exec() {
	if [ $# -eq 0 ]; then
		_sandbox_log "usage: sandbox_user_exec CMD..."
		return 125
	fi
	if ! _sandbox_is_proc "$SANDBOX_USER_PID" "$_SANDBOX_USER_START"; then
		_sandbox_log "sandbox_user_exec: no user sandbox is running"
		return 125
	fi
	local h=$SANDBOX_USER_HOME
	_sandbox_nsenter "$SANDBOX_USER_PID" env HOME="$h" XDG_RUNTIME_DIR="$SANDBOX_USER_RUNTIME_DIR" \
		XDG_CONFIG_HOME="$h/.config" XDG_DATA_HOME="$h/.local/share" XDG_STATE_HOME="$h/.local/state" \
		XDG_CACHE_HOME="$h/.cache" DBUS_SESSION_BUS_ADDRESS="unix:path=$SANDBOX_USER_RUNTIME_DIR/bus" "$@"
}

# sandbox_user_journal [ARGS...]: journalctl --no-pager ARGS inside the user
# sandbox (its journald is the only one there: no --user needed).
sandbox_user_journal() {
	sandbox_user_exec journalctl --no-pager "$@"
}

# sandbox_user_stop: SIGKILL the user sandbox's anchor (its PID 1: journald,
# the user manager and all its services die with it). Idempotent.
sandbox_user_stop() {
	local rc=0
	if [ -n "$SANDBOX_USER_PID$_SANDBOX_USER_CGROUP" ]; then
		_sandbox_stop "$SANDBOX_USER_PID" "$_SANDBOX_USER_START" "$_SANDBOX_USER_LAUNCHER" \
			"$_SANDBOX_USER_WATCHDOG" "$_SANDBOX_USER_CGROUP" || rc=1
	fi
	if [ $rc -eq 0 ]; then
		SANDBOX_USER_PID='' _SANDBOX_USER_START='' _SANDBOX_USER_LAUNCHER=''
		_SANDBOX_USER_WATCHDOG='' _SANDBOX_USER_CGROUP=''
	fi
	return $rc
}

# sandbox_cleanup_all: stop whatever was booted; keeps the caller's $?, so it
# can be used directly as `trap sandbox_cleanup_all EXIT`. Safe when nothing
# was booted, and safe to call twice.
sandbox_cleanup_all() {
	local rc=$?
	sandbox_user_stop || true
	sandbox_system_stop || true
	return $rc
}

# sandbox_trap_install [EXTRA-CLEANUP-COMMAND]: trap EXIT to run the extra
# command (if any) after sandbox_cleanup_all, and turn INT/TERM/HUP into an
# exit so that the EXIT trap runs on them too.
sandbox_trap_install() {
	local extra=${1:-}
	# shellcheck disable=SC2064
	trap "sandbox_cleanup_all; ${extra:-:}" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}
