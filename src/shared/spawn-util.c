/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>

#include "spawn-util.h"

#define CAPTURE_MAX (64 * 1024)

extern char **environ;

typedef struct Capture {
        char *buf;
        size_t n;
} Capture;

static int capture_read(int fd, Capture *c) {
        char tmp[4096];
        ssize_t k = read(fd, tmp, sizeof tmp);
        if (k <= 0)
                return k < 0 && errno == EINTR ? 1 : 0;
        size_t take = MIN((size_t) k, CAPTURE_MAX - c->n);
        if (take > 0) {
                char *b = realloc(c->buf, c->n + take + 1);
                if (!b)
                        return -ENOMEM;
                memcpy(b + c->n, tmp, take);
                c->buf = b;
                c->n += take;
                c->buf[c->n] = 0;
        }
        return 1;
}

static char **env_merge(char *const extra[]) {
        size_t n = 0, k = 0;
        for (char **e = environ; e && *e; e++)
                n++;
        for (char *const *e = extra; e && *e; e++)
                k++;
        char **env = calloc(n + k + 1, sizeof(char *));
        if (!env)
                return NULL;
        /* borrowed strings: only the array is ours; the extras come first,
         * since getenv() takes the first of two */
        if (k > 0)
                memcpy(env, extra, k * sizeof(char *));
        memcpy(env + k, environ, n * sizeof(char *));
        return env;
}

int spawn_capture(char *const argv[], char **ret_stdout, char **ret_stderr, int *ret_status) {
        return spawn_capture_env(argv, NULL, ret_stdout, ret_stderr, ret_status);
}

int spawn_capture_env(char *const argv[], char *const extra_env[], char **ret_stdout, char **ret_stderr, int *ret_status) {
        int out[2] = { -EBADF, -EBADF }, err[2] = { -EBADF, -EBADF };
        Capture co = {}, ce = {};
        posix_spawn_file_actions_t fa;
        _cleanup_free_ char **env = env_merge(extra_env);
        pid_t pid;
        int r, status;

        if (!env)
                return -ENOMEM;

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto finish;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
        r = -posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        out[1] = safe_close(out[1]);
        err[1] = safe_close(err[1]);
        if (r < 0)
                goto finish;

        struct pollfd p[2] = { { .fd = out[0], .events = POLLIN }, { .fd = err[0], .events = POLLIN } };
        while (p[0].fd >= 0 || p[1].fd >= 0) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        int k = capture_read(p[i].fd, i == 0 ? &co : &ce);
                        if (k <= 0)
                                p[i].fd = -1;
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = negative_errno();
                        goto finish;
                }
        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (ret_stdout)
                *ret_stdout = co.buf ?: strdup("");
        else
                free(co.buf);
        if (ret_stderr)
                *ret_stderr = ce.buf ?: strdup("");
        else
                free(ce.buf);
        co.buf = ce.buf = NULL;
        r = 0;
finish:
        safe_close(out[0]);
        safe_close(out[1]);
        safe_close(err[0]);
        safe_close(err[1]);
        free(co.buf);
        free(ce.buf);
        return r;
}
