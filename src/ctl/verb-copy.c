/* SPDX-License-Identifier: MIT */
/* copy NAME: what a run does after it linked its archive — bring every
 * CopyTo= target to hold the archives it should — now, without a new
 * backup. Under the schedule's lock, so never beside a running backup. */
#include <fcntl.h>
#include <sys/file.h>

#include "copy.h"
#include "ctl.h"
#include "log.h"

/* The lock a run holds (backup.c): the same file, the same flock. */
static int lock_schedule(const Schedule *s, int *ret_fd) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir_fd = open(s->destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return log_error_errno(negative_errno(), "Cannot open destination %s: %m", s->destination);
        if (asprintf(&name, ".alexandria-%s.lock", s->name) < 0)
                return log_oom();
        int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Cannot open lock %s/%s: %m", s->destination, name);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = errno == EWOULDBLOCK ? -EBUSY : negative_errno();
                safe_close(fd);
                if (r == -EBUSY)
                        log_error("A run of schedule '%s' is in progress (it holds %s/%s); it copies when it is done.",
                                  s->name, s->destination, name);
                else
                        log_error_errno(r, "Cannot lock %s/%s: %m", s->destination, name);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int verb_copy(int argc, char **argv) {
        _cleanup_(schedule_dir_done) ScheduleDir d = {};
        _cleanup_close_ int lock_fd = -EBADF;
        CopyResults res = {};
        const Schedule *s;
        int r;

        r = ctl_load_schedules(&d);
        if (r != EXIT_OK)
                return r;
        if (ctl_find_valid_schedule(&d, argv[1], &s) < 0)
                return EXIT_USAGE;
        if (!s->copy_to) {
                log_error("Schedule '%s' has no CopyTo= target.", s->name);
                return EXIT_USAGE;
        }
        char field[128];
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", s->name);
        log_set_context_field(field);

        r = lock_schedule(s, &lock_fd);
        if (r < 0)
                return r == -EBUSY ? EXIT_BUSY : EXIT_FAILED;

        r = copy_run(s, paths.state_dir, &res);
        for (size_t i = 0; i < res.n; i++) {
                const CopyOutcome *o = &res.targets[i];
                if (o->error < 0 && !log_on_journal())
                        /* the copy stage's event already says it in the journal */
                        log_error("Copy of %s to %s failed: %s", s->name, o->target, strempty(o->message));
                else if (o->error == 0)
                        printf("%s: %u sent, %u already there, %u removed there\n", o->target, o->sent, o->present, o->deleted);
        }
        copy_results_done(&res);
        if (r < 0 && r != -EIO)
                log_error_errno(r, "Cannot copy the archives of %s: %m", s->name);
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}
