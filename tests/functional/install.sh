#!/bin/bash
# `meson install` puts each piece where systemd looks (pkg-config systemd
# variables), and the installed units point at the installed binaries.
source "$(dirname "$0")/lib.sh"
t_setup

D=$T/destdir
check "meson install into a DESTDIR" meson install -C "$ALEXANDRIA_BUILD_DIR" --no-rebuild --quiet --destdir "$D"
prefix=$(meson introspect "$ALEXANDRIA_BUILD_DIR" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libexec=$(meson introspect "$ALEXANDRIA_BUILD_DIR" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libexecdir"][0])')
sysgen=$(pkg-config --variable=systemdsystemgeneratordir systemd)
usergen=$(pkg-config --variable=systemdusergeneratordir systemd)
sysunit=$(pkg-config --variable=systemdsystemunitdir systemd)
userunit=$(pkg-config --variable=systemduserunitdir systemd)
catalog=$(pkg-config --variable=catalogdir systemd)
worker=$prefix/$libexec/alexandria/alexandria-backup

check "alexandria-ctl in bindir" test -x "$D$prefix/bin/alexandria-ctl"
check "the worker in libexecdir/alexandria" test -x "$D$worker"
check "the generator in the system generator dir ($sysgen)" test -x "$D$sysgen/alexandria-generator"
# the user generator is a symlink to the system one, absolute as on the real system
user_generator_ok() {
        local f=$D$usergen/alexandria-generator
        [ -x "$f" ] || { [ -L "$f" ] && [ -x "$D$(readlink "$f")" ]; }
}
check "the generator in the user generator dir ($usergen)" user_generator_ok
for u in alexandria@.service alexandria-failure@.service alexandria-update.path alexandria-update.service; do
        check "$u in the system unit dir" test -f "$D$sysunit/$u"
        check "$u in the user unit dir" test -f "$D$userunit/$u"
done
check "the catalog in the catalog dir" test -f "$D$catalog/alexandria.catalog"
check "the system service runs the installed worker" grep -qx "ExecStart=$worker %i" "$D$sysunit/alexandria@.service"
check "the user service runs the installed worker with --user" grep -qx "ExecStart=$worker --user %i" "$D$userunit/alexandria@.service"
check "the failure unit runs the installed ctl" grep -qx "ExecStart=$prefix/bin/alexandria-ctl report-failure %i" "$D$sysunit/alexandria-failure@.service"
check "the system path unit watches /etc/alexandria/schedules.d" grep -qx "PathChanged=/etc/alexandria/schedules.d" "$D$sysunit/alexandria-update.path"
check "the user path unit watches \$XDG_CONFIG_HOME" grep -qx "PathChanged=%E/alexandria/schedules.d" "$D$userunit/alexandria-update.path"
if [ -d "$ALEXANDRIA_BUILD_DIR/man" ] && ls "$ALEXANDRIA_BUILD_DIR"/man/*.1 >/dev/null 2>&1; then
        check "alexandria-ctl(1) installed" test -f "$D$prefix/share/man/man1/alexandria-ctl.1"
        check "alexandria.schedule(5) installed" test -f "$D$prefix/share/man/man5/alexandria.schedule.5"
        check "alexandria-generator(8) installed" test -f "$D$prefix/share/man/man8/alexandria-generator.8"
fi
check "journalctl accepts the catalog" journalctl --update-catalog --root="$D" 2>/dev/null || journalctl --dump-catalog --root="$D" >/dev/null
check "the catalog has the success message" sh -c "grep -q '^-- 2b4c85653858491da1b778481630ffb8' '$D$catalog/alexandria.catalog'"

# the configuration is /etc/alexandria whatever the prefix, unless the
# builder names another sysconfdir (configured only, in a scratch build dir)
top=$(cd "$(dirname "$0")/../.." && pwd)
for case in "/usr/local|/etc/alexandria|" "/usr/local|/opt/etc/alexandria|-Dsysconfdir=/opt/etc" "/opt/alex|/etc/alexandria|"; do
        IFS='|' read -r pfx want opt <<<"$case"
        b=$T/setup-${pfx//\//_}${opt:+-own}
        if meson setup "$b" "$top" --prefix="$pfx" $opt >"$T/setup.log" 2>&1; then
                check "--prefix=$pfx ${opt:-(no sysconfdir)}: the programs read $want" \
                        grep -qx "#define ALEXANDRIA_SYSCONFDIR \"$want\"" "$b/config.h"
                check "--prefix=$pfx ${opt:-(no sysconfdir)}: the path unit watches $want/schedules.d" \
                        grep -qx "PathChanged=$want/schedules.d" "$b/units/system-alexandria-update.path"
        else
                fail "meson setup --prefix=$pfx $opt: $(tail -n 3 "$T/setup.log")"
        fi
done
