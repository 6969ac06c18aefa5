/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "format-util.h"
#include "locks.h"

char *lock_holder_describe(int fd) {
        _cleanup_fclose_ FILE *f = fopen("/proc/locks", "re");
        char line[256];
        struct stat st;

        if (!f || fstat(fd, &st) < 0)
                return NULL;
        /* "1: FLOCK  ADVISORY  WRITE 1234 08:02:131090 0 EOF"; "1: -> FLOCK …" is a waiter */
        while (fgets(line, sizeof line, f)) {
                char type[16], access[16], kind[16];
                unsigned maj, min;
                unsigned long long ino;
                int pid;
                if (strstr(line, "->"))
                        continue;
                if (sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%llu", type, kind, access, &pid, &maj, &min, &ino) != 7)
                        continue;
                if (maj != major(st.st_dev) || min != minor(st.st_dev) || ino != (unsigned long long) st.st_ino)
                        continue;

                char comm[64] = "", path[64];
                snprintf(path, sizeof path, "/proc/%d/comm", pid);
                _cleanup_fclose_ FILE *c = pid > 0 ? fopen(path, "re") : NULL;
                bool gone = pid > 0 && !c && errno == ENOENT;
                if (c && fgets(comm, sizeof comm, c))
                        comm[strcspn(comm, "\n")] = 0;
                char *s = NULL;
                const char *what = streq(access, "READ") ? "a shared" : "an exclusive";
                const char *lock = streq(type, "FLOCK") ? "flock" : streq(type, "POSIX") ? "POSIX record lock" : "lock";
                /* a flock belongs to an open file description: the pid that
                 * took it may have exited, leaving it to whoever shares it */
                int k = pid <= 0 ? asprintf(&s, "a process outside this PID namespace holds %s %s", what, lock) :
                        *comm ? asprintf(&s, "pid %d (%s) holds %s %s", pid, comm, what, lock) :
                        gone ? asprintf(&s, "%s %s taken by pid %d, which has exited, is held by a process that shares its descriptor",
                                        what, lock, pid) :
                        asprintf(&s, "pid %d holds %s %s", pid, what, lock);
                if (k < 0)
                        return NULL;
                return s;
        }
        return NULL;
}

/* A blocking flock(2) cannot time out without signals, and a library must
 * not play with the caller's signals. flock locks belong to the open file
 * description, which a forked child shares: the child blocks in flock(),
 * the lock it gets is ours, and on timeout the child is simply killed. */
static int flock_wait(int fd, int operation, uint64_t deadline) {
        if (flock(fd, operation | LOCK_NB) >= 0)
                return 0;
        if (errno != EWOULDBLOCK)
                return negative_errno();
        if (deadline == 0)
                return -ETIMEDOUT;

        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                while (flock(fd, operation) < 0)
                        if (errno != EINTR)
                                _exit(1);
                _exit(0);
        }
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        int r = -ETIMEDOUT;
        for (;;) {
                siginfo_t si = {};
                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG) >= 0 && si.si_pid == pid) {
                        r = si.si_code == CLD_EXITED && si.si_status == 0 ? 0 : -EIO;
                        break;
                }
                uint64_t now = now_monotonic_usec();
                if (now >= deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        break;
                }
                uint64_t left_ms = (deadline - now) / 1000 + 1;
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                if (pidfd >= 0)
                        (void) poll(&p, 1, (int) MIN(left_ms, (uint64_t) 1000));
                else
                        (void) poll(NULL, 0, (int) MIN(left_ms, (uint64_t) 50));
        }
        return r;
}

int locks_acquire(const ScheduleLock *locks, size_t n, uint64_t timeout_usec, LockSet *ret, char **ret_error) {
        _cleanup_(locks_release) LockSet set = {};
        uint64_t deadline = timeout_usec == UINT64_MAX ? UINT64_MAX : now_monotonic_usec() + timeout_usec;
        int r;

        if (timeout_usec == 0)
                deadline = 0;
        if (n > 0) {
                set.fds = calloc(n, sizeof *set.fds);
                if (!set.fds)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                const ScheduleLock *l = &locks[i];
                /* O_RDONLY is enough for flock; O_NONBLOCK: a FIFO there must not hang us */
                int fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0 && errno == ENOENT) {
                        r = strv_extend(&set.missing, l->path);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (fd < 0)
                        return errorf(ret_error, negative_errno(), "LockFile=%s: cannot open it: %m", l->path);
                set.fds[set.n++] = fd;

                r = flock_wait(fd, l->shared ? LOCK_SH : LOCK_EX, deadline);
                if (r == -ETIMEDOUT) {
                        _cleanup_free_ char *holder = lock_holder_describe(fd);
                        char t[FORMAT_DURATION_MAX];
                        return errorf(ret_error, r, "LockFile=%s%s: still locked after %s (LockTimeoutSec=)%s%s",
                                      l->path, l->shared ? ":shared" : "", format_duration(t, timeout_usec),
                                      holder ? ": " : "; /proc/locks does not say by whom", strempty(holder));
                }
                if (r < 0)
                        return errorf(ret_error, r, "LockFile=%s: cannot lock it: %m", l->path);
        }
        *ret = set;
        set = (LockSet) {};
        return 0;
}

void locks_release(LockSet *set) {
        for (size_t i = 0; i < set->n; i++)
                safe_close(set->fds[i]);
        free(set->fds);
        strv_free(set->missing);
        *set = (LockSet) {};
}
