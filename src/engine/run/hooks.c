/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "command-line.h"
#include "format-util.h"
#include "hooks.h"

extern char **environ;

/* environ with EXTRA's assignments replacing those of the same name, and
 * EXTRA's bare names removed. */
static int merge_env(char **extra, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        for (char **e = environ; e && *e; e++) {
                size_t n = strcspn(*e, "=");
                bool replaced = false;
                STRV_FOREACH(x, extra)
                        if (strncmp(*x, *e, n) == 0 && ((*x)[n] == '=' || (*x)[n] == 0))
                                replaced = true;
                if (!replaced && strv_extend(&env, *e) < 0)
                        return -ENOMEM;
        }
        STRV_FOREACH(x, extra)
                if (strchr(*x, '=') && strv_extend(&env, *x) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

int hooks_run(const char *key, const ScheduleHook *hooks, size_t n, char **extra_env,
              HookStatus *ret_failed, char **ret_error) {
        _cleanup_strv_free_ char **env = NULL;
        int r;

        if (n == 0)
                return 0;
        r = merge_env(extra_env, &env);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const ScheduleHook *h = &hooks[i];
                _cleanup_free_ char *path = NULL;
                posix_spawnattr_t attr;
                sigset_t none;
                pid_t pid;
                int status;

                r = command_find(h->argv[0], &path);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (h->ignore_failure)
                                continue;
                        return errorf(ret_error, r, "%s=%s: cannot run '%s': %m", key, h->command, h->argv[0]);
                }
                /* systemd starts every command with an empty signal mask and default dispositions */
                sigemptyset(&none);
                posix_spawnattr_init(&attr);
                posix_spawnattr_setsigmask(&attr, &none);
                sigset_t def;
                sigemptyset(&def);
                sigaddset(&def, SIGPIPE);
                posix_spawnattr_setsigdefault(&attr, &def);
                posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
                r = -posix_spawn(&pid, path, NULL, &attr, h->argv, env);
                posix_spawnattr_destroy(&attr);
                if (r < 0) {
                        if (h->ignore_failure)
                                continue;
                        return errorf(ret_error, r, "%s=%s: cannot execute %s: %m", key, h->command, path);
                }
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                return errorf(ret_error, negative_errno(), "%s=%s: cannot wait for it: %m", key, h->command);
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                        continue;
                if (h->ignore_failure)
                        continue;
                HookStatus st = WIFEXITED(status) ? (HookStatus) { CLD_EXITED, WEXITSTATUS(status) } :
                                (HookStatus) { WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED, WTERMSIG(status) };
                if (ret_failed)
                        *ret_failed = st;
                if (st.code == CLD_EXITED)
                        return errorf(ret_error, -EPROTO, "%s=%s exited with status %d", key, h->command, st.status);
                return errorf(ret_error, -EPROTO, "%s=%s was killed by signal SIG%s", key, h->command,
                              sigabbrev_np(st.status) ?: "?");
        }
        return 0;
}

int hooks_stop_post_env(bool success, bool main_ran, const HookStatus *st, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        char *a = NULL, *b = NULL, *c = NULL;
        const char *result = success ? "success" : st->code == CLD_EXITED ? "exit-code" :
                             st->code == CLD_DUMPED ? "core-dump" : "signal";
        const char *code = st->code == CLD_EXITED ? "exited" : st->code == CLD_DUMPED ? "dumped" : "killed";

        if (asprintf(&a, "SERVICE_RESULT=%s", result) < 0)
                return -ENOMEM;
        if (strv_push(&env, a) < 0)
                return -ENOMEM;
        if (!main_ran) {
                if (strv_extend(&env, "EXIT_CODE") < 0 || strv_extend(&env, "EXIT_STATUS") < 0)
                        return -ENOMEM;
                *ret = TAKE_PTR(env);
                return 0;
        }
        if (asprintf(&b, "EXIT_CODE=%s", code) < 0)
                return -ENOMEM;
        if (strv_push(&env, b) < 0)
                return -ENOMEM;
        if ((st->code == CLD_EXITED ? asprintf(&c, "EXIT_STATUS=%d", st->status) :
                                      asprintf(&c, "EXIT_STATUS=%s", sigabbrev_np(st->status) ?: "?")) < 0)
                return -ENOMEM;
        if (strv_push(&env, c) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}
