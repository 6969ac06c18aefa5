/* SPDX-License-Identifier: MIT */
/* create, delete, list, start, stop: the schedule files are the truth, the
 * timers follow from them (the generator), and every change is written under
 * a lock on the configuration directory, atomically, then the manager is
 * reloaded. */
#include <ctype.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "archive-list.h"
#include "calendar.h"
#include "ctl.h"
#include "dpkg-db.h"
#include "deleted.h"
#include "events.h"
#include "fileio.h"
#include "format-util.h"
#include "log.h"
#include "mounts.h"
#include "manager.h"
#include "path-util.h"
#include "record.h"
#include "state.h"
#include "unexpected.h"
#include "units.h"

static char *schedule_file(const char *name) {
        char *file, *path;
        if (asprintf(&file, "%s.conf", name) < 0)
                return NULL;
        path = path_join(paths.schedules_dir, file);
        free(file);
        return path;
}

/* The service may write only inside its destination, so it must exist
 * before the run: create makes it, and `prepare` before every run of the
 * service (hand-written schedules, a destination removed since). Not on
 * the disk underneath one that is not mounted: the run will fail saying
 * so, and a directory there would hide it. */
static int make_destination(const Schedule *s) {
        _cleanup_free_ char *unmounted = NULL;
        if (mounts_check_path("Destination", s->destination, &unmounted) < 0) {
                log_warning("%s", unmounted ?: "The destination is on a disk that is not mounted.");
                return 0;
        }
        return mkdir_p(s->destination, 0700);
}

/* prepare NAME: what alexandria@NAME.service runs before the worker,
 * outside its sandbox (ExecStartPre=-+): systemd can grant ReadWritePaths=
 * only to a directory that exists, and a sandboxed reload cannot make one. */
int verb_prepare(int argc, char **argv) {
        const Schedule *s;
        char field[128];
        int r;

        if (ctl_find_valid_schedule(&ctx.schedules, argv[1], &s) < 0)
                return EXIT_USAGE;
        /* what we log belongs to the schedule's history */
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", s->name);
        log_set_context_field(field);
        r = make_destination(s);
        if (r < 0) {
                log_error_errno(r, "Cannot create destination %s of schedule %s: %m", s->destination, s->name);
                return EXIT_FAILED;
        }
        return EXIT_OK;
}

#define TIMER_START_WAIT_USEC (10 * USEC_PER_SEC)

static uint64_t usec_until(uint64_t deadline) {
        uint64_t now = now_monotonic_usec();
        return deadline > now ? deadline - now : 0;
}

/* The schedule files are the truth: reload the manager (the generator runs),
 * start the timer of every enabled schedule, and stop every other
 * alexandria-*.timer (disabled, deleted or broken schedules). */
static int sync_manager(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *own_bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(schedule_dir_done) ScheduleDir d = {};
        _cleanup_strv_free_ char **wanted = NULL, **loaded = NULL;
        int r, ret = 0;

        if (arg.no_reload)
                return 0;
        /* Read again: this is what the generator will see after the change. */
        r = ctl_load_schedules(&d);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d.n; i++) {
                const Schedule *s = d.entries[i].schedule;
                char timer[UNIT_NAME_MAX];
                if (!s || !s->enabled)
                        continue;
                /* (The service creates its destination before each run:
                 * `prepare`, so a sandboxed reload needs no write access.) */
                if (strv_extend(&wanted, unit_name_timer(timer, s->name)) < 0)
                        return log_oom();
        }

        sd_bus *bus = ctx.bus;
        if (!bus) {
                r = manager_connect(arg.user, &own_bus);
                if (r < 0)
                        return r;
                bus = own_bus;
        }
        r = manager_reload(bus, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot reload the systemd manager: %s", bus_error_text(&error, r));

        /* one budget for all of them: a pending time-sync.target holds every timer */
        uint64_t wait_until = now_monotonic_usec() + TIMER_START_WAIT_USEC;
        STRV_FOREACH(t, wanted) {
                _cleanup_free_ char *sub = NULL;
                sd_bus_error_free(&error);
                /* A timer whose calendar had no further elapse (a date that
                 * has passed) is "elapsed": the reload does not arm it for a
                 * new calendar, and starting an active unit does nothing. A
                 * restart computes the next elapse anew (from the trigger
                 * stamp with Persistent=yes, so nothing runs twice). */
                _cleanup_free_ char *result = NULL;
                if (manager_get_string(bus, *t, "Unit", "SubState", &sub, NULL) >= 0 && streq(sub, "elapsed"))
                        r = manager_restart_unit(bus, *t, &error);
                else
                        /* Waited for, a while: when create returns, its timer
                         * is active (the manager may run a queued job after
                         * answering the next caller's question). A timer waits
                         * for time-sync.target, which may take long. */
                        r = manager_start_unit(bus, *t, usec_until(wait_until), NULL, NULL, &result, &error);
                if (r == -ETIME)
                        log_warning("%s is not active yet: its start job waits (for time-sync.target?).", *t);
                else if (r < 0)
                        ret = log_error_errno(r, "Cannot start %s: %s", *t, bus_error_text(&error, r));
                else if (result && !streq(result, "done"))
                        ret = log_error_errno(-EIO, "Cannot start %s: its job ended '%s'.", *t, result);
        }

        sd_bus_error_free(&error);
        r = manager_list_units(bus, "alexandria-*.timer", &loaded, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot list timers: %s", bus_error_text(&error, r));
        STRV_FOREACH(t, loaded) {
                if (strv_contains(wanted, *t) || streq(*t, "alexandria-watchdog.timer"))
                        continue;
                sd_bus_error_free(&error);
                r = manager_stop_unit(bus, *t, &error);
                /* a timer unloaded since the listing (a reload by the path unit) is stopped */
                if (r < 0 && !sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
                        ret = log_error_errno(r, "Cannot stop %s: %s", *t, bus_error_text(&error, r));
                /* A timer whose file vanished under it is "failed"; forget it. */
                (void) manager_reset_failed(bus, *t, NULL);
        }
        return ret;
}

int verb_reload(int argc, char **argv) {
        return sync_manager() < 0 ? EXIT_FAILED : EXIT_OK;
}

/* One assignment of the long form, VALUE checked under the option's own
 * name: the message must name what the user typed. */
static int add_assignment(char ***assignments, const char *option, const char *key, const char *value, char **ret_error) {
        int r = schedule_value_check(option, value, ret_error);
        if (r < 0)
                return r;
        char *a;
        if (asprintf(&a, "%s=%s", key, value) < 0)
                return -ENOMEM;
        return strv_push(assignments, a);
}

/* The long form goes through the very key parsers that read schedule
 * files, as the short form does: both are validated by one piece of code. */
static int schedule_from_options(const char *name, Schedule **ret, char **ret_error) {
        _cleanup_strv_free_ char **assignments = NULL;
        int r;

        if (!arg.on_calendar || !arg.sources) {
                *ret_error = strdup("create NAME needs --on-calendar EXPR and at least one --source PATH "
                                    "(or use the short form PATH;HH:MM;NAME)");
                return -EINVAL;
        }

        r = add_assignment(&assignments, "--on-calendar", "OnCalendar", arg.on_calendar, ret_error);
        STRV_FOREACH(p, arg.sources) {
                _cleanup_free_ char *abs = NULL;
                if (r < 0)
                        return r;
                if (**p == 0) {
                        *ret_error = strdup("--source is empty");
                        return -EINVAL;
                }
                /* As typed first: resolving the path would hide a trailing space. */
                r = schedule_value_check("--source", *p, ret_error);
                if (r >= 0)
                        r = path_make_absolute_cwd(*p, &abs);
                if (r >= 0)
                        r = add_assignment(&assignments, "--source", "Source", abs, ret_error);
        }
        STRV_FOREACH(p, arg.excludes)
                if (r >= 0)
                        r = add_assignment(&assignments, "--exclude", "Exclude", *p, ret_error);
        if (r >= 0 && arg.destination) {
                _cleanup_free_ char *abs = NULL;
                r = schedule_value_check("--dest", arg.destination, ret_error);
                if (r >= 0 && arg.destination[0])
                        r = path_make_absolute_cwd(arg.destination, &abs);
                if (r >= 0)
                        r = add_assignment(&assignments, "--dest", "Destination", abs ?: "", ret_error);
        }
        if (r >= 0 && arg.compression)
                r = add_assignment(&assignments, "--compression", "Compression", arg.compression, ret_error);
        if (r >= 0 && arg.keep)
                r = add_assignment(&assignments, "--keep", "Keep", arg.keep, ret_error);
        if (r >= 0 && arg.skip_packaged)
                r = add_assignment(&assignments, "--skip-packaged", "SkipPackaged", "yes", ret_error);
        if (r >= 0 && arg.verify_packaged)
                r = add_assignment(&assignments, "--verify-packaged", "VerifyPackaged", "yes", ret_error);
        STRV_FOREACH(p, arg.expects)
                if (r >= 0)
                        r = add_assignment(&assignments, "--expect", "Expect", *p, ret_error);
        STRV_FOREACH(c, arg.copy_to)
                if (r >= 0)
                        r = add_assignment(&assignments, "--copy-to", "CopyTo", *c, ret_error);
        if (r >= 0 && arg.copy_keep)
                r = add_assignment(&assignments, "--copy-keep", "CopyKeep", arg.copy_keep, ret_error);
        STRV_FOREACH(p, arg.dump)
                if (r >= 0)
                        r = add_assignment(&assignments, "--dump", "Dump", *p, ret_error);
        STRV_FOREACH(p, arg.lock_files)
                if (r >= 0)
                        r = add_assignment(&assignments, "--lock-file", "LockFile", *p, ret_error);
        if (r < 0)
                return r;

        _cleanup_free_ char *origin = NULL;
        if (asprintf(&origin, "Invalid schedule '%s'", name) < 0)
                return -ENOMEM;
        return schedule_from_assignments(name, assignments, origin, paths.default_destination, ret, ret_error);
}

int verb_create(int argc, char **argv) {
        _cleanup_schedule_free_ Schedule *s = NULL;
        _cleanup_free_ char *error = NULL, *path = NULL, *text = NULL, *line = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        const char *what = argv[1];
        int r;

        if (strchr(what, ';')) {
                if (arg.on_calendar || arg.sources || arg.excludes || arg.destination || arg.compression || arg.keep ||
                    arg.skip_packaged || arg.verify_packaged || arg.expects || arg.dump || arg.lock_files ||
                    arg.copy_to || arg.copy_keep) {
                        log_error("The short form PATH;HH:MM;NAME takes no options; use 'create NAME --on-calendar … --source …'.");
                        return EXIT_USAGE;
                }
                r = schedule_from_spec(what, paths.default_destination, &s, &error);
        } else
                r = schedule_from_options(what, &s, &error);
        if (r < 0) {
                if (r == -ENOMEM)
                        return log_oom(), EXIT_FAILED;
                log_error("%s", error ?: strerror(-r));
                return exit_code_for(r);
        }

        r = schedule_check_sources(s, &error);
        if (r >= 0)
                r = schedule_check_commands(s, &error);
        if (r == -ENOMEM)
                return log_oom(), EXIT_FAILED;
        if (r < 0) {
                log_error("Refusing schedule '%s': %s", s->name, error);
                return EXIT_USAGE;
        }

        /* Without dpkg nothing tells what a reinstall gives back: refuse
         * rather than back up everything (or nothing) by surprise. */
        if (s->skip_packaged) {
                r = dpkg_db_check_present(NULL, &error);
                if (r < 0) {
                        log_error("Refusing schedule '%s': SkipPackaged=yes needs dpkg's database: %s", s->name, error);
                        return EXIT_USAGE;
                }
        }

        r = schedule_check_group(s, &error);
        if (r < 0) {
                log_error("Refusing schedule '%s': %s", s->name, error);
                return EXIT_USAGE;
        }

        r = calendar_check(s->on_calendar, NULL, &error);
        if (r == -EINVAL) {
                log_error("Refusing schedule '%s': invalid OnCalendar=%s: %s", s->name, s->on_calendar, error);
                return EXIT_USAGE;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot check the calendar expression with systemd-analyze: %m");
                return EXIT_FAILED;
        }

        r = ctl_lock_config(&lock_fd);
        if (r < 0)
                return exit_code_for(r);
        path = schedule_file(s->name);
        if (!path)
                return log_oom(), EXIT_FAILED;

        /* Never over an existing file, whoever put it there and when. */
        r = schedule_to_string(s, &text);
        if (r < 0)
                return log_oom(), EXIT_FAILED;
        r = write_file_atomic_full(path, text, strlen(text), schedule_file_mode(s), false);
        if (r == -EEXIST) {
                log_error("Schedule '%s' already exists (%s); delete it first, or edit the file.", s->name, path);
                return EXIT_USAGE;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot write %s: %m", path);
                return EXIT_FAILED;
        }

        r = make_destination(s);
        if (r < 0) {
                log_error_errno(r, "Cannot create destination %s: %m", s->destination);
                if (unlink(path) < 0)
                        log_error_errno(negative_errno(), "Cannot remove %s again: %m", path);
                return EXIT_FAILED;
        }

        r = schedule_format_line(s, paths.default_destination, &line);
        if (r < 0)
                return log_oom(), EXIT_FAILED;
        EventFields f = EVENT_FIELDS_INIT(s->name);
        (void) event_emit(EVENT_SCHEDULE_CREATED, &f, "Schedule %s created: %s", s->name, line);

        r = sync_manager();
        printf("Created schedule %s: %s\n", s->name, line);
        if (r < 0) {
                log_error("The schedule is saved in %s, but its timer is not active yet; "
                          "run '%s start %s' once systemd is reachable.", path, program_invocation_short_name, s->name);
                return EXIT_FAILED;
        }
        return EXIT_OK;
}

/* ---- delete ---------------------------------------------------------------- */

typedef struct ArchiveSet {
        ArchiveInfo *a;
        size_t n;
} ArchiveSet;

static void archive_set_done(ArchiveSet *set) {
        archive_list_free(set->a, set->n);
        *set = (ArchiveSet) {};
}

/* delete --archives asks first, unless --yes: on a terminal it shows what
 * goes and waits for "yes"; anywhere else it refuses (-EINVAL), so that a
 * script never removes archives by accident. -ECANCELED: the answer was no. */
static int confirm_archive_removal(const Schedule *s, const ArchiveSet *set, bool live) {
        _cleanup_free_ char *line = NULL;
        char total_s[FORMAT_BYTES_MAX];
        uint64_t total = 0;
        size_t size = 0;

        if (arg.yes || set->n == 0)
                return 0;
        if (!isatty(STDIN_FILENO)) {
                log_error("delete --archives would remove %s%zu archive%s of %s in %s; confirm with --yes. Nothing was changed.",
                          live ? "the schedule and " : "", set->n, set->n == 1 ? "" : "s", s->name, s->destination);
                return -EINVAL;
        }
        for (size_t i = 0; i < set->n; i++) {
                printf("  %s\n", set->a[i].path);
                total += set->a[i].size;
        }
        printf("Delete %s%s and %s %zu archive%s (%s)? Type 'yes' to confirm: ", live ? "schedule " : "what is left of schedule ",
               s->name, live ? "its" : "the", set->n, set->n == 1 ? "" : "s", format_bytes(total_s, total));
        fflush(stdout);
        ssize_t k = getline(&line, &size, stdin);
        if (k > 0 && line[k - 1] == '\n')
                line[k - 1] = 0;
        if (k < 0 || !streq(line, "yes")) {
                printf("Nothing deleted.\n");
                return -ECANCELED;
        }
        return 0;
}

/* The lock a run of S holds while it writes (see the worker): taken so that
 * no run writes while its archives go. -EBUSY: a run holds it. */
static int lock_runs(const Schedule *s, int dest_fd, char **ret_lock_name, int *ret_fd) {
        _cleanup_free_ char *lock_name = NULL;
        if (asprintf(&lock_name, ".alexandria-%s.lock", s->name) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = openat(dest_fd, lock_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
        *ret_lock_name = TAKE_PTR(lock_name);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Removes the archives of SET, partial ones an interrupted run left, and
 * the run lock (nothing runs this schedule any more). Returns how many
 * archives could not be removed, having said why. */
static size_t remove_archives(const Schedule *s, int dest_fd, const ArchiveSet *set, const char *lock_name) {
        size_t failed = 0;

        for (size_t i = 0; i < set->n; i++)
                if (unlinkat(dest_fd, set->a[i].filename, 0) < 0 && errno != ENOENT) {
                        log_error_errno(negative_errno(), "Cannot remove %s: %m", set->a[i].path);
                        failed++;
                }
        _cleanup_closedir_ DIR *dir = fdopendir(fcntl(dest_fd, F_DUPFD_CLOEXEC, 3));
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
                _cleanup_free_ char *owner = NULL;
                if (archive_temporary_name_parse(de->d_name, &owner) && streq(owner, s->name))
                        (void) unlinkat(dest_fd, de->d_name, 0);
        }
        (void) unlinkat(dest_fd, lock_name, 0);
        (void) fsync_directory(dest_fd);
        return failed;
}

/* delete NAME: the schedule file goes, its timer stops; its archives stay,
 * and a tombstone remembers where (deleted.h). delete NAME --archives: the
 * archives go too, also for a schedule deleted before. */
/* delete --archives: no run of S may be writing or just finishing (its
 * record and notifications come after the archive), and the destination
 * must be the real one, not the directory under a disk that is not mounted
 * (its archives would look gone, and their history would be forgotten).
 * Takes the run lock, when the destination exists. Logs why not. */
static int lock_for_removal(const Schedule *s, int *ret_dest_fd, char **ret_lock_name, int *ret_lock_fd) {
        _cleanup_free_ char *unmounted = NULL;
        int r;

        if (mounts_check_path("Destination", s->destination, &unmounted) < 0) {
                log_error("%s Nothing was changed.", unmounted ?: "The destination is on a disk that is not mounted.");
                return -ENOTCONN;
        }
        if (ctx.bus) {
                _cleanup_free_ char *state = NULL;
                char unit[UNIT_NAME_MAX];
                if (manager_get_string(ctx.bus, unit_name_service(unit, s->name), "Unit", "ActiveState", &state, NULL) >= 0 &&
                    !streq(state, "inactive") && !streq(state, "failed")) {
                        log_error("%s is %s; nothing was changed. Try again when it has finished.", unit, state);
                        return -EBUSY;
                }
        }
        _cleanup_close_ int dest_fd = open(s->destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dest_fd < 0) {
                if (errno == ENOENT)
                        return 0;       /* never made: no archives, no run writing */
                return log_error_errno(negative_errno(), "Cannot open %s: %m", s->destination);
        }
        r = lock_runs(s, dest_fd, ret_lock_name, ret_lock_fd);
        if (r == -EBUSY) {
                log_error("A run of %s is writing an archive right now; nothing was changed. Try again "
                          "when it has finished.", s->name);
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot lock %s/.alexandria-%s.lock: %m", s->destination, s->name);
        *ret_dest_fd = TAKE_FD(dest_fd);
        return 0;
}

/* delete --archives: with the archives goes what was said about them, so
 * that a new schedule of the same name starts afresh (ShrinkWarn= must not
 * compare it with the old one's runs). The journal keeps its entries; the
 * copy ledger stays, as the copies on the targets do. */
static void forget_history(const char *name) {
        /* after a notify that holds it: what it writes would come back */
        _cleanup_close_ int state_fd = -EBADF;
        (void) state_lock(paths.state_dir, name, &state_fd);
        int r = record_forget(paths.state_dir, name);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the run records of %s in %s/runs: %m", name, paths.state_dir);
        r = unexpected_forget(paths.state_dir, name);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the list of unexpected files of %s in %s: %m", name, paths.state_dir);
        r = state_forget(paths.state_dir, name);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the state of %s in %s: %m", name, paths.state_dir);
}

int verb_delete(int argc, char **argv) {
        _cleanup_(deleted_schedules_done) DeletedSchedules gone = {};
        _cleanup_(archive_set_done) ArchiveSet set = {};
        _cleanup_close_ int dest_fd = -EBADF, run_lock_fd = -EBADF;
        _cleanup_free_ char *name = NULL, *run_lock_name = NULL;
        const ScheduleEntry *e = NULL;
        const Schedule *s;
        int r;

        if (deleted_schedules_load(&paths, &ctx.schedules, &gone) < 0)
                return log_oom(), EXIT_FAILED;
        const Schedule *dead = deleted_schedules_find_arg(&gone, &ctx.schedules, argv[1]);
        if (dead && !arg.archives) {
                log_error("Schedule '%s' is already deleted; its archives stay in %s ('%s delete %s --archives' removes them).",
                          dead->name, dead->destination, program_invocation_short_name, dead->name);
                return EXIT_USAGE;
        }
        if (dead)
                s = dead;
        else {
                r = ctl_find_schedule(&ctx.schedules, argv[1], &e);
                if (r < 0)
                        return EXIT_USAGE;
                s = e->schedule;
                if (arg.archives && !s) {
                        log_error("Where the archives of %s are is unknown: %s. Correct the file, or delete the schedule "
                                  "without --archives.", e->name, e->error ?: strerror(-e->error_code));
                        return EXIT_USAGE;
                }
        }
        name = strdup(e ? e->name : dead->name);
        if (!name)
                return log_oom(), EXIT_FAILED;

        /* --archives: what is listed, confirmed and removed is what the
         * destination holds while no run can add to it */
        if (arg.archives) {
                r = lock_for_removal(s, &dest_fd, &run_lock_name, &run_lock_fd);
                if (r < 0)
                        return r == -EBUSY ? EXIT_BUSY : EXIT_FAILED;
        }
        if (s) {
                r = archive_list(s->destination, s->name, &set.a, &set.n);
                if (r < 0 && arg.archives) {
                        log_error_errno(r, "Cannot list the archives of %s in %s: %m", s->name, s->destination);
                        return EXIT_FAILED;
                }
        }
        if (arg.archives) {
                r = confirm_archive_removal(s, &set, e);
                if (r < 0)
                        return r == -ECANCELED ? EXIT_FAILED : EXIT_USAGE;
        }

        if (e) {
                /* Stop the timer first: a schedule that is gone must not fire once more,
                 * even if the reload below fails. */
                if (ctx.bus) {
                        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                        char timer[UNIT_NAME_MAX];
                        r = manager_stop_unit(ctx.bus, unit_name_timer(timer, name), &error);
                        if (r < 0 && !sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit")) {
                                log_error_errno(r, "Cannot stop %s: %s", timer, bus_error_text(&error, r));
                                return EXIT_FAILED;
                        }
                }

                /* Archives that stay must stay findable, with their key file. */
                if (s && !arg.archives && set.n > 0) {
                        _cleanup_free_ char *text = NULL;
                        r = read_file_full(e->path, 65536, &text);
                        if (r >= 0)
                                r = deleted_schedule_remember(&paths, name, text);
                        if (r < 0)
                                log_warning_errno(r, "Cannot keep a copy of %s in %s/deleted (backups will list its "
                                                  "archives only while they lie in a destination in use): %m",
                                                  e->path, paths.state_dir);
                }

                if (unlink(e->path) < 0) {
                        log_error_errno(negative_errno(), "Cannot remove %s: %m", e->path);
                        return EXIT_FAILED;
                }
                _cleanup_close_ int dir_fd = open(paths.schedules_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dir_fd >= 0)
                        (void) fsync_directory(dir_fd);
        }
        /* a schedule that no longer runs must not look alive (or dead) to the exporter */
        (void) ctl_remove_metrics(name);

        size_t failed = 0;
        if (arg.archives) {
                if (dest_fd >= 0)
                        failed = remove_archives(s, dest_fd, &set, run_lock_name);
                if (failed == 0 && (r = deleted_schedule_forget(&paths, name)) < 0)
                        log_warning_errno(r, "Cannot remove the record of deleted schedule %s in %s/deleted: %m",
                                          name, paths.state_dir);
                if (failed == 0)
                        forget_history(name);
        }

        EventFields f = EVENT_FIELDS_INIT(name);
        if (!arg.archives)
                (void) event_emit(EVENT_SCHEDULE_DELETED, &f, "Schedule %s deleted; its archives are kept.", name);
        else
                (void) event_emit(EVENT_SCHEDULE_DELETED, &f, "Schedule %s deleted%s; %zu of its archives removed (delete --archives).",
                                  name, e ? "" : " before", set.n - failed);

        r = e ? sync_manager() : 0;
        if (!arg.archives)
                printf("Deleted schedule %s.%s%s%s\n", name, s ? " Its archives stay in " : "", s ? s->destination : "", s ? "." : "");
        else if (e)
                printf("Deleted schedule %s and %zu archive%s.\n", name, set.n - failed, set.n - failed == 1 ? "" : "s");
        else
                printf("Removed %zu archive%s of deleted schedule %s.\n", set.n - failed, set.n - failed == 1 ? "" : "s", name);
        return r < 0 || failed > 0 ? EXIT_FAILED : EXIT_OK;
}

int verb_list(int argc, char **argv) {
        const ScheduleDir *d = &ctx.schedules;

        for (size_t i = 0; i < d->n; i++) {
                const ScheduleEntry *e = &d->entries[i];
                _cleanup_free_ char *line = NULL, *b1 = NULL, *b2 = NULL;
                /* A file name can hold any byte; the schedule's own values are checked. */
                if (!e->schedule) {
                        printf("%zu: %s (invalid: %s)\n", i, ctl_printable(e->name, &b1),
                               ctl_printable(e->error ?: strerror(-e->error_code), &b2));
                        continue;
                }
                if (schedule_format_line(e->schedule, paths.default_destination, &line) < 0)
                        return log_oom(), EXIT_FAILED;
                printf("%zu: %s\n", i, ctl_printable(line, &b1));
        }
        return EXIT_OK;
}

/* Sets Enabled= in the file text, keeping everything else (comments, order,
 * hand formatting) as it was. */
static int set_enabled_in_text(const char *text, bool enabled, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        bool in_schedule = false, done = false;
        _cleanup_fclose_ FILE *f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;

        for (const char *p = text; *p;) {
                size_t n = strcspn(p, "\n");
                const char *s = p;
                while (s < p + n && isspace((unsigned char) *s))
                        s++;
                if (*s == '[') {
                        if (in_schedule && !done) {
                                fprintf(f, "Enabled=%s\n", enabled ? "yes" : "no");
                                done = true;
                        }
                        in_schedule = strncmp(s, "[Schedule]", 10) == 0;
                }
                if (in_schedule && !done && strncmp(s, "Enabled", 7) == 0 &&
                    strspn(s + 7, " \t") + 7 < n && s[7 + strspn(s + 7, " \t")] == '=') {
                        fprintf(f, "Enabled=%s\n", enabled ? "yes" : "no");
                        done = true;
                } else
                        fprintf(f, "%.*s\n", (int) n, p);
                p += n;
                if (*p == '\n')
                        p++;
        }
        if (!done)
                fprintf(f, "%sEnabled=%s\n", in_schedule ? "" : "[Schedule]\n", enabled ? "yes" : "no");
        if (fflush(f) != 0)
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(out);
        return 0;
}

static int set_enabled(int argc, char **argv, bool enabled) {
        const ScheduleDir *d = &ctx.schedules;
        _cleanup_strv_free_ char **names = NULL;
        int r, ret = EXIT_OK;

        /* Resolve every name before changing anything: a typo changes nothing. */
        if (argc > 1)
                for (int i = 1; i < argc; i++) {
                        const Schedule *s;
                        if (ctl_find_valid_schedule(d, argv[i], &s) < 0)
                                return EXIT_USAGE;
                        if (strv_extend(&names, s->name) < 0)
                                return log_oom(), EXIT_FAILED;
                }
        else
                for (size_t i = 0; i < d->n; i++)
                        if (d->entries[i].schedule && strv_extend(&names, d->entries[i].name) < 0)
                                return log_oom(), EXIT_FAILED;

        STRV_FOREACH(n, names) {
                const ScheduleEntry *e = schedule_dir_find(d, *n);
                _cleanup_free_ char *text = NULL, *edited = NULL, *error = NULL;
                _cleanup_schedule_free_ Schedule *check = NULL;

                if (e->schedule->enabled != enabled) {
                        struct stat st;
                        r = stat(e->path, &st) < 0 ? negative_errno() : 0;
                        if (r >= 0)
                                r = read_file_full(e->path, 65536, &text);
                        if (r >= 0)
                                r = set_enabled_in_text(text, enabled, &edited);
                        if (r >= 0)
                                r = schedule_parse_string(edited, *n, e->path, paths.default_destination, &check, &error);
                        /* Never readable by more than before, and not by others at all with a secret in it. */
                        if (r >= 0)
                                r = write_file_atomic(e->path, edited, (st.st_mode & 0644 & schedule_file_mode(check)) | 0600);
                        if (r < 0) {
                                log_error("Cannot set Enabled=%s in %s: %s", enabled ? "yes" : "no", e->path,
                                          error ?: strerror(-r));
                                ret = EXIT_FAILED;
                                continue;
                        }
                }
                EventFields f = EVENT_FIELDS_INIT(*n);
                (void) event_emit(enabled ? EVENT_SCHEDULE_ENABLED : EVENT_SCHEDULE_DISABLED, &f,
                                  "Schedule %s %s.", *n, enabled ? "enabled" : "disabled");
        }

        if (sync_manager() < 0)
                ret = EXIT_FAILED;
        STRV_FOREACH(n, names)
                printf("%s %s.\n", enabled ? "Started" : "Stopped", *n);
        return ret;
}

int verb_start(int argc, char **argv) {
        return set_enabled(argc, argv, true);
}

int verb_stop(int argc, char **argv) {
        return set_enabled(argc, argv, false);
}
