#!/bin/bash
# The Debian package installed for real, in the sandbox's systemd (its /usr,
# /etc and /var are overlays: nothing reaches the host): apt-get installs
# dist/alexandria_*.deb, the files are at Debian's paths, the path unit and
# the watchdog are enabled and running and no backup service was started;
# the installed alexandria-ctl creates a schedule whose timer fires and whose
# archive lists; every service's exposure (systemd-analyze security) is
# within its target; the autopkgtest smoke test passes; `dpkg --remove`
# stops and removes the units and leaves schedules and archives; `dpkg
# --purge` removes the configuration it made (alexandria.conf, notification
# state, default metrics) and no archive.
# ALEXANDRIA_DEB names the package (tools/test builds it with tools/deb).
source "$(dirname "$0")/lib.sh"

DEB=${ALEXANDRIA_DEB:-}
if [ -z "$DEB" ]; then
        echo "# SKIP: no package to test: build one with tools/deb and set ALEXANDRIA_DEB (tools/test does both)"
        exit 77
fi
[ -f "$DEB" ] || { echo "not ok - ALEXANDRIA_DEB=$DEB is not a file"; exit 1; }
sandbox_require_root || exit 77
W=$(mktemp -d /tmp/alexandria-it.XXXXXX)
trap it_finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cp "$DEB" "$W/"
deb=$W/${DEB##*/}
SMOKE=$ALEXANDRIA_SOURCE_DIR/packaging/debian/tests/smoke

# No stage: the sandbox starts as the host is, without Alexandria.
sandbox_system_boot "$W" || { fail "boot the system sandbox"; exit 1; }
if sys dpkg-query -W alexandria >/dev/null 2>&1; then
        fail "the host has a package alexandria already; this test needs a machine without it"
        exit 1
fi

# A machine that runs its services: a Docker-style policy-rc.d (exit 101,
# "start nothing") on the host would stop the maintainer scripts from
# starting and stopping units. Removed in the sandbox's /usr only.
sys rm -f /usr/sbin/policy-rc.d

# ---- install
(cd "$W" && sys env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./${deb##*/}") >"$W/apt.log" 2>&1; rc=$?
check_eq "apt-get install ./${deb##*/} exits 0" 0 "$rc"
if [ "$rc" -ne 0 ]; then
        sed 's/^/# /' "$W/apt.log"
        exit 1
fi
check_eq "dpkg has alexandria installed" "install ok installed" "$(sys dpkg-query -W -f='${Status}' alexandria 2>&1)"
files=$(sys dpkg -L alexandria)
for f in '/lib/systemd/system/alexandria@\.service' '/lib/systemd/system/alexandria-failure@\.service' \
        '/lib/systemd/system/alexandria-update\.path' '/lib/systemd/system/alexandria-watchdog\.timer' \
        '/lib/systemd/system-generators/alexandria-generator' '/lib/systemd/user-generators/alexandria-generator' \
        '/lib/systemd/user/alexandria@\.service' '/lib/systemd/catalog/alexandria\.catalog' \
        '/usr/bin/alexandria-ctl' '/usr/libexec/alexandria/alexandria-backup' \
        '/usr/share/man/man1/alexandria-ctl\.1\.gz' '/usr/share/man/man5/alexandria\.schedule\.5\.gz' \
        '/usr/share/man/man8/alexandria-generator\.8\.gz' '/usr/share/bash-completion/completions/alexandria-ctl' \
        '/etc/alexandria/alexandria\.conf'; do
        # systemd's directories are below /usr from Debian 13 on
        grep -Eqx "(/usr)?$f" <<<"$files" && ok "the package installs $f" || fail "the package does not install $f"
done
sys journalctl --list-catalog 2b4c85653858491da1b778481630ffb8 2>/dev/null | grep -q "succeeded" \
        && ok "journalctl knows the catalog entries" || fail "no catalog entry: $(sys journalctl --list-catalog 2>&1 | grep -i alexandria | head -3)"
check_eq "alexandria-update.path is enabled" enabled "$(sys systemctl is-enabled alexandria-update.path)"
check_eq "alexandria-update.path is running" active "$(sys systemctl is-active alexandria-update.path)"
check_eq "the watchdog timer is running" active "$(sys systemctl is-active alexandria-watchdog.timer)"
check_eq "no backup service was started at install" "" \
        "$(sys systemctl list-units --all --no-legend --plain 'alexandria@*' 'alexandria-failure@*')"
check "man finds alexandria-ctl(1)" sys man -w alexandria-ctl

# ---- the installed alexandria-ctl: a schedule whose timer fires
mkdir -p "$W/src"; echo "packaged" >"$W/src/file"
check "alexandria-ctl create" sys alexandria-ctl create pkg --on-calendar '*:*:0/3' --source "$W/src"
has_archive() { [ -n "$(sys alexandria-ctl backups pkg 2>/dev/null)" ]; }
wait_for 30 has_archive && ok "the timer fired and backups lists the archive" || fail "no archive of pkg: $(sys alexandria-ctl status pkg 2>&1)"
archive=$(sys alexandria-ctl backups pkg | head -1)
case $archive in
/var/backups/alexandria/pkg-*.tar.gz) ok "in the default destination: $archive" ;;
*) fail "archive '$archive'" ;;
esac
check_eq "GNU tar reads it" packaged "$(sys tar -xzf "$archive" -O "${W#/}/src/file")"
sys alexandria-ctl status pkg >/dev/null; check_eq "status pkg exits 0" 0 $?
out=$(sys alexandria-ctl doctor); rc=$?
check_eq "doctor on a fresh install exits 0 (warnings at most)" 0 $rc
grep -q '^No problems found' <<<"$out" && ok "doctor finds no problem" || fail "doctor: $out"
if sys test -d /var/lib/prometheus/node-exporter; then
        check "metrics go to the node exporter's directory by default" \
                sys grep -q '^alexandria_last_exit_status{schedule="pkg"} 0$' /var/lib/prometheus/node-exporter/alexandria_pkg.prom
fi

# ---- the sandbox of every service, as systemd rates it
# exposure UNIT: the number systemd-analyze security prints last
exposure() { sys systemd-analyze security --no-pager "$1" 2>/dev/null | awk '/Overall exposure level/ { print $(NF - 2) }'; }
# at_most LIMIT VALUE
at_most() { awk -v l="$1" -v v="$2" 'BEGIN { exit !(v != "" && v + 0 <= l + 0) }'; }
expose() {
        local unit=$1 limit=$2 e
        e=$(exposure "$unit")
        echo "# exposure $unit: $e"
        at_most "$limit" "$e" && ok "$unit: exposure $e <= $limit" || fail "$unit: exposure '$e' > $limit"
}
expose alexandria@pkg.service 1.5
expose alexandria-failure@pkg.service 2.5
expose alexandria-update.service 2.5
expose alexandria-watchdog.service 2.5
# a schedule that notifies: its instance and the watchdog get the network (and mail)
mkdir -p "$W/src-loud"; echo loud >"$W/src-loud/f"
printf '[Schedule]\nOnCalendar=daily\n[Backup]\nSource=%s\nDestination=/var/backups/loud\n[Notify]\nPingURL=http://127.0.0.1:9/ping\nMail=root@localhost\n' \
        "$W/src-loud" | sys sh -c 'umask 022; cat > /etc/alexandria/schedules.d/loud.conf'
check "reload" sys alexandria-ctl reload
expose alexandria@loud.service 1.5
expose alexandria-watchdog.service 2.5
check "run loud (its notifications fail: nobody listens)" sys alexandria-ctl run loud
check "notification state is kept" sys test -f /var/lib/alexandria/loud.state

# ---- the autopkgtest
sys sh "$SMOKE" >"$W/smoke.log" 2>&1; rc=$?
check_eq "debian/tests/smoke passes on the installed package" 0 $rc
[ "$rc" -eq 0 ] || sed 's/^/# /' "$W/smoke.log"

# a deleted schedule: its archive and the record of where it is
check "delete loud (archives stay)" sys alexandria-ctl delete loud
check "the record of the deleted schedule is there" sys test -f /var/lib/alexandria/deleted/loud.conf
loud_archive=$(sys alexandria-ctl backups loud | sed 's/  (schedule deleted)$//')

# ---- remove: units stopped and gone, schedules and archives stay
archives_before=$(sys ls /var/backups/alexandria | grep -c '^pkg-')
sys env DEBIAN_FRONTEND=noninteractive dpkg --remove alexandria >"$W/remove.log" 2>&1; rc=$?
check_eq "dpkg --remove alexandria exits 0" 0 $rc
[ "$rc" -eq 0 ] || sed 's/^/# /' "$W/remove.log"
check_eq "no alexandria timer is left running" "" "$(sys systemctl list-timers --no-legend --plain | grep alexandria || true)"
check_eq "the schedule's timer was stopped" inactive "$(sys systemctl is-active alexandria-pkg.timer)"
check_eq "the schedule's timer is gone" not-found "$(sys systemctl show -P LoadState alexandria-pkg.timer)"
check_eq "the backup service is gone" not-found "$(sys systemctl show -P LoadState alexandria@pkg.service)"
check_eq "the path unit is gone" not-found "$(sys systemctl show -P LoadState alexandria-update.path)"
check "the generator is gone" sys test ! -e /lib/systemd/system-generators/alexandria-generator
check "the schedule file stays" sys test -f /etc/alexandria/schedules.d/pkg.conf
check "alexandria.conf stays until purge" sys test -f /etc/alexandria/alexandria.conf
archives_after=$(sys ls /var/backups/alexandria | grep -c '^pkg-')
[ "$archives_after" -ge "$archives_before" ] && [ "$archives_after" -ge 1 ] \
        && ok "the archives stay ($archives_after)" || fail "archives: $archives_before before, $archives_after after"
check "the deleted schedule's archive stays" sys test -f "$loud_archive"

# ---- purge: the configuration it made goes, never an archive
sys env DEBIAN_FRONTEND=noninteractive dpkg --purge alexandria >"$W/purge.log" 2>&1; rc=$?
check_eq "dpkg --purge alexandria exits 0" 0 $rc
[ "$rc" -eq 0 ] || sed 's/^/# /' "$W/purge.log"
check_eq "dpkg has forgotten alexandria" "" "$(sys dpkg-query -W -f='${Status}' alexandria 2>/dev/null)"
check "alexandria.conf is gone" sys test ! -e /etc/alexandria/alexandria.conf
check "the notification state is gone" sys test ! -e /var/lib/alexandria/loud.state
check "the default metrics are gone" sys sh -c '! ls /var/lib/prometheus/node-exporter/alexandria_*.prom 2>/dev/null'
check "the admin's schedule stays" sys test -f /etc/alexandria/schedules.d/pkg.conf
check "the record of the deleted schedule stays" sys test -f /var/lib/alexandria/deleted/loud.conf
check "the run records stay" sys sh -c 'ls /var/lib/alexandria/runs/pkg/*.run >/dev/null'
check_eq "every archive stays" "$archives_after" "$(sys ls /var/backups/alexandria | grep -c '^pkg-')"
check "the deleted schedule's archive stays" sys test -f "$loud_archive"
