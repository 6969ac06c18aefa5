/* SPDX-License-Identifier: MIT */
/*
 * alexandria-generator: schedules.d/NAME.conf → alexandria-NAME.timer, a
 * timers.target.wants/ link when Enabled=yes, and a drop-in for
 * alexandria@NAME.service (ReadWritePaths= the destination; the network
 * and :local: targets when CopyTo= is set).
 *
 * It follows systemd.generator(7): no bus, no waiting, writes only below
 * its output directory, and one bad schedule is logged and skipped without
 * failing the others. Values reach unit files only after the schedule
 * parser validated them, and every one, paths included (the schedules
 * directory comes from the environment), is written escaped for the
 * directive it lands in, or the schedule is skipped (escape.h).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "copy-target.h"
#include "escape.h"
#include "fileio.h"
#include "format-util.h"
#include "locations.h"
#include "log.h"
#include "path-util.h"
#include "schedule-dir.h"
#include "units.h"

#define DROPIN_NAME "50-alexandria.conf"

static int write_unit_file(int dir_fd, const char *name, const char *contents) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return negative_errno();
        int r = loop_write(fd, contents, strlen(contents));
        if (r < 0)
                return r;
        return close(TAKE_FD(fd)) < 0 ? negative_errno() : 0;
}

/* Every value a unit gets, escaped for its setting; *ret_error says which
 * one cannot be written at all. */
typedef struct UnitValues {
        char *source_path;      /* SourcePath=, the schedule file */
        char *on_calendar;
        char **sources;         /* quoted words of RequiresMountsFor= */
        char *destination;      /* one quoted word of ReadWritePaths= and RequiresMountsFor= */
        char *key_file;         /* after "LoadCredential=alexandria.key:" */
        char **local_targets;   /* quoted words of ReadWritePaths=: the rclone :local: targets */
        bool network;           /* CopyTo= is set */
        bool chown;             /* DestinationGroup= is set */
} UnitValues;

static void unit_values_done(UnitValues *v) {
        free(v->source_path);
        free(v->on_calendar);
        strv_free(v->sources);
        free(v->destination);
        free(v->key_file);
        strv_free(v->local_targets);
}

static int escape_value(const char *what, const char *value, bool quoted, char **ret, char **ret_error) {
        const char *problem = unit_value_problem(value, quoted);
        if (problem) {
                _cleanup_free_ char *shown = text_escape(value);
                return errorf(ret_error, -EINVAL, "%s '%s' cannot be written into a unit: %s", what, strempty(shown), problem);
        }
        *ret = quoted ? unit_escape_quoted(value) : unit_escape_specifiers(value);
        return *ret ? 0 : -ENOMEM;
}

static int unit_values(const Schedule *s, UnitValues *ret, char **ret_error) {
        UnitValues v = {};
        int r;

        r = escape_value("its file name", s->path, false, &v.source_path, ret_error);
        if (r >= 0)
                r = escape_value("OnCalendar=", s->on_calendar, false, &v.on_calendar, ret_error);
        STRV_FOREACH(p, s->sources) {
                char *word = NULL;
                if (r >= 0)
                        r = escape_value("Source=", *p, true, &word, ret_error);
                if (r >= 0)
                        r = strv_push(&v.sources, word);
        }
        if (r >= 0)
                r = escape_value("Destination=", s->destination, true, &v.destination, ret_error);
        if (r >= 0 && s->encryption)
                r = escape_value("KeyFile=", s->key_file, false, &v.key_file, ret_error);
        /* an rclone :local: target is a directory the copy writes */
        STRV_FOREACH(spec, s->copy_to) {
                _cleanup_copy_target_free_ CopyTarget *c = NULL;
                _cleanup_free_ char *error = NULL;
                char *word = NULL;
                if (r < 0 || copy_target_parse(*spec, &c, &error) < 0 || c->kind != COPY_RCLONE || !streq(c->remote, ":local:"))
                        continue;
                r = escape_value("A CopyTo= :local: directory", c->remote_path, true, &word, ret_error);
                if (r >= 0)
                        r = strv_push(&v.local_targets, word);
        }
        v.network = s->copy_to != NULL;
        v.chown = s->destination_group != NULL;
        if (r < 0) {
                unit_values_done(&v);
                return r;
        }
        *ret = v;
        return 0;
}

/* Builds a text in memory; every write is checked once at the end. */
static int text_finish(FILE *f, char **buf) {
        int r = fflush(f) != 0 || ferror(f) ? -ENOMEM : 0;
        fclose(f);
        if (r < 0) {
                free(*buf);
                *buf = NULL;
        }
        return r;
}

static int timer_text(const Schedule *s, const UnitValues *v, const char *service, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                "# Generated by alexandria-generator from the schedule below. Edit the schedule, not this file.\n"
                "[Unit]\n"
                "Description=Alexandria backup schedule %s\n"
                "Documentation=man:alexandria.schedule(5) man:alexandria-ctl(1)\n"
                "SourcePath=%s\n"
                "\n"
                "[Timer]\n"
                "OnCalendar=%s\n"
                "Persistent=%s\n"
                "RandomizedDelaySec=%llu\n"
                "AccuracySec=1s\n"
                "Unit=%s\n",
                s->name, v->source_path, v->on_calendar,
                s->persistent ? "yes" : "no",
                (unsigned long long) s->randomized_delay_sec,
                service);
        int r = text_finish(f, &buf);
        *ret = buf;
        return r;
}

/* The service instance's drop-in: where it may write, and its key. */
static int dropin_text(const UnitValues *v, bool user, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# Generated by alexandria-generator.\n[Unit]\nSourcePath=%s\n", v->source_path);
        if (!user) {
                /* systemd mounts what the run reads and writes first, and the
                 * run fails loudly when it cannot: never a backup of the empty
                 * directory under a disk that did not mount. */
                STRV_FOREACH(p, v->sources)
                        fprintf(f, "RequiresMountsFor=%s\n", *p);
                fprintf(f, "RequiresMountsFor=%s\n", v->destination);
        }
        fputs("\n[Service]\n", f);
        if (!user) {
                /* "-": a missing destination fails in the worker with a clear message,
                 * not in the namespace setup with an obscure one. */
                fprintf(f, "ReadWritePaths=-%s\n", v->destination);
                /* The key reaches the worker as a credential: readable by this
                 * service alone, never copied to disk by systemd. */
                if (v->key_file)
                        fprintf(f, "LoadCredential=alexandria.key:%s\n", v->key_file);
                /* CopyTo=: rsync, ssh and rclone reach the network (name
                 * lookups need netlink). Schedules without it stay off it. */
                if (v->network)
                        fputs("RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK\n", f);
                STRV_FOREACH(p, v->local_targets)
                        fprintf(f, "ReadWritePaths=-%s\n", *p);
                /* DestinationGroup=: giving files to a group root is not in
                 * needs CAP_CHOWN and fchown(2), which ~@privileged denies */
                if (v->chown)
                        fputs("CapabilityBoundingSet=CAP_CHOWN\nSystemCallFilter=@chown\n", f);
        }
        int r = text_finish(f, &buf);
        *ret = buf;
        return r;
}

/* The drop-in first, then the timer, then the link: a timer never fires a
 * service without its sandbox settings, and a failure leaves neither. */
static int generate_one(int out_fd, const Schedule *s, bool user, char **ret_error) {
        _cleanup_(unit_values_done) UnitValues v = {};
        _cleanup_free_ char *dropin_dir = NULL, *timer_contents = NULL, *dropin_contents = NULL;
        char timer[UNIT_NAME_MAX], service[UNIT_NAME_MAX];
        int r;

        unit_name_timer(timer, s->name);
        unit_name_service(service, s->name);

        r = unit_values(s, &v, ret_error);
        if (r < 0)
                return r;
        r = timer_text(s, &v, service, &timer_contents);
        if (r >= 0)
                r = dropin_text(&v, user, &dropin_contents);
        if (r < 0)
                return r;

        if (asprintf(&dropin_dir, "%s.d", service) < 0)
                return -ENOMEM;
        if (mkdirat(out_fd, dropin_dir, 0755) < 0 && errno != EEXIST)
                return errorf(ret_error, negative_errno(), "cannot create %s: %m", dropin_dir);
        _cleanup_close_ int dropin_fd = openat(out_fd, dropin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dropin_fd < 0)
                return errorf(ret_error, negative_errno(), "cannot open %s: %m", dropin_dir);
        r = write_unit_file(dropin_fd, DROPIN_NAME, dropin_contents);
        if (r < 0) {
                (void) unlinkat(dropin_fd, DROPIN_NAME, 0);
                return errorf(ret_error, r, "cannot write %s/%s: %s", dropin_dir, DROPIN_NAME, strerror(-r));
        }

        r = write_unit_file(out_fd, timer, timer_contents);
        if (r < 0) {
                (void) unlinkat(out_fd, timer, 0);
                (void) unlinkat(dropin_fd, DROPIN_NAME, 0);
                (void) unlinkat(out_fd, dropin_dir, AT_REMOVEDIR);
                return errorf(ret_error, r, "cannot write %s: %s", timer, strerror(-r));
        }

        if (s->enabled) {
                _cleanup_free_ char *target = NULL, *link = NULL;
                if (mkdirat(out_fd, "timers.target.wants", 0755) < 0 && errno != EEXIST)
                        return errorf(ret_error, negative_errno(), "cannot create timers.target.wants: %m");
                if (asprintf(&target, "../%s", timer) < 0 || asprintf(&link, "timers.target.wants/%s", timer) < 0)
                        return -ENOMEM;
                if (symlinkat(target, out_fd, link) < 0 && errno != EEXIST)
                        return errorf(ret_error, negative_errno(), "cannot link %s: %m", link);
        }
        return 0;
}

/* Our own units are wanted wherever timers are, as soon as Alexandria is
 * installed: the path unit that applies hand edits without a command, and
 * the hourly watchdog. A static link shipped in the unit directory would
 * need `systemctl enable`; this needs nothing. */
static int want_own_units(int out_fd, bool user) {
        static const char *const units[] = { "alexandria-update.path", "alexandria-watchdog.timer" };
        if (mkdirat(out_fd, "timers.target.wants", 0755) < 0 && errno != EEXIST)
                return negative_errno();
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                _cleanup_free_ char *target = NULL, *link = NULL;
                target = path_join(user ? ALEXANDRIA_USER_UNIT_DIR : ALEXANDRIA_SYSTEM_UNIT_DIR, units[i]);
                link = path_join("timers.target.wants", units[i]);
                if (!target || !link)
                        return -ENOMEM;
                if (symlinkat(target, out_fd, link) < 0 && errno != EEXIST)
                        return negative_errno();
        }
        return 0;
}

static bool is_user_scope(void) {
        const char *scope = getenv("SYSTEMD_SCOPE");
        if (scope)
                return streq(scope, "user");
        return geteuid() != 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(schedule_dir_done) ScheduleDir d = {};
        _cleanup_(paths_done) Paths paths = {};
        bool user = is_user_scope();
        int r;

        if (argc > 1 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                printf("Usage: %s NORMAL-DIR [EARLY-DIR LATE-DIR]\n\n"
                       "systemd generator: turns Alexandria schedules into timers.\n"
                       "systemd runs it at boot and on daemon-reload; see alexandria-generator(8).\n",
                       program_invocation_short_name);
                return 0;
        }
        if (argc != 2 && argc != 4)
                return log_error_errno(-EINVAL, "Expected one or three output directories, got %d.", argc - 1);

        r = paths_init(user, NULL, &paths);
        if (r < 0)
                return log_error_errno(r, "Cannot determine the schedules directory: %m");

        _cleanup_close_ int out_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (out_fd < 0)
                return log_error_errno(negative_errno(), "Cannot open output directory %s: %m", argv[1]);

        r = want_own_units(out_fd, user);
        if (r < 0)
                log_error_errno(r, "Cannot link Alexandria's own units into timers.target.wants: %m");

        _cleanup_free_ char *error = NULL;
        r = schedule_dir_load(paths.schedules_dir, paths.default_destination, paths.owner, &d, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot read the schedules: %s", error ?: strerror(-r));

        for (size_t i = 0; i < d.n; i++) {
                const ScheduleEntry *e = &d.entries[i];
                _cleanup_free_ char *why = NULL;
                if (!e->schedule) {
                        log_error("Skipping schedule %s: %s", e->name, e->error ?: strerror(-e->error_code));
                        continue;
                }
                r = generate_one(out_fd, e->schedule, user, &why);
                if (r < 0)
                        log_error("Skipping schedule %s: %s", e->name, why ?: strerror(-r));
        }
        return 0;
}

int main(int argc, char *argv[]) {
        /* stderr of a generator may go nowhere: log to the journal when it
         * runs, unless asked for the console as systemd's own generators are
         * (SYSTEMD_LOG_TARGET=console, e.g. to try it by hand). */
        log_setup(streq_ptr(getenv("SYSTEMD_LOG_TARGET"), "console") ? LOG_TARGET_STDERR : LOG_TARGET_JOURNAL);
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
