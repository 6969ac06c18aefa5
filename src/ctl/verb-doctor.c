/* SPDX-License-Identifier: MIT */
/*
 * doctor: checks the installation and each schedule, and for every finding
 * says what is wrong and how to fix it, one line each:
 *
 *   PROBLEM: NAME/CHECK: what is wrong. FIX: what to do.
 *   WARNING: NAME/CHECK: what is wrong. FIX: what to do.
 *
 * then a summary line that says what the levels mean. A problem means
 * backups will not happen, or cannot be trusted (nobody would be told, the
 * history that says whether they worked is gone): exit 1. A warning is
 * worth knowing but stops no backup (history lost at the next reboot, a
 * partial file taking space, metrics not written): exit 0. --json prints
 * every check instead, passing ones included, as one JSON array of
 * {"schedule", "check", "ok", "level", "problem", "fix"} (level is
 * "problem" or "warning"; level, problem and fix are null for a passing
 * check). Checks that do not apply (no NotifyCommand=, no bus with
 * --no-reload, …) are left out. docs/troubleshooting.md explains every
 * check id.
 *
 * doctor only looks: it changes nothing, not even a stale temporary archive
 * (a run may be writing it right now; the worker removes stale ones itself,
 * under its lock). A disabled schedule is a problem: a disabled backup is a
 * backup that does not happen, and doctor's question is "will my backups
 * happen, and will somebody be told if not?".
 *
 * Strings reach the terminal or the JSON document escaped: in text, control
 * characters and bytes that are not UTF-8 become \xNN, so that a file name
 * in a journal message cannot move the cursor or end the line; in JSON,
 * control characters become \uXXXX and bytes that are not UTF-8 become
 * U+FFFD (the replacement character) — JSON text must be UTF-8, and \u00XX
 * would silently turn such a byte into a different, valid character.
 */
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "archive-list.h"
#include "ctl.h"
#include "escape.h"
#include "json-util.h"
#include "fileio.h"
#include "format-util.h"
#include "history.h"
#include "log.h"
#include "manager.h"
#include "overdue.h"
#include "path-util.h"
#include "record.h"
#include "settings.h"
#include "state.h"
#include "units.h"

/* What systemd's managers put in PATH for the services they start (also
 * for ExecStartPre=+, which runs NotifyCommand=), unless configured otherwise. */
#define MANAGER_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SENDMAIL_PATH "/usr/sbin/sendmail"
#define WATCHDOG_TIMER "alexandria-watchdog.timer"
/* Debian's prometheus-node-exporter, which reads METRICS_DEFAULT_DIRECTORY. */
#define NODE_EXPORTER_PATH "/usr/bin/prometheus-node-exporter"

typedef enum Level {
        LEVEL_OK,
        LEVEL_WARNING,          /* worth knowing; backups happen and can be trusted */
        LEVEL_PROBLEM,          /* backups will not happen, or cannot be trusted */
} Level;

typedef struct Check {
        const char *schedule;   /* borrowed; NULL: the installation */
        const char *id;         /* static */
        bool ok;
        Level level;
        char *problem;          /* what is wrong, for a warning too */
        char *fix;
} Check;

typedef struct Doctor {
        Check *checks;
        size_t n;
        bool oom;
        sd_bus *bus;            /* NULL: the manager cannot be asked */
        char *manager_path;     /* PATH of the manager's services */
        bool judge_access;      /* may access(2) speak for the user who runs the backups? */
} Doctor;

static void doctor_done(Doctor *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->checks[i].problem);
                free(d->checks[i].fix);
        }
        free(d->checks);
        free(d->manager_path);
        sd_bus_flush_close_unref(d->bus);
        *d = (Doctor) {};
}

static Check *add_check(Doctor *d, const char *schedule, const char *id) {
        Check *c = reallocarray(d->checks, d->n + 1, sizeof *c);
        if (!c) {
                d->oom = true;
                return NULL;
        }
        d->checks = c;
        c = &d->checks[d->n++];
        *c = (Check) { .schedule = schedule, .id = id, .ok = true };
        return c;
}

static void passed(Doctor *d, const char *schedule, const char *id) {
        (void) add_check(d, schedule, id);
}

_printf_(5, 0)
static Check *vfinding(Doctor *d, Level level, const char *schedule, const char *id, const char *format, va_list ap) {
        Check *c = add_check(d, schedule, id);

        if (!c)
                return NULL;
        c->ok = false;
        c->level = level;
        if (vasprintf(&c->problem, format, ap) < 0) {
                c->problem = NULL;
                d->oom = true;
        }
        return c;
}

/* Records a failed check; fix() then says what to do about it. */
_printf_(4, 5)
static Check *problem(Doctor *d, const char *schedule, const char *id, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        Check *c = vfinding(d, LEVEL_PROBLEM, schedule, id, format, ap);
        va_end(ap);
        return c;
}

/* The same, for what is worth knowing but stops no backup. */
_printf_(4, 5)
static Check *warning(Doctor *d, const char *schedule, const char *id, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        Check *c = vfinding(d, LEVEL_WARNING, schedule, id, format, ap);
        va_end(ap);
        return c;
}

_printf_(3, 4)
static void fix(Doctor *d, Check *c, const char *format, ...) {
        va_list ap;

        if (!c)
                return;
        va_start(ap, format);
        if (vasprintf(&c->fix, format, ap) < 0) {
                c->fix = NULL;
                d->oom = true;
        }
        va_end(ap);
}

/* ---- output --------------------------------------------------------------- */

static void print_json(const Doctor *d) {
        fputs("[\n", stdout);
        for (size_t i = 0; i < d->n; i++) {
                const Check *c = &d->checks[i];
                fputs("  {\"schedule\": ", stdout);
                json_put_string(stdout, c->schedule);
                fputs(", \"check\": ", stdout);
                json_put_string(stdout, c->id);
                printf(", \"ok\": %s, \"level\": ", c->ok ? "true" : "false");
                json_put_string(stdout, c->ok ? NULL : c->level == LEVEL_WARNING ? "warning" : "problem");
                fputs(", \"problem\": ", stdout);
                json_put_string(stdout, c->ok ? NULL : strempty(c->problem));
                fputs(", \"fix\": ", stdout);
                json_put_string(stdout, c->ok ? NULL : strempty(c->fix));
                printf("}%s\n", i + 1 < d->n ? "," : "");
        }
        fputs("]\n", stdout);
}

static void print_text(const Doctor *d) {
        size_t problems = 0, warnings = 0;

        /* Problems first: they are what to fix today. */
        for (Level level = LEVEL_PROBLEM; level >= LEVEL_WARNING; level--)
                for (size_t i = 0; i < d->n; i++) {
                        const Check *c = &d->checks[i];
                        if (c->ok || c->level != level)
                                continue;
                        if (level == LEVEL_PROBLEM)
                                problems++;
                        else
                                warnings++;
                        fputs(level == LEVEL_PROBLEM ? "PROBLEM: " : "WARNING: ", stdout);
                        if (c->schedule)
                                printf("%s/", c->schedule);
                        printf("%s: ", c->id);
                        put_text(stdout, strempty(c->problem));
                        fputs(" FIX: ", stdout);
                        put_text(stdout, strempty(c->fix));
                        putchar('\n');
                }
        size_t passed = d->n - problems - warnings;
        if (problems == 0 && warnings == 0)
                printf("No problems found (%zu checks passed).\n", passed);
        else if (problems == 0)
                printf("No problems found, %zu warning%s (%zu checks passed): backups happen and can be trusted; "
                       "the warnings are worth fixing.\n", warnings, warnings == 1 ? "" : "s", passed);
        else
                printf("%zu problem%s found, %zu warning%s (%zu check%s passed): backups will not happen or cannot "
                       "be trusted until the problems are fixed.\n", problems, problems == 1 ? "" : "s",
                       warnings, warnings == 1 ? "" : "s", passed, passed == 1 ? "" : "s");
}

/* ---- helpers -------------------------------------------------------------- */

static const char *ctl_name(void) {
        return program_invocation_short_name;
}

/* "alexandria-ctl" or "alexandria-ctl --user", for commands in fixes. */
static const char *ctl_cmd(void) {
        static char buf[128];
        snprintf(buf, sizeof buf, "%s%s", ctl_name(), arg.user ? " --user" : "");
        return buf;
}

static const char *systemctl_cmd(void) {
        return arg.user ? "systemctl --user" : "systemctl";
}

static int unit_property_strv(sd_bus *bus, const char *unit, const char *property, char ***ret) {
        _cleanup_free_ char *path = NULL;
        int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
        if (r < 0)
                return r;
        return sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit",
                                        property, NULL, ret);
}

/* PATH as the manager's services get it (its Environment= block), else
 * systemd's default. */
static char *manager_search_path(sd_bus *bus) {
        _cleanup_strv_free_ char **env = NULL;

        if (bus && sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                            "org.freedesktop.systemd1.Manager", "Environment", NULL, &env) >= 0)
                STRV_FOREACH(e, env) {
                        const char *v = startswith(*e, "PATH=");
                        if (v && *v)
                                return strdup(v);
                }
        return strdup(MANAGER_DEFAULT_PATH);
}

static bool is_executable_file(const char *path) {
        struct stat st;
        return stat(path, &st) >= 0 && S_ISREG(st.st_mode) && access(path, X_OK) >= 0;
}

/* ---- the installation ----------------------------------------------------- */

/* The configuration directory and schedules.d: whoever may write them may
 * delete, rename or add schedules, so every command refuses them (trust.h);
 * here they are reported with the fix. Returns whether they are trusted. */
static bool check_config_directories(Doctor *d) {
        const char *dirs[] = { paths.config_dir, paths.schedules_dir };
        bool trusted = true;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                struct stat st;
                Check *c;
                if (stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;       /* missing: no schedules, nothing to trust */
                if (st.st_uid != paths.owner) {
                        c = problem(d, NULL, "config-directory", "%s is owned by uid %u, not by uid %u whose backups it "
                                    "decides: no schedule in it is run, listed or checked.",
                                    dirs[i], (unsigned) st.st_uid, (unsigned) paths.owner);
                        fix(d, c, "chown %u '%s' (and check who changed it).", (unsigned) paths.owner, dirs[i]);
                        trusted = false;
                } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                        c = problem(d, NULL, "config-directory", "%s is group- or world-writable, so others could delete "
                                    "or replace schedules: no schedule in it is run, listed or checked.", dirs[i]);
                        fix(d, c, "chmod go-w '%s' (and check that its schedules are yours).", dirs[i]);
                        trusted = false;
                }
        }
        if (trusted)
                passed(d, NULL, "config-directory");
        return trusted;
}

static void check_worker(Doctor *d) {
        const char *w = ALEXANDRIA_WORKER_PATH;
        struct stat st;
        Check *c;

        if (stat(w, &st) < 0) {
                c = problem(d, NULL, "worker", "the backup worker %s cannot be found (%s): every run fails at once.",
                            w, strerror(errno));
                fix(d, c, "Reinstall Alexandria (the package, or 'meson install' from the build directory).");
        } else if (!S_ISREG(st.st_mode) || access(w, X_OK) < 0) {
                c = problem(d, NULL, "worker", "the backup worker %s is not an executable file: every run fails at once.", w);
                fix(d, c, "chmod 0755 %s, or reinstall Alexandria.", w);
        } else
                passed(d, NULL, "worker");
}

static bool glob_matches(const char *pattern) {
        glob_t g = {};
        bool found = glob(pattern, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
        globfree(&g);
        return found;
}

/* The history of runs (status, logs, doctor's own last-run check) lives in
 * the journal: it must survive a reboot. journald writes to /run/log/journal
 * until it may write to /var/log/journal (Storage=auto: the directory
 * exists, and it was flushed there after boot); it then removes the runtime
 * files. */
static void check_journal(Doctor *d) {
        struct stat st;
        bool var_dir = stat("/var/log/journal", &st) >= 0 && S_ISDIR(st.st_mode);
        bool runtime = glob_matches("/run/log/journal/*/system.journal");
        bool persistent = glob_matches("/var/log/journal/*/system.journal");
        const char *as_root = arg.user ? " (as root)" : "";
        Check *c;

        if (persistent && !runtime) {
                passed(d, NULL, "journal-persistent");
                return;
        }
        /* A journal in /run only loses the history at a reboot: the runs
         * themselves, their archives and their notifications do not depend
         * on it, so that is a warning. No journal at all is a problem:
         * status and doctor could not tell a failed run from a good one. */
        if (!var_dir) {
                c = warning(d, NULL, "journal-persistent",
                            "/var/log/journal does not exist, so journald keeps the journal in /run/log/journal only: "
                            "at every reboot the history of backup runs and failures is lost (logs, status and "
                            "doctor's last-run check then know nothing from before the boot); the backups "
                            "themselves are not affected.");
                fix(d, c, "Run%s 'mkdir -p /var/log/journal && systemd-tmpfiles --create --prefix /var/log/journal && "
                    "journalctl --flush', or set Storage=persistent in /etc/systemd/journald.conf.", as_root);
        } else if (runtime) {
                c = warning(d, NULL, "journal-persistent",
                            "journald writes to /run/log/journal, not to /var/log/journal (Storage=volatile in "
                            "journald.conf, or the journal was not flushed since boot): at the next reboot the "
                            "history of backup runs and failures is lost; the backups themselves are not affected.");
                fix(d, c, "Run%s 'journalctl --flush'; if journald stays in /run, set Storage=persistent in "
                    "/etc/systemd/journald.conf and restart systemd-journald.", as_root);
        } else {
                c = problem(d, NULL, "journal-persistent",
                            "there are no journal files in /var/log/journal or /run/log/journal (Storage=none, or "
                            "journald is not running): backup runs leave no history, so failed runs cannot be told "
                            "from good ones.");
                fix(d, c, "Set%s Storage=persistent in /etc/systemd/journald.conf and restart systemd-journald.", as_root);
        }
}

/* alexandria.conf decides where metrics go; where the node exporter is
 * installed, metrics are expected, so their absence is worth a line. */
static void check_metrics(Doctor *d) {
        _cleanup_(config_done) Config config = {};
        _cleanup_free_ char *error = NULL;
        Check *c;

        int r = config_load(paths.config_file, paths.owner, &config, &error);
        if (r < 0) {
                c = problem(d, NULL, "config", "%s is refused (%s): no run writes metrics, and each logs an error.",
                            paths.config_file, error ?: strerror(-r));
                fix(d, c, "Correct %s (owned by %s, not writable by group or others; see alexandria-ctl(1)).",
                    paths.config_file, arg.user ? "you" : "root");
                return;
        }
        if (access(paths.config_file, F_OK) >= 0)
                passed(d, NULL, "config");
        if (arg.user || !is_executable_file(NODE_EXPORTER_PATH))
                return;
        if (config_metrics_directory(&config, arg.user)) {
                passed(d, NULL, "metrics");
                return;
        }
        if (config.metrics_disabled) {
                c = warning(d, NULL, "metrics", "prometheus-node-exporter is installed, but metrics are off "
                            "(Enabled=no in %s).", paths.config_file);
                fix(d, c, "Remove Enabled=no from the [Metrics] section of %s if the exporter should serve them.",
                    paths.config_file);
        } else {
                c = warning(d, NULL, "metrics", "prometheus-node-exporter is installed, but metrics are off: %s "
                            "does not exist and %s sets no [Metrics] Directory=.", METRICS_DEFAULT_DIRECTORY,
                            paths.config_file);
                fix(d, c, "Set Directory= in the [Metrics] section of %s to the exporter's "
                    "--collector.textfile.directory (see /etc/default/prometheus-node-exporter).", paths.config_file);
        }
}

/* The hourly watchdog is what tells somebody when a schedule silently stops
 * producing archives: without it, OVERDUE is only seen by who asks. */
static void check_watchdog(Doctor *d) {
        _cleanup_free_ char *load = NULL, *active = NULL;
        Check *c;

        (void) manager_get_string(d->bus, WATCHDOG_TIMER, "Unit", "LoadState", &load, NULL);
        (void) manager_get_string(d->bus, WATCHDOG_TIMER, "Unit", "ActiveState", &active, NULL);
        if (!streq_ptr(load, "loaded")) {
                c = problem(d, NULL, "watchdog", "%s is not installed (LoadState=%s): nobody is told when backups stop coming.",
                            WATCHDOG_TIMER, load ?: "unknown");
                fix(d, c, "Reinstall Alexandria (its units belong in %s).",
                    arg.user ? ALEXANDRIA_USER_UNIT_DIR : ALEXANDRIA_SYSTEM_UNIT_DIR);
        } else if (!streq_ptr(active, "active")) {
                c = problem(d, NULL, "watchdog", "%s is %s: nobody is told when backups stop coming.",
                            WATCHDOG_TIMER, active ?: "in an unknown state");
                fix(d, c, "%s start %s (timers.target wants it after '%s reload').", systemctl_cmd(), WATCHDOG_TIMER, ctl_cmd());
        } else
                passed(d, NULL, "watchdog");
}

/* ---- one schedule --------------------------------------------------------- */

/* The timer: generated, loaded, running, and started again at boot. */
static void check_timer(Doctor *d, const Schedule *s, const Overdue *od) {
        _cleanup_free_ char *load = NULL, *active = NULL;
        _cleanup_strv_free_ char **wanted_by = NULL;
        char timer[UNIT_NAME_MAX];
        Check *c;

        unit_name_timer(timer, s->name);
        (void) manager_get_string(d->bus, timer, "Unit", "LoadState", &load, NULL);
        if (!streq_ptr(load, "loaded")) {
                if (od->calendar_error) {
                        c = problem(d, s->name, "timer-loaded", "%s is not loaded (LoadState=%s): systemd refuses OnCalendar=%s: %s.",
                                    timer, load ?: "unknown", s->on_calendar, od->calendar_error);
                        fix(d, c, "Correct OnCalendar= in %s (test it with 'systemd-analyze calendar'), then '%s reload'.",
                            s->path, ctl_cmd());
                } else {
                        c = problem(d, s->name, "timer-loaded", "%s is not loaded (LoadState=%s): the generator has not "
                                    "made it since the schedule was written, so nothing runs it.", timer, load ?: "unknown");
                        fix(d, c, "%s reload; if it stays missing, check that alexandria-generator is installed in "
                            "systemd's %s generator directory.", ctl_cmd(), arg.user ? "user" : "system");
                }
                return;
        }
        passed(d, s->name, "timer-loaded");
        if (!s->enabled)
                return;         /* "enabled" says it; a disabled timer is meant to be stopped and unwanted */

        (void) manager_get_string(d->bus, timer, "Unit", "ActiveState", &active, NULL);
        if (!streq_ptr(active, "active")) {
                c = problem(d, s->name, "timer-active", "%s is %s although the schedule is enabled: no backup is scheduled.",
                            timer, active ?: "in an unknown state");
                fix(d, c, "%s start %s", ctl_cmd(), s->name);
        } else
                passed(d, s->name, "timer-active");

        (void) unit_property_strv(d->bus, timer, "WantedBy", &wanted_by);
        if (!strv_contains(wanted_by, "timers.target")) {
                _cleanup_strv_free_ char **required_by = NULL;
                (void) unit_property_strv(d->bus, timer, "RequiredBy", &required_by);
                if (!strv_contains(required_by, "timers.target")) {
                        c = problem(d, s->name, "timer-wanted", "%s is not wanted by timers.target: it does not start "
                                    "again after a reboot.", timer);
                        fix(d, c, "%s reload (the generator links enabled schedules into timers.target.wants).", ctl_cmd());
                        return;
                }
        }
        passed(d, s->name, "timer-wanted");
}

static void check_enabled(Doctor *d, const Schedule *s) {
        if (s->enabled) {
                passed(d, s->name, "enabled");
                return;
        }
        Check *c = problem(d, s->name, "enabled", "the schedule is disabled (Enabled=no in %s): no backups are made.", s->path);
        fix(d, c, "%s start %s (or delete the schedule if it is no longer wanted).", ctl_cmd(), s->name);
}

static void check_sources(Doctor *d, const Schedule *s) {
        bool all = true;

        STRV_FOREACH(p, s->sources) {
                struct stat st;
                Check *c;

                if (stat(*p, &st) < 0) {
                        int e = errno;
                        if (e == EACCES && !d->judge_access)
                                continue;
                        all = false;
                        struct stat lst;
                        if (e == ENOENT && lstat(*p, &lst) >= 0 && S_ISLNK(lst.st_mode))
                                c = problem(d, s->name, "source", "source %s is a symbolic link to nothing: every run fails.", *p);
                        else if (e == ENOENT)
                                c = problem(d, s->name, "source", "source %s does not exist: every run fails.", *p);
                        else
                                c = problem(d, s->name, "source", "source %s cannot be examined (%s): every run fails.",
                                            *p, strerror(e));
                        fix(d, c, "Restore %s, or correct Source= in %s.", *p, s->path);
                        continue;
                }
                if (!d->judge_access)
                        continue;
                if (access(*p, S_ISDIR(st.st_mode) ? R_OK | X_OK : R_OK) < 0) {
                        all = false;
                        c = problem(d, s->name, "source", "source %s is not readable%s (%s): it cannot be backed up.",
                                    *p, S_ISDIR(st.st_mode) ? " and searchable" : "", strerror(errno));
                        if (arg.user)
                                fix(d, c, "chmod u+r%s %s (or make it readable to you another way).",
                                    S_ISDIR(st.st_mode) ? "x" : "", *p);
                        else
                                fix(d, c, "Make %s readable by root: is it on a file system that refuses root "
                                    "(a network mount with root squashing)?", *p);
                }
        }
        if (all)
                passed(d, s->name, "source");
}

/* The nearest existing directory above PATH. */
static char *existing_parent(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        struct stat st;

        if (!p)
                return NULL;
        for (;;) {
                char *slash = strrchr(p, '/');
                if (!slash)
                        return NULL;
                if (slash == p) {
                        p[1] = 0;
                        return TAKE_PTR(p);
                }
                *slash = 0;
                if (stat(p, &st) >= 0)
                        return S_ISDIR(st.st_mode) ? TAKE_PTR(p) : NULL;
        }
}

/* Returns true if the destination is a directory doctor could look into. */
static bool check_destination(Doctor *d, const Schedule *s) {
        const char *dest = s->destination;
        struct stat st;
        Check *c;

        if (stat(dest, &st) < 0) {
                int e = errno;
                if (e == EACCES && !d->judge_access)
                        return false;
                if (e != ENOENT) {
                        c = problem(d, s->name, "destination", "destination %s cannot be examined (%s): runs fail.", dest, strerror(e));
                        fix(d, c, "Check the file system of %s, or correct Destination= in %s.", dest, s->path);
                        return false;
                }
                /* The service creates it before each run (`prepare`, outside
                 * the sandbox; the user service is not sandboxed at all), if
                 * directories may be created where it belongs. */
                _cleanup_free_ char *parent = existing_parent(dest);
                int parent_error = !parent ? ENOTDIR :
                                   d->judge_access && access(parent, W_OK | X_OK) < 0 ? errno : 0;
                if (parent_error == 0) {
                        passed(d, s->name, "destination");
                        return false;
                }
                c = problem(d, s->name, "destination", "destination %s does not exist, and it cannot be created "
                            "there (%s): runs fail.", dest, strerror(parent_error));
                fix(d, c, "mkdir -p -m 0700 %s, or correct Destination= in %s.", dest, s->path);
                return false;
        }
        if (!S_ISDIR(st.st_mode)) {
                c = problem(d, s->name, "destination", "destination %s is not a directory: runs fail.", dest);
                fix(d, c, "Move %s out of the way, or correct Destination= in %s.", dest, s->path);
                return false;
        }
        if (d->judge_access && access(dest, W_OK | X_OK) < 0) {
                int e = errno;
                if (e == EROFS) {
                        c = problem(d, s->name, "destination", "destination %s is on a read-only file system: runs fail.", dest);
                        fix(d, c, "Mount it read-write (mount -o remount,rw …), or correct Destination= in %s.", s->path);
                } else {
                        c = problem(d, s->name, "destination", "destination %s is not writable (%s): runs fail.", dest, strerror(e));
                        if (arg.user)
                                fix(d, c, "chmod u+rwx %s (it must be yours), or correct Destination= in %s.", dest, s->path);
                        else
                                fix(d, c, "Make %s writable by root, or correct Destination= in %s.", dest, s->path);
                }
                return true;
        }
        passed(d, s->name, "destination");
        return true;
}

/* A new archive is written next to the old ones (retention deletes only
 * after it is safely in place) and may be bigger than the last: twice the
 * newest archive must fit. */
static void check_free_space(Doctor *d, const Schedule *s, const ArchiveInfo *newest) {
        struct statvfs sv;
        char avail_s[FORMAT_BYTES_MAX], size_s[FORMAT_BYTES_MAX];

        if (!newest || statvfs(s->destination, &sv) < 0)
                return;
        uint64_t avail = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
        if (avail / 2 >= newest->size) {
                passed(d, s->name, "free-space");
                return;
        }
        Check *c = problem(d, s->name, "free-space", "only %s free on the file system of %s, less than twice the newest "
                           "archive (%s): the next run may fill it and fail.",
                           format_bytes(avail_s, avail), s->destination, format_bytes(size_s, newest->size));
        fix(d, c, "Free space there, keep fewer archives (Keep= in %s), or move Destination= to a larger file system.", s->path);
}

/* The whole disk a file system lives on, as "MAJOR:MINOR" of sysfs: a
 * partition's parent, else the device itself (LVM, RAID, a loop file: the
 * file system is all we can tell). */
static void whole_disk(dev_t dev, char *buf, size_t size) {
        char link[64], resolved[PATH_MAX];

        snprintf(buf, size, "%u:%u", major(dev), minor(dev));
        snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(dev), minor(dev));
        if (!realpath(link, resolved))
                return;
        _cleanup_free_ char *partition = path_join(resolved, "partition");
        if (!partition || access(partition, F_OK) < 0)
                return;
        char *slash = strrchr(resolved, '/');
        if (!slash)
                return;
        *slash = 0;
        _cleanup_free_ char *dev_file = path_join(resolved, "dev");
        _cleanup_free_ char *text = NULL;
        if (dev_file && read_file_full(dev_file, 32, &text) >= 0 && *text) {
                text[strcspn(text, "\n")] = 0;
                snprintf(buf, size, "%s", text);
        }
}

/* Archives on the disk they protect die with it. Only the local copy is
 * judged: CopyTo= sends each archive elsewhere. */
static void check_same_disk(Doctor *d, const Schedule *s) {
        struct stat dst;
        char dest_disk[32];

        if (!s->sources || !*s->sources || stat(s->destination, &dst) < 0)
                return;
        if (s->copy_to && *s->copy_to) {
                passed(d, s->name, "same-disk");
                return;
        }
        whole_disk(dst.st_dev, dest_disk, sizeof dest_disk);
        STRV_FOREACH(p, s->sources) {
                struct stat st;
                char disk[32];
                if (stat(*p, &st) < 0)
                        continue;       /* "source" says it */
                whole_disk(st.st_dev, disk, sizeof disk);
                if (st.st_dev != dst.st_dev && !streq(disk, dest_disk))
                        continue;
                Check *c = warning(d, s->name, "same-disk", "destination %s is on the same %s as source %s, and "
                                   "there is no CopyTo=: a dead disk takes the data and its backups.", s->destination,
                                   st.st_dev == dst.st_dev ? "file system" : "disk", *p);
                fix(d, c, "Add CopyTo= (ssh:// or rclone:) to %s, or move Destination= to another disk.", s->path);
                return;
        }
        passed(d, s->name, "same-disk");
}

/* How many of the next HORIZON runs fit into AVAIL bytes, if each writes
 * an archive of SIZE + GROWTH × (its number) bytes and, with KEEP > 0,
 * retention then deletes the oldest of the archives (oldest first) beyond
 * KEEP. A new archive is written next to the old ones: it must fit before
 * anything is deleted. Returns HORIZON if they all fit. */
static unsigned runs_that_fit(uint64_t avail, const uint64_t *archives, size_t n_archives, unsigned keep,
                              double size, double growth, unsigned horizon) {
        double free_bytes = (double) avail;
        size_t oldest = 0, count = n_archives;
        /* the new archives, after the existing ones, oldest first */
        _cleanup_free_ double *made = calloc(horizon, sizeof *made);

        if (!made)
                return horizon;
        for (unsigned run = 0; run < horizon; run++) {
                double next = size + growth * (run + 1);
                if (next > free_bytes)
                        return run;
                free_bytes -= next;
                made[run] = next;
                count++;
                while (keep > 0 && count > keep) {
                        free_bytes += oldest < n_archives ? (double) archives[oldest] : made[oldest - n_archives];
                        oldest++;
                        count--;
                }
        }
        return horizon;
}

#define RUNWAY_RECORDS 7        /* the recent runs whose archives set the pace */
#define RUNWAY_KEEP_ALL 30      /* the runs looked ahead when every archive is kept */

/* Whether the destination's free space lasts for the archives Keep= holds,
 * at the pace of the recent runs. Calendar rules (KeepDaily= …) and
 * incremental chains keep more than Keep= says: for them, the estimate
 * looks as far ahead as with Keep= alone and deletes nothing it could not
 * be sure of. */
static void check_runway(Doctor *d, const Schedule *s, const ArchiveInfo *list, size_t n) {
        RunRecord *records = NULL;
        size_t n_records = 0;
        struct statvfs sv;

        if (n == 0 || statvfs(s->destination, &sv) < 0 ||
            record_list(paths.state_dir, s->name, 2 * RUNWAY_RECORDS, &records, &n_records) < 0)
                return;
        /* the archive sizes of the recent successful runs, newest first */
        double sizes[RUNWAY_RECORDS];
        size_t k = 0;
        for (size_t i = n_records; i > 0 && k < RUNWAY_RECORDS; i--) {
                const RunRecord *r = &records[i - 1];
                if (r->result != RUN_SUCCEEDED && r->result != RUN_WARNINGS)
                        continue;
                if (r->archive && r->archive_bytes > 0)
                        sizes[k++] = (double) r->archive_bytes;
        }
        record_list_free(records, n_records);
        if (k < 2)
                return;         /* no pace yet */
        /* the mean, and the growth per run from the mean of the older half
         * to that of the newer half */
        double all = 0, newer = 0, older = 0;
        size_t half = k / 2;
        for (size_t i = 0; i < k; i++) {
                all += sizes[i];
                if (i < half)
                        newer += sizes[i];
                else if (i >= k - half)
                        older += sizes[i];
        }
        double mean = all / k;
        double growth = (newer / half - older / half) / (double) (k - half);
        if (growth < 0)
                growth = 0;

        bool plain_keep = s->keep > 0 && !schedule_keeps_calendar(s) && s->full_every_usec == 0;
        unsigned horizon = s->keep > 0 ? s->keep : RUNWAY_KEEP_ALL;
        _cleanup_free_ uint64_t *archives = calloc(n, sizeof *archives);
        if (!archives) {
                d->oom = true;
                return;
        }
        for (size_t i = 0; i < n; i++)
                archives[i] = list[i].size;
        uint64_t avail = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
        unsigned fit = runs_that_fit(avail, archives, n, plain_keep ? s->keep : 0, mean, growth, horizon);
        if (fit >= horizon) {
                passed(d, s->name, "runway");
                return;
        }
        char avail_s[FORMAT_BYTES_MAX], mean_s[FORMAT_BYTES_MAX], growth_s[FORMAT_BYTES_MAX];
        Check *c = warning(d, s->name, "runway", "at the pace of the recent runs (archives of about %s, growing %s a run), "
                           "the %s free on the file system of %s last for %u more run%s, fewer than the %u %s: "
                           "then a run fails for want of space.",
                           format_bytes(mean_s, (uint64_t) mean), format_bytes(growth_s, (uint64_t) growth),
                           format_bytes(avail_s, avail), s->destination, fit, fit == 1 ? "" : "s", horizon,
                           s->keep > 0 ? "archives Keep= holds" : "runs looked ahead when every archive is kept");
        fix(d, c, "Free space there, keep fewer archives (Keep= in %s), or move Destination= to a larger file system.", s->path);
}

static void check_recent_archive(Doctor *d, const Schedule *s, const Overdue *od, uint64_t now) {
        char when[FORMAT_TIMESTAMP_MAX], ago[FORMAT_DURATION_MAX], period[FORMAT_DURATION_MAX];
        Check *c;

        if (!s->enabled || od->period_usec == 0)
                return;         /* "enabled" said it; or a calendar that does not repeat has no period */
        if (!od->overdue) {
                passed(d, s->name, "recent-archive");
                return;
        }
        format_duration(ago, now - od->since_usec);
        format_duration(period, od->period_usec);
        if (od->never)
                c = problem(d, s->name, "recent-archive", "no archive yet, %s after the schedule was written: more than "
                            "1.5 times its period (%s).", ago, period);
        else
                c = problem(d, s->name, "recent-archive", "the newest archive is from %s, %s ago: more than 1.5 times "
                            "the schedule's period (%s).", format_timestamp(when, od->since_usec), ago, period);
        fix(d, c, "%s run %s makes one now; the other problems listed say why none came (if there are none: "
            "was the machine off? Persistent=yes catches up at boot).", ctl_cmd(), s->name);
}

static void check_last_run(Doctor *d, const Schedule *s, const char *service_state, uint64_t now) {
        _cleanup_(last_run_done) LastRun last = { .kind = _EVENT_INVALID };
        char service[UNIT_NAME_MAX], ago[FORMAT_DURATION_MAX];
        Check *c;

        unit_name_service(service, s->name);
        (void) history_last_run(paths.state_dir, s->name, &last);
        if (last.kind == EVENT_RUN_FAILED) {
                c = problem(d, s->name, "last-run", "the last run, %s ago, failed: %s",
                            format_duration(ago, now > last.time_usec ? now - last.time_usec : 0),
                            last.message ?: "(no message)");
                fix(d, c, "Remove the cause the message names (other problems listed here may be it), then "
                    "'%s run %s'; '%s logs %s' shows the history.", ctl_cmd(), s->name, ctl_cmd(), s->name);
        } else if (streq_ptr(service_state, "failed")) {
                c = problem(d, s->name, "last-run", "%s is in the failed state, and the journal has no reason from "
                            "the worker.", service);
                fix(d, c, "'%s status %s' shows why; after fixing it, '%s run %s'.", systemctl_cmd(), service, ctl_cmd(), s->name);
        } else
                passed(d, s->name, "last-run");
}

/* Hidden ".#NAME-….tar….XXXXXXXXXXXXXXXX" files: a run that was killed on a
 * file system without O_TMPFILE. Only reported: a run in progress (the
 * service, or `run --here`, which the manager cannot see) may be writing it. */
static void check_stale_temporaries(Doctor *d, const Schedule *s, bool running) {
        _cleanup_closedir_ DIR *dir = opendir(s->destination);
        struct dirent *de;
        bool found = false;

        if (!dir)
                return;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *schedule = NULL;
                char size_s[FORMAT_BYTES_MAX], when[FORMAT_TIMESTAMP_MAX];
                struct stat st;

                if (!archive_temporary_name_parse(de->d_name, &schedule) || !streq(schedule, s->name))
                        continue;
                if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (running)
                        continue;       /* most likely the file the running backup writes */
                found = true;
                Check *c = warning(d, s->name, "stale-temporary", "%s/%s (%s, last written %s) is a partial archive "
                                   "left by an interrupted run; it takes space, and is no backup.", s->destination, de->d_name,
                                   format_bytes(size_s, (uint64_t) st.st_size),
                                   format_timestamp(when, (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC));
                fix(d, c, "It is removed by the next run of %s, or delete it if no run is in progress "
                    "(also no '%s run --here %s').", s->name, ctl_name(), s->name);
        }
        if (!found)
                passed(d, s->name, "stale-temporary");
}

static void check_key_file(Doctor *d, const Schedule *s) {
        Check *c;

        if (!s->encryption || !s->key_file)
                return;
        if (access(s->key_file, F_OK) < 0 && !(errno == EACCES && !d->judge_access)) {
                c = problem(d, s->name, "key-file", "KeyFile=%s cannot be found (%s): encrypted runs fail.",
                            s->key_file, strerror(errno));
                fix(d, c, "Put the key back from your safe copy (archives made with it need it), or make a new one "
                    "with '%s keygen %s'.", ctl_name(), s->key_file);
        } else if (d->judge_access && access(s->key_file, R_OK) < 0) {
                c = problem(d, s->name, "key-file", "KeyFile=%s is not readable (%s): encrypted runs fail.",
                            s->key_file, strerror(errno));
                fix(d, c, "chmod u+r %s (keep it 0600, owned by %s).", s->key_file, arg.user ? "you" : "root");
        } else
                passed(d, s->name, "key-file");
}

static bool shell_name_char(char ch, bool first) {
        return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (!first && ch >= '0' && ch <= '9');
}

/* What /bin/sh -c COMMAND would look up first: the first word after any
 * NAME=value assignments. Returns 0 (and nothing) when only the shell can
 * tell (quotes, expansions) or when it is a builtin or keyword of the shell. */
static int command_program(const char *command, char **ret) {
        static const char *const builtins[] = {
                ".", ":", "[", "alias", "bg", "break", "cd", "command", "continue", "echo", "eval", "exec",
                "exit", "export", "false", "fc", "fg", "getopts", "hash", "jobs", "kill", "local", "printf",
                "pwd", "read", "readonly", "return", "set", "shift", "test", "times", "trap", "true", "type",
                "ulimit", "umask", "unalias", "unset", "wait",
                "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then",
                "until", "while",
        };
        const char *p = command;

        for (;;) {
                p += strspn(p, " \t");
                size_t n = strcspn(p, " \t\n;&|<>()");
                if (n == 0)
                        return 0;
                if (strcspn(p, "\"'`$\\*?[~") < n && !(n == 1 && *p == '['))
                        return 0;
                const char *eq = memchr(p, '=', n);
                if (eq && eq > p && shell_name_char(*p, true)) {
                        bool name = true;
                        for (const char *q = p + 1; q < eq; q++)
                                name = name && shell_name_char(*q, false);
                        if (name) {
                                p += n;         /* VAR=value: an assignment for the command that follows */
                                continue;
                        }
                }
                for (size_t i = 0; i < ELEMENTSOF(builtins); i++)
                        if (strlen(builtins[i]) == n && memcmp(p, builtins[i], n) == 0)
                                return 0;
                *ret = strndup(p, n);
                return *ret ? 1 : -ENOMEM;
        }
}

/* PROGRAM as the shell finds it in SEARCH_PATH; NULL if it does not. */
static char *find_program(const char *program, const char *search_path) {
        if (strchr(program, '/')) {
                /* relative to the working directory of the service: / */
                _cleanup_free_ char *p = program[0] == '/' ? strdup(program) : path_join("/", program);
                return p && is_executable_file(p) ? TAKE_PTR(p) : NULL;
        }

        _cleanup_free_ char *dirs = strdup(search_path);
        if (!dirs)
                return NULL;
        for (char *dir = dirs, *next; dir; dir = next) {
                next = strchr(dir, ':');
                if (next)
                        *next++ = 0;
                _cleanup_free_ char *candidate = path_join(*dir ? dir : ".", program);
                if (candidate && is_executable_file(candidate))
                        return TAKE_PTR(candidate);
        }
        return NULL;
}

static void check_notify(Doctor *d, const Schedule *s) {
        _cleanup_(state_done) ScheduleState state = {};
        Check *c;

        if (s->notify_command) {
                _cleanup_free_ char *program = NULL, *found = NULL;
                int r = command_program(s->notify_command, &program);
                if (r < 0)
                        d->oom = true;
                else if (r > 0)
                        found = find_program(program, d->manager_path);
                if (r > 0 && !found) {
                        if (strchr(program, '/'))
                                c = problem(d, s->name, "notify-command", "NotifyCommand= runs %s, which is not an "
                                            "executable file: nobody is told when a backup fails.", program);
                        else
                                c = problem(d, s->name, "notify-command", "NotifyCommand= runs '%s', which is not "
                                            "in the PATH of the service (%s): nobody is told when a backup fails.",
                                            program, d->manager_path);
                        fix(d, c, "Install it, or correct NotifyCommand= in %s (an absolute path is safest).", s->path);
                } else
                        passed(d, s->name, "notify-command");
        }

        if (s->mail) {
                if (!is_executable_file(SENDMAIL_PATH)) {
                        c = problem(d, s->name, "notify-mail", "Mail= is set, but there is no %s to send it: nobody "
                                    "is told when a backup fails.", SENDMAIL_PATH);
                        fix(d, c, "Install a mail transfer agent that provides %s (postfix, exim4, msmtp-mta, dma, …), "
                            "or remove Mail= from %s.", SENDMAIL_PATH, s->path);
                } else
                        passed(d, s->name, "notify-mail");
        }

        if (!s->notify_command && !s->mail && !s->ping_url)
                return;
        int r = state_load(paths.state_dir, s->name, &state);
        if (r < 0) {
                c = problem(d, s->name, "notify-last", "the notification record %s/%s.state cannot be read (%s).",
                            paths.state_dir, s->name, strerror(-r));
                fix(d, c, "Check the permissions of %s.", paths.state_dir);
        } else if (state.notify_error) {
                char when[FORMAT_TIMESTAMP_MAX];
                c = problem(d, s->name, "notify-last", "the last notification, at %s, failed: %s.",
                            format_timestamp(when, state.notify_error_usec), state.notify_error);
                fix(d, c, "Make the channel work: try the command, the mail system or the ping URL by hand (this "
                    "record is replaced at the next notification event, even the start of a run that uses no "
                    "channel, so its going away proves nothing).");
        } else
                passed(d, s->name, "notify-last");
}

static void check_schedule(Doctor *d, const ScheduleEntry *e) {
        _cleanup_(overdue_done) Overdue od = {};
        _cleanup_free_ char *service_state = NULL;
        const Schedule *s = e->schedule;
        uint64_t now = now_realtime_usec();
        char service[UNIT_NAME_MAX];
        Check *c;

        if (!s) {
                c = problem(d, e->name, "schedule-file", "the generator skips this schedule, so it has no timer and "
                            "no backups: %s", e->error ?: strerror(-e->error_code));
                fix(d, c, "Correct %s (see alexandria.schedule(5)); the change applies by itself, or run '%s reload'.",
                    e->path, ctl_cmd());
                return;
        }
        passed(d, s->name, "schedule-file");

        ArchiveInfo *list = NULL;
        size_t n = 0;
        if (archive_list(s->destination, s->name, &list, &n) < 0)
                n = 0;
        const ArchiveInfo *newest = n > 0 ? &list[n - 1] : NULL;
        overdue_check(e, newest, now, &od);

        unit_name_service(service, s->name);
        if (d->bus)
                (void) manager_get_string(d->bus, service, "Unit", "ActiveState", &service_state, NULL);
        bool running = streq_ptr(service_state, "activating") || streq_ptr(service_state, "active") ||
                       streq_ptr(service_state, "deactivating") || streq_ptr(service_state, "reloading");

        check_enabled(d, s);
        if (d->bus)
                check_timer(d, s, &od);
        check_last_run(d, s, service_state, now);
        check_recent_archive(d, s, &od, now);
        check_sources(d, s);
        if (check_destination(d, s)) {
                check_free_space(d, s, newest);
                check_runway(d, s, list, n);
                check_same_disk(d, s);
                check_stale_temporaries(d, s, running);
        }
        check_key_file(d, s);
        check_notify(d, s);

        archive_list_free(list, n);
}

int verb_doctor(int argc, char **argv) {
        _cleanup_(schedule_dir_done) ScheduleDir dir = {};
        _cleanup_(doctor_done) Doctor d = {};
        int r;

        bool trusted = check_config_directories(&d);
        if (trusted) {
                r = ctl_load_schedules(&dir);
                if (r < 0)
                        return exit_code_for(r);
        }
        const ScheduleEntry *only = NULL;
        if (trusted && argc > 1 && ctl_find_schedule(&dir, argv[1], &only) < 0)
                return EXIT_USAGE;

        /* System schedules run as root: what access(2) says for anybody else
         * is not what the backup will meet. */
        d.judge_access = arg.user || geteuid() == 0;
        if (!d.judge_access)
                log_warning("Not running as root: whether the backups can read their sources and write their "
                            "destinations is not checked.");

        check_worker(&d);
        if (!arg.no_reload) {
                if (manager_connect(arg.user, &d.bus) < 0) {
                        d.bus = NULL;
                        Check *c = problem(&d, NULL, "manager", "the systemd %s manager cannot be reached: timers are not checked.",
                                           arg.user ? "user" : "system");
                        fix(&d, c, "%s", arg.user ? "Run doctor in your login session (XDG_RUNTIME_DIR set, systemd --user running)."
                                                  : "Run doctor as root on a system booted with systemd.");
                } else {
                        passed(&d, NULL, "manager");
                        check_watchdog(&d);
                }
        }
        d.manager_path = manager_search_path(d.bus);
        if (!d.manager_path)
                return log_oom(), EXIT_FAILED;
        check_journal(&d);
        check_metrics(&d);

        if (only)
                check_schedule(&d, only);
        else
                for (size_t i = 0; i < dir.n; i++)
                        check_schedule(&d, &dir.entries[i]);

        if (d.oom)
                return log_oom(), EXIT_FAILED;

        size_t problems = 0;
        for (size_t i = 0; i < d.n; i++)
                problems += !d.checks[i].ok && d.checks[i].level == LEVEL_PROBLEM;
        if (arg.json)
                print_json(&d);
        else
                print_text(&d);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                log_error("Cannot write the report: %m");
                return EXIT_FAILED;
        }
        return problems > 0 ? EXIT_FAILED : EXIT_OK;
}
