#!/bin/bash
# Bash completion of alexandria-ctl: verbs, options and their values, and
# schedule names from the schedules directory alexandria-ctl itself would use.
# Each completion runs in a fresh bash, with bash-completion's framework when
# it is installed, and also without it (the completion's own fallback).
source "$(dirname "$0")/lib.sh"
t_setup

COMPLETION=${ALEXANDRIA_SOURCE_DIR:-$(dirname "$0")/../..}/shell-completion/bash/alexandria-ctl
FRAMEWORK=/usr/share/bash-completion/bash_completion
if [ ! -r "$COMPLETION" ]; then
        fail "completion file $COMPLETION is missing"
        exit 1
fi
MODES=plain
if [ -r "$FRAMEWORK" ]; then
        MODES="framework plain"
else
        echo "# $FRAMEWORK not installed: testing without bash-completion only"
fi

# comp MODE LINE: what completing LINE (cursor at its end) offers, sorted,
# one per line. LINE is split into words as bash does: at blanks, and "=" is
# a word of its own; a trailing blank starts a new word.
comp() {
        bash --norc --noprofile -c '
                mode=$1 line=$2
                if [ "$mode" = framework ]; then
                        source "$4" >/dev/null 2>&1 || exit 99
                fi
                source "$3" || exit 98
                read -ra COMP_WORDS <<< "${line//=/ = }"
                [[ $line == *[\ =] ]] && COMP_WORDS+=("")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMP_LINE=$line
                COMP_POINT=${#line}
                _alexandria_ctl alexandria-ctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
                printf "%s\n" "${COMPREPLY[@]}" | sed "/^\$/d" | sort
        ' comp "$1" "$2" "$COMPLETION" "$FRAMEWORK"
}

# expect MODE DESCRIPTION LINE EXPECTED...: completing LINE offers exactly EXPECTED.
expect() {
        local mode=$1 desc=$2 line=$3 got want
        shift 3
        got=$(comp "$mode" "$line")
        want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
        if [ "$got" = "$want" ]; then
                ok "$mode: $desc"
        else
                fail "$mode: $desc: completing '$line' offered [$(paste -sd' ' <<< "$got")], expected [$(paste -sd' ' <<< "$want")]"
        fi
}

# Schedules: only NAME.conf files count, hidden ones and others do not.
DIR=$T/alt
mkdir -p "$DIR/schedules.d" "$T/home/.config/alexandria/schedules.d" "$T/dir-a" "$T/dir-b"
touch "$DIR/schedules.d/"{alpha.conf,beta.conf,db-2.conf,.hidden.conf,notes.txt,gamma.conf~,alpha.conf.dpkg-old}
touch "$ALEXANDRIA_CONFIG_DIR/schedules.d/"{env-one.conf,env-two.conf}
touch "$T/home/.config/alexandria/schedules.d/mine.conf"
touch "$T/file-a"
mkdir -p "$T/state/deleted"; touch "$T/state/deleted/gone.conf"

# The verbs and options that --help lists, to check the completion against.
HELP=$("$CTL" --help)
VERBS=$(sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' <<< "$HELP" | sort -u)
OPTIONS=$(grep -o -- '-[-a-z0-9]*' <<< "$HELP" | grep -E '^(-[a-z0-9]|--[a-z][a-z-]+)$' | sort -u)
check "--help lists verbs" [ "$(wc -l <<< "$VERBS")" -ge 10 ]
check "--help lists options" [ "$(wc -l <<< "$OPTIONS")" -ge 10 ]

for mode in $MODES; do
        if bash --norc --noprofile -c 'source "$1" 2>/dev/null; source "$2"; complete -p alexandria-ctl' _ \
                        "$([ "$mode" = framework ] && echo "$FRAMEWORK" || echo /dev/null)" "$COMPLETION" |
                        grep -q -- '-F _alexandria_ctl alexandria-ctl$'; then
                ok "$mode: the completion is registered for alexandria-ctl"
        else
                fail "$mode: the completion is not registered for alexandria-ctl"
        fi

        # Verbs.
        expect "$mode" "verbs starting with st" "alexandria-ctl st" start status stop
        # shellcheck disable=SC2086
        expect "$mode" "every verb of --help" "alexandria-ctl " $VERBS
        expect "$mode" "verbs after global options" "alexandria-ctl --user --config-dir $DIR l" list logs

        # Options: before a verb every option of --help, after one the fitting ones.
        # shellcheck disable=SC2086
        expect "$mode" "every option of --help" "alexandria-ctl -" $OPTIONS
        expect "$mode" "options of run" "alexandria-ctl run --h" --help --here
        expect "$mode" "options of create" "alexandria-ctl create x --c" --compression --config-dir --copy-keep --copy-to
        expect "$mode" "options of backups" "alexandria-ctl backups -" \
                -h --help --version --user --config-dir --no-reload -l --long --key

        # Option values.
        expect "$mode" "--compression values" "alexandria-ctl create x --compression " gzip zstd xz none
        expect "$mode" "--compression z" "alexandria-ctl create x --compression z" zstd
        expect "$mode" "--config-dir completes directories" "alexandria-ctl --config-dir $T/di" "$T/dir-a" "$T/dir-b"
        expect "$mode" "--dest completes directories" "alexandria-ctl create x --dest $T/di" "$T/dir-a" "$T/dir-b"
        expect "$mode" "--source completes files" "alexandria-ctl create x --source $T/fi" "$T/file-a"
        expect "$mode" "--keep takes a number" "alexandria-ctl create x --keep " ""

        # Schedule names.
        expect "$mode" "run: names in --config-dir DIR" "alexandria-ctl --config-dir $DIR run " alpha beta db-2
        expect "$mode" "run: --config-dir after the verb" "alexandria-ctl run --config-dir $DIR " alpha beta db-2
        expect "$mode" "status: names in \$ALEXANDRIA_CONFIG_DIR" "alexandria-ctl status " env-one env-two
        expect "$mode" "delete: prefix" "alexandria-ctl --config-dir $DIR delete a" alpha
        expect "$mode" "backups: one name only" "alexandria-ctl --config-dir $DIR backups alpha " ""
        expect "$mode" "options of delete" "alexandria-ctl delete x --" \
                --help --version --user --config-dir --no-reload --archives --yes
        ALEXANDRIA_STATE_DIR=$T/state expect "$mode" "restore: deleted schedules too" \
                "alexandria-ctl --config-dir $DIR restore " alpha beta db-2 gone
        ALEXANDRIA_STATE_DIR=$T/state expect "$mode" "run: no deleted schedules" \
                "alexandria-ctl --config-dir $DIR run " alpha beta db-2
        expect "$mode" "start: each name once" "alexandria-ctl --config-dir $DIR start alpha " beta db-2
        expect "$mode" "stop: several names" "alexandria-ctl --config-dir $DIR stop beta al" alpha
        expect "$mode" "run --here: names" "alexandria-ctl --config-dir $DIR run --here b" beta
        expect "$mode" "create: no names" "alexandria-ctl --config-dir $DIR create " ""
        expect "$mode" "list: no arguments" "alexandria-ctl --config-dir $DIR list " ""
        expect "$mode" "missing directory: no names" "alexandria-ctl --config-dir $T/nowhere run " ""

        # --user: $XDG_CONFIG_HOME/alexandria, unless a directory is given.
        got=$(unset ALEXANDRIA_CONFIG_DIR; comp "$mode" "alexandria-ctl --user logs ")
        check "$mode: --user: names in \$XDG_CONFIG_HOME/alexandria" [ "$got" = mine ]
        got=$(unset ALEXANDRIA_CONFIG_DIR XDG_CONFIG_HOME; comp "$mode" "alexandria-ctl --user logs ")
        check "$mode: --user: names in ~/.config/alexandria" [ "$got" = mine ]
        got=$(unset ALEXANDRIA_CONFIG_DIR; comp "$mode" "alexandria-ctl run ")
        check "$mode: without --user, not the user's schedules" [ "$got" != mine ]
        expect "$mode" "--config-dir beats --user" "alexandria-ctl --user --config-dir $DIR run b" beta
done

# bash-completion reassembles --option=value; the fallback cannot.
if [ -r "$FRAMEWORK" ]; then
        expect framework "--compression=VALUE" "alexandria-ctl create x --compression=x" xz
        expect framework "--config-dir=DIR" "alexandria-ctl --config-dir=$DIR run a" alpha
fi
