#!/bin/bash
# Exclude= patterns match names and paths below the source (never the
# source's own path), an excluded directory is not walked, and a source that
# is a symlink means the tree it points to.
source "$(dirname "$0")/lib.sh"
t_setup

src=$T/tmp/src
mkdir -p "$src/keep" "$src/cache/deep" "$src/sub/cache" "$src/other/cache" "$T/real"
echo a > "$src/keep/a.txt"; echo b > "$src/keep/b.tmp"; echo c > "$src/cache/deep/c"
echo d > "$src/sub/cache/d"; echo o > "$src/other/cache/o"; echo abs > "$src/keep/abs"
t_schedule x "Source=$src" "Destination=$T/dest" "Exclude=tmp" "Exclude=*.tmp" "Exclude=sub/cache" \
        "Exclude=$src/keep/abs" "Exclude=/cache"
out=$("$BACKUP" x 2>&1); rc=$?
check "the run succeeds without warnings" test "$rc" = 0
list=$(tar -tzf "$T"/dest/x-*.tar.gz)
has() { grep -qx "${src#/}/$1" <<<"$list"; }
check "Exclude=tmp does not exclude a source under /tmp" has keep/a.txt
check "Exclude=*.tmp excludes by name" eval '! has keep/b.tmp'
check "Exclude=sub/cache excludes that path below the source" eval '! has sub/cache/d'
check "... but not another cache directory" has other/cache/o
check "an absolute pattern excludes that path" eval '! has keep/abs'
check "'/cache' is absolute: it excludes nothing below the source" has cache/deep/c

ln -s "$src/keep" "$T/link"
t_schedule l "Source=$T/link" "Destination=$T/dest2"
check "a symlinked source" "$BACKUP" l
check "archives the tree the symlink points to, under its real path" grep -qx "${src#/}/keep/a.txt" <<<"$(tar -tzf "$T"/dest2/l-*.tar.gz)"
ln -s "$src/keep/a.txt" "$T/filelink"
t_schedule f "Source=$T/filelink" "Destination=$T/dest3"
check "a source that is a symlink to a file" "$BACKUP" f
check "archives the file" grep -qx "${src#/}/keep/a.txt" <<<"$(tar -tzf "$T"/dest3/f-*.tar.gz)"
ln -s "$T/nowhere" "$T/dangling"
t_schedule g "Source=$T/dangling" "Destination=$T/dest4"
"$BACKUP" g >/dev/null 2>&1; rc=$?
check "a source that is a symlink to nothing fails the run" test "$rc" = 1
t_schedule s "Source=$src" "Destination=$T/dest5" "Exclude=keep/"
"$BACKUP" s >/dev/null 2>&1
check "Exclude=keep/ (trailing slash) excludes the directory" sh -c "! tar -tzf $T/dest5/s-*.tar.gz | grep -q /keep/"
