/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-target.h"
#include "fileio.h"
#include "metrics.h"
#include "path-util.h"

/* A label value: backslash and quote escaped (targets may hold them). */
static void put_label(FILE *f, const char *v) {
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', f);
                fputc(*v == '\n' ? ' ' : *v, f);
        }
}

/* One series per CopyTo= target of S: METRIC{schedule=,target=} VALUE(target's state). */
static void put_copy_series(FILE *f, const Schedule *s, const ScheduleState *state, const char *metric, const char *help,
                            uint64_t (*value)(const CopyState *c)) {
        fprintf(f, "# HELP alexandria_%s %s\n# TYPE alexandria_%s gauge\n", metric, help, metric);
        STRV_FOREACH(spec, s->copy_to) {
                _cleanup_copy_target_free_ CopyTarget *t = NULL;
                _cleanup_free_ char *error = NULL;
                const CopyState *c = state ? state_copy_find(state, *spec) : NULL;
                fprintf(f, "alexandria_%s{schedule=\"%s\",target=\"", metric, s->name);
                put_label(f, copy_target_parse(*spec, &t, &error) >= 0 ? t->display : "?");
                fprintf(f, "\"} %" PRIu64 "\n", c ? value(c) : 0);
        }
}

static uint64_t copy_last_success(const CopyState *c) {
        return c->last_good_usec / USEC_PER_SEC;
}

static uint64_t copy_failed(const CopyState *c) {
        return c->failed_usec > 0;
}

static void put_copy_metrics(FILE *f, const Schedule *s, const ScheduleState *state) {
        if (!s->copy_to)
                return;
        put_copy_series(f, s, state, "copy_last_success_timestamp_seconds",
                        "Time of the last copy that left a CopyTo= target complete (0: never).", copy_last_success);
        put_copy_series(f, s, state, "copy_failed", "1 if the last copy to a CopyTo= target failed.", copy_failed);
}

static char *metrics_path(const char *dir, const char *name) {
        _cleanup_free_ char *file = NULL;
        if (asprintf(&file, "alexandria_%s.prom", name) < 0)
                return NULL;
        return path_join(dir, file);
}

int metrics_write_full(const char *dir, const Schedule *s, const LastRun *last, bool overdue, const ScheduleState *state) {
        const char *name = s->name;
        _cleanup_free_ char *text = NULL, *path = NULL;
        size_t size = 0;
        int r;

        _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        bool ran = last->kind != _EVENT_INVALID;
        int status = !ran ? -1 : last->kind == EVENT_RUN_SUCCEEDED ? 0 : last->kind == EVENT_RUN_WARNINGS ? 3 : 1;

#define METRIC(metric, type, help, fmt, value)                                                  \
        fprintf(f, "# HELP alexandria_" metric " " help "\n# TYPE alexandria_" metric " " type "\n" \
                "alexandria_" metric "{schedule=\"%s\"} " fmt "\n", name, value)
        /* Names are [A-Za-z0-9_.-]: nothing to escape in a label value. */
        METRIC("last_success_timestamp_seconds", "gauge", "Time of the last run that wrote an archive (0: never).",
               "%" PRIu64, last->last_success_usec / USEC_PER_SEC);
        METRIC("last_run_timestamp_seconds", "gauge", "Time the last run ended (0: never).",
               "%" PRIu64, last->time_usec / USEC_PER_SEC);
        METRIC("last_exit_status", "gauge", "Exit status of the last run: 0 ok, 1 failed, 3 warnings (-1: never ran).",
               "%d", status);
        METRIC("last_duration_seconds", "gauge", "Duration of the last run.",
               "%.3f", (double) last->duration_usec / USEC_PER_SEC);
        METRIC("last_archive_bytes", "gauge", "Size of the last archive written.",
               "%" PRIu64, last->archive_bytes);
        METRIC("last_files", "gauge", "Entries in the last archive written.",
               "%" PRIu64, last->files);
        METRIC("last_warnings", "gauge", "Files the last run could not store as they were.",
               "%" PRIu64, last->warnings);
        METRIC("overdue", "gauge", "1 if no archive came within 1.5 periods of the schedule.",
               "%d", overdue ? 1 : 0);
#undef METRIC
        put_copy_metrics(f, s, state);
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;

        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        if (!(path = metrics_path(dir, name)))
                return -ENOMEM;
        return write_file_atomic(path, text, 0644);
}

int metrics_remove(const char *dir, const char *name) {
        _cleanup_free_ char *path = metrics_path(dir, name);
        if (!path)
                return -ENOMEM;
        return unlink_if_present(path);
}

/* NAME from alexandria_NAME.prom, in BUF; NULL if FILE is not one of ours. */
static const char *metrics_file_schedule(const char *file, char *buf, size_t size) {
        const char *prefix = "alexandria_", *suffix = ".prom";
        size_t n = strlen(file);
        if (!startswith(file, prefix) || n <= strlen(prefix) + strlen(suffix) || !endswith(file, suffix))
                return NULL;
        size_t len = n - strlen(prefix) - strlen(suffix);
        if (len >= size)
                return NULL;
        memcpy(buf, file + strlen(prefix), len);
        buf[len] = '\0';
        return schedule_name_is_valid(buf) ? buf : NULL;
}

int metrics_prune(const char *dir, const char *schedules_dir, unsigned *ret_removed) {
        *ret_removed = 0;
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_close_ int sched_fd = open(schedules_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sched_fd < 0)       /* without the directory, every file would look orphaned: keep them */
                return errno == ENOENT ? 0 : -errno;

        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                char name[256], conf[300];
                struct stat st;
                if (!metrics_file_schedule(de->d_name, name, sizeof name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
                    st.st_uid != geteuid())
                        continue;
                snprintf(conf, sizeof conf, "%s.conf", name);
                if (faccessat(sched_fd, conf, F_OK, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        return -errno;
                (*ret_removed)++;
        }
        return errno > 0 ? -errno : 0;
}
