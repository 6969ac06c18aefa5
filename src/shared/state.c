/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>

#include "fileio.h"
#include "path-util.h"
#include "state.h"

static char *state_path(const char *dir, const char *name) {
        _cleanup_free_ char *file = NULL;
        if (asprintf(&file, "%s.state", name) < 0)
                return NULL;
        return path_join(dir, file);
}

int state_forget(const char *dir, const char *name) {
        _cleanup_free_ char *path = state_path(dir, name);
        if (!path)
                return -ENOMEM;
        return unlink_if_present(path);
}

int state_lock(const char *dir, const char *name, int *ret_fd) {
        _cleanup_free_ char *file = NULL, *path = NULL;
        int r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        if (asprintf(&file, "%s.lock", name) < 0 || !(path = path_join(dir, file)))
                return -ENOMEM;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX) < 0) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int state_load(const char *dir, const char *name, ScheduleState *ret) {
        _cleanup_free_ char *path = state_path(dir, name), *text = NULL;
        ScheduleState s = {};
        CopyState *c = NULL;           /* the copy_target= block being read */
        int r;

        if (!path)
                return -ENOMEM;
        r = read_file_full(path, 65536, &text);
        if (r == -ENOENT) {
                *ret = s;
                return 0;
        }
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                const char *v;
                if ((v = startswith(line, "reported=")))
                        free(s.reported), s.reported = strdup(v);
                else if ((v = startswith(line, "notify_error=")))
                        free(s.notify_error), s.notify_error = strdup(v);
                else if ((v = startswith(line, "notify_error_usec=")))
                        s.notify_error_usec = strtoull(v, NULL, 10);
                else if ((v = startswith(line, "unexpected_notified=")))
                        free(s.unexpected_notified), s.unexpected_notified = strdup(v);
                else if ((v = startswith(line, "copy_target=")))
                        c = state_copy(&s, v);
                else if (c && (v = startswith(line, "copy_last_good_usec=")))
                        c->last_good_usec = strtoull(v, NULL, 10);
                else if (c && (v = startswith(line, "copy_failed_usec=")))
                        c->failed_usec = strtoull(v, NULL, 10);
                else if (c && (v = startswith(line, "copy_error=")))
                        free(c->error), c->error = strdup(v);
        }
        *ret = s;
        return 0;
}

int state_save(const char *dir, const char *name, const ScheduleState *s) {
        _cleanup_free_ char *path = state_path(dir, name), *text = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        if (asprintf(&text, "reported=%s\n%s%s%s", s->reported ?: "ok",
                     s->notify_error ? "notify_error=" : "", strempty(s->notify_error), s->notify_error ? "\n" : "") < 0)
                return -ENOMEM;
        if (s->notify_error) {
                _cleanup_free_ char *more = NULL;
                if (asprintf(&more, "%snotify_error_usec=%" PRIu64 "\n", text, s->notify_error_usec) < 0)
                        return -ENOMEM;
                free(text);
                text = TAKE_PTR(more);
        }
        if (s->unexpected_notified) {
                _cleanup_free_ char *more = NULL;
                if (asprintf(&more, "%sunexpected_notified=%s\n", text, s->unexpected_notified) < 0)
                        return -ENOMEM;
                free(text);
                text = TAKE_PTR(more);
        }
        for (size_t i = 0; i < s->n_copies; i++) {
                const CopyState *c = &s->copies[i];
                _cleanup_free_ char *more = NULL;
                if (asprintf(&more, "%scopy_target=%s\ncopy_last_good_usec=%" PRIu64 "\ncopy_failed_usec=%" PRIu64 "\n%s%s%s",
                             text, c->target, c->last_good_usec, c->failed_usec,
                             c->error ? "copy_error=" : "", strempty(c->error), c->error ? "\n" : "") < 0)
                        return -ENOMEM;
                free(text);
                text = TAKE_PTR(more);
        }
        /* a message may hold anything; one line per key */
        for (char *p = text; *p; p++)
                if (*p == '\r')
                        *p = ' ';
        /* an error message may quote a PingURL, whose path is often a secret token */
        return write_file_atomic(path, text, 0600);
}

void state_done(ScheduleState *s) {
        free(s->reported);
        free(s->notify_error);
        free(s->unexpected_notified);
        for (size_t i = 0; i < s->n_copies; i++) {
                free(s->copies[i].target);
                free(s->copies[i].error);
        }
        free(s->copies);
        *s = (ScheduleState) {};
}

bool state_reported_ok(const ScheduleState *s) {
        return !s->reported || streq(s->reported, "ok");
}

const CopyState *state_copy_find(const ScheduleState *s, const char *target) {
        for (size_t i = 0; i < s->n_copies; i++)
                if (streq(s->copies[i].target, target))
                        return &s->copies[i];
        return NULL;
}

CopyState *state_copy(ScheduleState *s, const char *target) {
        CopyState *c = (CopyState *) state_copy_find(s, target);
        if (c)
                return c;
        c = reallocarray(s->copies, s->n_copies + 1, sizeof *c);
        if (!c)
                return NULL;
        s->copies = c;
        c = &s->copies[s->n_copies];
        *c = (CopyState) { .target = strdup(target) };
        if (!c->target)
                return NULL;
        s->n_copies++;
        return c;
}
