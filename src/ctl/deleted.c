/* SPDX-License-Identifier: MIT */
#include <sys/stat.h>

#include "archive-list.h"
#include "deleted.h"
#include "fileio.h"
#include "path-util.h"

typedef struct Candidate {
        Schedule *schedule;
        bool has_archives;
} Candidate;

typedef struct Candidates {
        Candidate *c;
        size_t n;
} Candidates;

static void candidates_done(Candidates *c) {
        for (size_t i = 0; i < c->n; i++)
                schedule_free(c->c[i].schedule);
        free(c->c);
        *c = (Candidates) {};
}

static Candidate *candidates_find(const Candidates *c, const char *name) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->c[i].schedule->name, name))
                        return &c->c[i];
        return NULL;
}

/* Takes S, also on failure. */
static int candidates_add(Candidates *c, Schedule *s, bool has_archives) {
        Candidate *n = reallocarray(c->c, c->n + 1, sizeof *n);
        if (!n) {
                schedule_free(s);
                return -ENOMEM;
        }
        c->c = n;
        c->c[c->n++] = (Candidate) { .schedule = s, .has_archives = has_archives };
        return 0;
}

static char *tombstone_dir(const Paths *p) {
        return path_join(p->state_dir, "deleted");
}

static int add_dir(char ***dirs, const char *dir) {
        return strv_contains(*dirs, dir) ? 0 : strv_extend(dirs, dir);
}

/* Archives in DIR of names no live schedule has: a tombstone's (if DIR is
 * its destination) or a schedule file removed by hand. */
static int scan_dir(const char *dir, const ScheduleDir *live, Candidates *c) {
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r = archive_list(dir, NULL, &list, &n);
        if (r < 0)
                return r == -ENOMEM ? r : 0;    /* an unreadable destination is reported by the schedule that uses it */
        for (size_t i = 0; i < n && r >= 0; i++) {
                const char *name = list[i].schedule;
                if (schedule_dir_find(live, name) || !schedule_name_is_valid(name))
                        continue;
                Candidate *k = candidates_find(c, name);
                if (k) {
                        if (streq(k->schedule->destination, dir))
                                k->has_archives = true;
                        continue;
                }
                Schedule *s;
                r = schedule_new(name, dir, &s);
                if (r >= 0)
                        r = candidates_add(c, s, true);
        }
        archive_list_free(list, n);
        return r;
}

static int by_name(const void *a, const void *b) {
        return strcmp((*(Schedule * const *) a)->name, (*(Schedule * const *) b)->name);
}

int deleted_schedules_load(const Paths *p, const ScheduleDir *live, DeletedSchedules *ret) {
        _cleanup_(schedule_dir_done) ScheduleDir tombs = {};
        _cleanup_strv_free_ char **dirs = NULL;
        _cleanup_free_ char *tdir = tombstone_dir(p);
        Candidates c = {};
        int r;

        if (!tdir)
                return -ENOMEM;
        /* A tombstone that cannot be read is as if there were none: its
         * archives are still found if they lie where other schedules write. */
        if (schedule_dir_load(tdir, p->default_destination, p->owner, &tombs, NULL) < 0)
                tombs = (ScheduleDir) {};
        for (size_t i = 0; i < tombs.n; i++) {
                ScheduleEntry *e = &tombs.entries[i];
                if (!e->schedule || schedule_dir_find(live, e->name))
                        continue;
                r = candidates_add(&c, TAKE_PTR(e->schedule), false);
                if (r < 0)
                        goto fail;
        }

        r = add_dir(&dirs, p->default_destination);
        for (size_t i = 0; i < live->n && r >= 0; i++)
                if (live->entries[i].schedule)
                        r = add_dir(&dirs, live->entries[i].schedule->destination);
        for (size_t i = 0; i < c.n && r >= 0; i++)
                r = add_dir(&dirs, c.c[i].schedule->destination);
        if (r < 0)
                goto fail;
        STRV_FOREACH(d, dirs) {
                r = scan_dir(*d, live, &c);
                if (r < 0)
                        goto fail;
        }

        DeletedSchedules out = {};
        out.schedules = calloc(c.n ?: 1, sizeof *out.schedules);
        if (!out.schedules) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < c.n; i++)
                if (c.c[i].has_archives)
                        out.schedules[out.n++] = TAKE_PTR(c.c[i].schedule);
        if (out.n > 1)
                qsort(out.schedules, out.n, sizeof *out.schedules, by_name);
        candidates_done(&c);
        *ret = out;
        return 0;
fail:
        candidates_done(&c);
        return r;
}

void deleted_schedules_done(DeletedSchedules *d) {
        for (size_t i = 0; i < d->n; i++)
                schedule_free(d->schedules[i]);
        free(d->schedules);
        *d = (DeletedSchedules) {};
}

const Schedule *deleted_schedules_find(const DeletedSchedules *d, const char *name) {
        for (size_t i = 0; i < d->n; i++)
                if (streq(d->schedules[i]->name, name))
                        return d->schedules[i];
        return NULL;
}

const Schedule *deleted_schedules_find_arg(const DeletedSchedules *d, const ScheduleDir *live, const char *index_or_name) {
        if (schedule_dir_find(live, index_or_name))
                return NULL;
        /* An index of list (as ctl_find_schedule() reads it) means a live schedule. */
        size_t n = strlen(index_or_name);
        if (n > 0 && n < 9 && strspn(index_or_name, "0123456789") == n && strtoul(index_or_name, NULL, 10) < live->n)
                return NULL;
        return deleted_schedules_find(d, index_or_name);
}

static char *tombstone_path(const Paths *p, const char *name) {
        _cleanup_free_ char *dir = tombstone_dir(p), *file = NULL;
        if (!dir || asprintf(&file, "%s.conf", name) < 0)
                return NULL;
        return path_join(dir, file);
}

int deleted_schedule_remember(const Paths *p, const char *name, const char *text) {
        _cleanup_free_ char *dir = tombstone_dir(p), *path = tombstone_path(p, name);
        if (!dir || !path)
                return -ENOMEM;
        int r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        return write_file_atomic(path, text, 0600);
}

int deleted_schedule_forget(const Paths *p, const char *name) {
        _cleanup_free_ char *path = tombstone_path(p, name);
        if (!path)
                return -ENOMEM;
        return unlink_if_present(path);
}
