#!/bin/bash
# tools/deb refuses what it cannot build honestly, before building anything:
# a work tree with uncommitted changes (it names them), a machine that is
# not Debian (it says what is missing), an unknown option; exit status 1
# (2 for usage) and no dist/.
source "$(dirname "$0")/lib.sh"
t_setup
[ "$(id -u)" = 0 ] || { echo "# SKIP: tools/deb runs as root"; exit 77; }
command -v git >/dev/null && git -C "$ALEXANDRIA_SOURCE_DIR" rev-parse --git-dir >/dev/null 2>&1 ||
        { echo "# SKIP: the source is not a git checkout"; exit 77; }
rc_is() { [ "$rc" -eq "$1" ]; }

# A clone: the committed tree, then one change that is not committed.
git clone -q "$ALEXANDRIA_SOURCE_DIR" "$T/tree" || { fail "git clone"; exit 1; }
echo "a local change" >>"$T/tree/README.md"
out=$("$T/tree/tools/deb" 2>&1); rc=$?
check "a dirty work tree: exit 1" rc_is 1
check "it says the changes are not committed" grep -q "changes that are not committed" <<<"$out"
check "it names the changed file" grep -q "README.md" <<<"$out"
check "it says how to build anyway" grep -q "tools/deb --dirty" <<<"$out"
check "nothing was built" test ! -e "$T/tree/dist"

# Not Debian: /etc without debian_version (a private mount namespace).
out=$(unshare -m sh -c 'mount -t tmpfs tmpfs /etc && exec "$0"' "$T/tree/tools/deb" 2>&1); rc=$?
check "not Debian: exit 1" rc_is 1
check "it says what is missing" grep -q "^  /etc/debian_version: this is not Debian" <<<"$out"
check "and where to build instead" grep -q "Debian 12 (bookworm) or later" <<<"$out"
check "nothing was built there either" test ! -e "$T/tree/dist"

"$T/tree/tools/deb" --sign >/dev/null 2>&1; rc=$?
check "an unknown option is bad usage (exit 2)" rc_is 2
