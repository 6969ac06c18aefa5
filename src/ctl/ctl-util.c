/* SPDX-License-Identifier: MIT */
/* Helpers that several verbs use: finding schedules, the lock on the
 * schedules directory, keys, notifications and metrics, and printing names
 * that may hold any byte. */
#include <ctype.h>
#include <fcntl.h>
#include <sys/file.h>

#include "archive-read.h"
#include "ctl.h"
#include "escape.h"
#include "format-util.h"
#include "history.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "notify.h"
#include "path-util.h"
#include "settings.h"
#include "state.h"
#include "trust.h"

int exit_code_for(int r) {
        switch (r) {
        case -EINVAL: case -ENOENT: case -EEXIST: case -E2BIG: case -ERANGE:
        case -ENAMETOOLONG: case -EPERM: case -ENOTDIR: case -ELOOP:
        case -EBADFD: case -EISDIR: case -EFBIG:        /* not a trusted regular file (trust.h) */
                return EXIT_USAGE;
        default:
                return r < 0 ? EXIT_FAILED : EXIT_OK;
        }
}

int ctl_load_schedules(ScheduleDir *ret) {
        _cleanup_free_ char *error = NULL;
        int r = schedule_dir_load(paths.schedules_dir, paths.default_destination, paths.owner, ret, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Cannot read the schedules: %s", error ?: strerror(-r));
        return 0;
}

int ctl_find_schedule(const ScheduleDir *d, const char *index_or_name, const ScheduleEntry **ret) {
        /* A name wins over an index: a schedule may well be called "1". */
        const ScheduleEntry *e = schedule_dir_find(d, index_or_name);

        if (!e && isdigit((unsigned char) index_or_name[0]) &&
            strspn(index_or_name, "0123456789") == strlen(index_or_name) && strlen(index_or_name) < 9) {
                unsigned long i = strtoul(index_or_name, NULL, 10);
                if (i < d->n)
                        e = &d->entries[i];
        }
        if (!e) {
                log_error("No schedule '%s' in %s (see '%s list').", index_or_name, paths.schedules_dir,
                          program_invocation_short_name);
                return -ENOENT;
        }
        *ret = e;
        return 0;
}

int ctl_find_valid_schedule(const ScheduleDir *d, const char *index_or_name, const Schedule **ret) {
        const ScheduleEntry *e;
        int r = ctl_find_schedule(d, index_or_name, &e);
        if (r < 0)
                return r;
        if (!e->schedule) {
                log_error("%s", e->error ?: strerror(-e->error_code));
                return -EINVAL;
        }
        *ret = e->schedule;
        return 0;
}

/* The kernel drops the lock when we exit. */
int ctl_lock_config(int *ret_fd) {
        _cleanup_free_ char *error = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        /* Nothing is written into a directory that is not trusted: checked
         * before it is created in its parent, and on what was opened. */
        r = schedule_dir_check_trust(paths.schedules_dir, paths.owner, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error ?: strerror(-r));
        r = mkdir_p(paths.schedules_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s: %m", paths.schedules_dir);
        fd = open(paths.schedules_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Cannot open %s: %m", paths.schedules_dir);
        r = trusted_dir_check_fd(fd, paths.schedules_dir, paths.owner, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error ?: strerror(-r));
        if (flock(fd, LOCK_EX) < 0)
                return log_error_errno(negative_errno(), "Cannot lock %s: %m", paths.schedules_dir);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int ctl_load_key(const Schedule *s, const char *archive, CryptKeySource **ret) {
        _cleanup_free_ char *error = NULL;
        const char *path = arg.key ?: s ? s->key_file : NULL;
        int r;

        *ret = NULL;
        /* A plain archive needs no key: a broken key file must not stop it. */
        if (!path || !archive_file_is_encrypted(archive))
                return 0;
        r = crypt_key_load(path, ret, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot use key file %s: %s", path, error ?: strerror(-r));
        return 0;
}

/* Sends E and records the outcome: a failed channel must stay visible. */
int ctl_notify(const Schedule *s, NotifyEvent e, const NotifyMessage *m, ScheduleState *state) {
        _cleanup_free_ char *error = NULL;
        int r = notify_send(s, e, m, &error);

        if (r < 0) {
                log_error("Notifying about %s of %s failed: %s", notify_event_to_string(e), s->name, strempty(error));
                free(state->notify_error);
                state->notify_error = TAKE_PTR(error);
                state->notify_error_usec = now_realtime_usec();
                return r;
        }
        /* Only an event that went through every configured channel clears an
         * earlier failure: started and succeeded only ping (notify.h), and
         * must not hide a mail address that bounces or a NotifyCommand= that
         * fails until the next failure needs them. */
        bool all = (!s->notify_command && !s->mail) ||
                   e == NOTIFY_FAILED || e == NOTIFY_OVERDUE || e == NOTIFY_RECOVERED || e == NOTIFY_UNEXPECTED ||
                   (e == NOTIFY_WARNINGS && s->notify_on_warnings);
        if (all) {
                free(state->notify_error);
                state->notify_error = NULL;
                state->notify_error_usec = 0;
        }
        return r;
}

/* Where metrics go (alexandria.conf): *RET_DIR NULL when nowhere. */
static int metrics_directory(Config *c, const char **ret_dir) {
        _cleanup_free_ char *error = NULL;
        *ret_dir = NULL;
        int r = config_load(paths.config_file, paths.owner, c, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %s", paths.config_file, error ?: strerror(-r));
        *ret_dir = config_metrics_directory(c, arg.user);
        return 0;
}

int ctl_write_metrics(const Schedule *s, bool overdue) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(last_run_done) LastRun last = { .kind = _EVENT_INVALID };
        const char *dir;
        int r;

        r = metrics_directory(&c, &dir);
        if (r < 0 || !dir)
                return r;
        (void) history_last_run(paths.state_dir, s->name, &last);
        _cleanup_(state_done) ScheduleState state = {};
        (void) state_load(paths.state_dir, s->name, &state);
        r = metrics_write_full(dir, s, &last, overdue, &state);
        if (r < 0)
                return log_error_errno(r, "Cannot write metrics of %s to %s: %m", s->name, dir);
        return 0;
}

int ctl_remove_metrics(const char *name) {
        _cleanup_(config_done) Config c = {};
        const char *dir;
        int r;

        r = metrics_directory(&c, &dir);
        if (r < 0 || !dir)
                return r;
        r = metrics_remove(dir, name);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the metrics of %s from %s: %m", name, dir);
        return 0;
}

int ctl_prune_metrics(void) {
        _cleanup_(config_done) Config c = {};
        const char *dir;
        unsigned removed = 0;
        int r;

        r = metrics_directory(&c, &dir);
        if (r < 0 || !dir)
                return r;
        r = metrics_prune(dir, paths.schedules_dir, &removed);
        if (removed > 0)
                log_info("Removed the metrics of %u schedule%s no longer in %s from %s.", removed,
                         removed == 1 ? "" : "s", paths.schedules_dir, dir);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the metrics of removed schedules from %s: %m", dir);
        return 0;
}

int ctl_service_result(sd_bus *bus, const char *service, char **ret_result, int32_t *ret_status, sd_bus_error *error) {
        _cleanup_free_ char *result = NULL;
        int32_t status = 0;
        int r = manager_get_string(bus, service, "Service", "Result", &result, error);
        if (r >= 0)
                r = manager_get_i32(bus, service, "Service", "ExecMainStatus", &status, error);
        if (r < 0)
                return r;
        *ret_result = TAKE_PTR(result);
        *ret_status = status;
        return 0;
}

const char *ctl_printable(const char *s, char **buf) {
        static int tty = -1;
        if (tty < 0)
                tty = isatty(STDOUT_FILENO);
        if (!tty)
                return s;
        *buf = text_escape(s);
        return *buf ?: "?";
}
