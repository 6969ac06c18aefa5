/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>
#include <syslog.h>
#include <time.h>

#include "command-line.h"
#include "dump.h"
#include "fileio.h"
#include "format-util.h"
#include "log.h"
#include "report.h"
#include "write.h"

/* After the timeout: SIGTERM to the group, SIGKILL this much later. */
#define DUMP_KILL_GRACE_USEC (5 * USEC_PER_SEC)
#define DUMP_LINE_MAX 4096

extern char **environ;

/* Unnamed, in the destination: on the file system the archive is written
 * to, inside the one directory the service may write, and gone with the
 * last descriptor whatever happens to the run. /var/tmp only where the
 * destination cannot (NFS, CIFS); never a named file. */
static int open_spool(const DumpOptions *o, const char *entry, int *ret_fd, char **ret_error) {
        int fd = spool_open(o->spool_dir_fd);
        if (fd < 0)
                return errorf(ret_error, fd, "Cannot spool dump %s in %s (nor, where that file system has no "
                              "O_TMPFILE, in /var/tmp; a named file is never used): %s", entry, o->spool_dir, strerror(-fd));
        *ret_fd = fd;
        return 0;
}

/* One line of the command's standard error. */
static void forward_line(const char *schedule, const char *entry, const char *line, DumpResult *result) {
        if (*line == 0)
                return;
        /* the last line, cut to the record's bound on purpose */
        size_t n = strnlen(line, sizeof result->last_message - 1);
        memcpy(result->last_message, line, n);
        result->last_message[n] = 0;
        (void) sd_journal_send("MESSAGE=Dump %s: %s", entry, line,
                               "PRIORITY=%i", LOG_INFO,
                               "SYSLOG_IDENTIFIER=alexandria",
                               "ALEXANDRIA_SCHEDULE=%s", schedule,
                               "ALEXANDRIA_DUMP=%s", entry,
                               NULL);
        if (!log_on_journal())
                fprintf(stderr, "%s: %s\n", entry, line);
}

typedef struct LineBuffer {
        char buf[DUMP_LINE_MAX + 1];
        size_t n;
} LineBuffer;

/* Reads what there is; returns 0 at EOF, 1 if more may come. */
static int forward_stderr(int fd, LineBuffer *lb, const char *schedule, const char *entry, DumpResult *result) {
        char tmp[4096];
        ssize_t k = read(fd, tmp, sizeof tmp);
        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : 0;
        if (k == 0) {
                lb->buf[lb->n] = 0;
                forward_line(schedule, entry, lb->buf, result);
                lb->n = 0;
                return 0;
        }
        for (ssize_t i = 0; i < k; i++) {
                char c = tmp[i];
                if (c == '\n' || lb->n == DUMP_LINE_MAX) {
                        if (lb->n > 0 && lb->buf[lb->n - 1] == '\r')
                                lb->n--;
                        lb->buf[lb->n] = 0;
                        forward_line(schedule, entry, lb->buf, result);
                        lb->n = 0;
                        if (c == '\n')
                                continue;
                }
                lb->buf[lb->n++] = c == 0 ? ' ' : c;
        }
        return 1;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static _noreturn_ void child(const char *path, char **argv, int spool_fd, int stderr_fd, int exec_error_fd, pid_t parent) {
        int e;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(127);
        (void) setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        /* systemd ignores SIGPIPE for services; a dump must get the default */
        (void) signal(SIGPIPE, SIG_DFL);

        int null = open("/dev/null", O_RDONLY | O_NOCTTY);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(spool_fd, STDOUT_FILENO) < 0 ||
            dup2(stderr_fd, STDERR_FILENO) < 0 || chdir("/") < 0)
                goto fail;
        /* Nothing of ours but the three may reach the dump. */
        (void) close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        execve(path, argv, environ);
fail:
        e = errno;
        (void) !write(exec_error_fd, &e, sizeof e);
        _exit(127);
}

static void kill_group(pid_t pgid, int sig) {
        (void) kill(-pgid, sig);
}

int dump_run(const ScheduleDump *d, const DumpOptions *o, DumpResult *ret, char **ret_error) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int spool = -EBADF, err_r = -EBADF, err_w = -EBADF, exec_r = -EBADF, exec_w = -EBADF, pidfd = -EBADF;
        DumpResult result = { .entry = d->entry, .fd = -EBADF };
        uint64_t start = now_monotonic_usec();
        int r;

        r = command_find(d->argv[0], &path);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                errno = -r;
                return errorf(ret_error, r, "Dump %s: cannot run '%s': %m", d->entry, d->argv[0]);
        }
        r = open_spool(o, d->entry, &spool, ret_error);
        if (r < 0)
                return r;

        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return errorf(ret_error, negative_errno(), "Dump %s: cannot create a pipe: %m", d->entry);
        err_r = p[0], err_w = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                return errorf(ret_error, negative_errno(), "Dump %s: cannot create a pipe: %m", d->entry);
        exec_r = p[0], exec_w = p[1];

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return errorf(ret_error, negative_errno(), "Dump %s: cannot fork: %m", d->entry);
        if (pid == 0)
                child(path, d->argv, spool, err_w, exec_w, parent);
        /* The parent sets the group too, so that a kill right after fork reaches it. */
        (void) setpgid(pid, pid);
        err_w = safe_close(err_w);
        exec_w = safe_close(exec_w);

        int exec_errno = 0;
        ssize_t k;
        while ((k = read(exec_r, &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
                ;
        if (k == (ssize_t) sizeof exec_errno) {
                (void) waitpid(pid, NULL, 0);
                errno = exec_errno;
                return errorf(ret_error, -exec_errno, "Dump %s: cannot execute %s: %m", d->entry, path);
        }

        pidfd = pidfd_open(pid, 0);
        (void) fcntl(err_r, F_SETFL, O_NONBLOCK);

        uint64_t deadline = o->timeout_usec > 0 ? start + o->timeout_usec : UINT64_MAX, kill_at = UINT64_MAX;
        bool timed_out = false, exited = false, stderr_open = true;
        LineBuffer lb = { .n = 0 };
        siginfo_t si = {};

        while (!exited) {
                uint64_t now = now_monotonic_usec();
                if (!timed_out && now >= deadline) {
                        timed_out = true;
                        kill_group(pid, SIGTERM);
                        kill_at = now + DUMP_KILL_GRACE_USEC;
                } else if (timed_out && now >= kill_at) {
                        kill_group(pid, SIGKILL);
                        kill_at = UINT64_MAX;
                }
                uint64_t until = timed_out ? kill_at : deadline;
                int wait_ms = until == UINT64_MAX ? -1 : (int) MIN((until - MIN(until, now)) / 1000 + 1, (uint64_t) 1000);
                if (pidfd < 0)          /* no pidfd: look at the child every 100 ms */
                        wait_ms = wait_ms < 0 ? 100 : MIN(wait_ms, 100);

                struct pollfd fds[2] = {
                        { .fd = stderr_open ? err_r : -1, .events = POLLIN },
                        { .fd = pidfd, .events = POLLIN },
                };
                if (poll(fds, 2, wait_ms) < 0 && errno != EINTR) {
                        r = negative_errno();
                        kill_group(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        errno = -r;
                        return errorf(ret_error, r, "Dump %s: cannot wait for it: %m", d->entry);
                }
                if (stderr_open && fds[0].revents)
                        stderr_open = forward_stderr(err_r, &lb, o->schedule, d->entry, &result) > 0;

                /* WNOWAIT: the zombie keeps its pid, and so the group's id, ours until reaped */
                si = (siginfo_t) {};
                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) >= 0 && si.si_pid == pid)
                        exited = true;
        }
        /* Whatever the command left running must not write into the spool
         * after its size is taken, nor hold our stderr pipe open. */
        kill_group(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        for (uint64_t until = now_monotonic_usec() + USEC_PER_SEC; stderr_open && now_monotonic_usec() < until;) {
                struct pollfd f = { .fd = err_r, .events = POLLIN };
                if (poll(&f, 1, 100) > 0)
                        stderr_open = forward_stderr(err_r, &lb, o->schedule, d->entry, &result) > 0;
        }
        if (lb.n > 0) {
                lb.buf[lb.n] = 0;
                forward_line(o->schedule, d->entry, lb.buf, &result);
        }

        struct stat st;
        if (fstat(spool, &st) < 0)
                return errorf(ret_error, negative_errno(), "Dump %s: cannot stat its spool: %m", d->entry);

        result.end = timed_out ? DUMP_TIMED_OUT : si.si_code == CLD_EXITED ? DUMP_EXITED : DUMP_KILLED;
        result.status = si.si_status;
        result.size = (uint64_t) st.st_size;
        result.duration_usec = now_monotonic_usec() - start;
        result.timeout_usec = o->timeout_usec;
        result.finished_realtime_usec = now_realtime_usec();
        result.fd = TAKE_FD(spool);
        *ret = result;
        return 0;
}

bool dump_result_failed(const DumpResult *r, const ScheduleDump *d, char **ret_error) {
        char how[128];
        const char *name = strrchr(d->argv[0], '/');
        name = name ? name + 1 : d->argv[0];

        switch (r->end) {
        case DUMP_EXITED:
                if (r->status == 0)
                        return false;
                snprintf(how, sizeof how, "exited with status %d", r->status);
                break;
        case DUMP_KILLED:
                snprintf(how, sizeof how, "was killed by signal SIG%s", sigabbrev_np(r->status) ?: "?");
                break;
        case DUMP_TIMED_OUT: {
                char t[FORMAT_DURATION_MAX];
                snprintf(how, sizeof how, "did not finish within %s (DumpTimeoutSec=) and was killed",
                         format_duration(t, r->timeout_usec));
                break;
        }
        }
        if (ret_error && asprintf(ret_error, "Dump %s (%s) %s%s%s", d->entry, name, how,
                                  *r->last_message ? "; its last message: " : "", r->last_message) < 0)
                *ret_error = NULL;
        return true;
}

void dump_result_done(DumpResult *r) {
        r->fd = safe_close(r->fd);
}

int dumps_run_all(const Schedule *s, int spool_dir_fd, void (*on_start)(const char *entry, void *userdata),
                  void *userdata, DumpSet *ret, char **ret_error) {
        DumpOptions o = {
                .schedule = s->name,
                .spool_dir_fd = spool_dir_fd,
                .spool_dir = s->destination,
                .timeout_usec = s->dump_timeout_sec == SCHEDULE_TIMEOUT_INFINITY ? 0 : s->dump_timeout_sec * USEC_PER_SEC,
        };
        DumpSet set = {};
        int r = 0;

        if (s->n_dumps == 0) {
                *ret = set;
                return 0;
        }
        set.results = calloc(s->n_dumps, sizeof *set.results);
        if (!set.results)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_dumps; i++) {
                if (on_start)
                        on_start(s->dumps[i].entry, userdata);
                r = dump_run(&s->dumps[i], &o, &set.results[set.n], ret_error);
                if (r < 0)
                        break;
                if (dump_result_failed(&set.results[set.n], &s->dumps[i], ret_error)) {
                        dump_result_done(&set.results[set.n]);
                        r = *ret_error ? -EPROTO : -ENOMEM;
                        break;
                }
                set.n++;
        }
        if (r < 0) {
                dump_set_done(&set);
                return r;
        }
        *ret = set;
        return 0;
}

int dumps_store(DumpSet *set, ArchiveWriter *w, RunReport *report, char **ret_error) {
        int r;

        for (size_t i = 0; i < set->n; i++) {
                DumpResult *d = &set->results[i];
                _cleanup_free_ char *name = NULL;

                if (asprintf(&name, SCHEDULE_DUMPS_DIR "/%s", d->entry) < 0)
                        return -ENOMEM;
                /* the dump's writes moved the shared offset to its end */
                if (lseek(d->fd, 0, SEEK_SET) < 0)
                        return errorf(ret_error, negative_errno(), "Dump %s: cannot rewind its spool: %m", d->entry);
                if (d->size == 0)
                        report_warning(report, name, "Dump %s wrote nothing; the archive holds it as an empty %s", d->entry, name);
                r = archive_writer_add_stream(w, name, 0600, d->finished_realtime_usec / USEC_PER_SEC, d->fd, d->size, ret_error);
                if (r < 0)
                        return r;
                dump_result_done(d);
        }
        return 0;
}

void dump_set_done(DumpSet *set) {
        for (size_t i = 0; i < set->n; i++)
                dump_result_done(&set->results[i]);
        free(set->results);
        *set = (DumpSet) {};
}
