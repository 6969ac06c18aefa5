/* SPDX-License-Identifier: MIT */
/*
 * alexandria-generator: schedules.d/NAME.conf → alexandria-NAME.timer, a
 * timers.target.wants/ link when Enabled=yes, and a drop-in for
 * alexandria@NAME.service (ReadWritePaths= the destination; the network
 * for its [Notify] channels; the schedule's ExecStartPre=/ExecStopPost=,
 * and the sandbox widened for its dumps and, when CopyTo= is set, for
 * the network and the rclone :local: targets). A drop-in for
 * alexandria-watchdog.service widens its sandbox by what the schedules'
 * notifications and the metrics directory need.
 *
 * It follows systemd.generator(7): no bus, no waiting, writes only below
 * its output directory, and one bad schedule is logged and skipped without
 * failing the others. Values reach unit files only after the schedule
 * parser validated them, and every one, paths included (the schedules
 * directory comes from the environment), is written escaped for the
 * directive it lands in, or the schedule is skipped (escape.h).
 */
#include <ctype.h>
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
#include "settings.h"
#include "units.h"

#define DROPIN_NAME "50-alexandria.conf"

/* ---- [Backup] ExecStartPre=, ExecStopPost=, and what dumps need ---- */

static const char *command_name(const ScheduleDump *d) {
        const char *slash = strrchr(d->argv[0], '/');
        return slash ? slash + 1 : d->argv[0];
}

/* runuser -u postgres -- pg_dumpall: the dump runs as the database's user.
 * (setpriv would need capset(2) as well: not widened for.) */
static bool dump_changes_user(const ScheduleDump *d) {
        const char *n = command_name(d);
        return streq(n, "runuser") || streq(n, "su");
}

/* A host that is no socket directory ("/run/postgresql") or socket URL part. */
static bool is_tcp_host(const char *h, size_t len) {
        return len > 0 && h[0] != '/' && strncasecmp(h, "%2F", 3) != 0;
}

/* Whether a dump's arguments name a TCP host: -h/-H/--host HOST, --host=HOST,
 * -hHOST (mysql style, HOST an address), --protocol=tcp, a URL with a host
 * (postgresql://127.0.0.1/db), host=HOST in a connection string. Anything
 * else talks over Unix sockets, which the unit allows anyway. */
static bool dump_uses_tcp(const ScheduleDump *d) {
        for (char **a = d->argv + 1; *a; a++) {
                const char *v = *a, *h;
                if ((streq(v, "-h") || streq(v, "-H") || streq(v, "--host")) && a[1] && is_tcp_host(a[1], strlen(a[1])))
                        return true;
                if ((h = startswith(v, "--host=")) && is_tcp_host(h, strlen(h)))
                        return true;
                if ((h = startswith(v, "-h")) && (isdigit((unsigned char) h[0]) || h[0] == '[' || streq(h, "localhost")))
                        return true;
                if (strcasecmp(v, "--protocol=tcp") == 0)
                        return true;
                if ((h = strstr(v, "://")) && is_tcp_host(h + 3, strcspn(h + 3, "/?")))
                        return true;
                for (h = strstr(v, "host="); h; h = strstr(h + 1, "host="))
                        if ((h == v || h[-1] == ' ') && is_tcp_host(h + 5, strcspn(h + 5, " ")))
                                return true;
        }
        return false;
}

/* The unit's sandbox is AF_UNIX only, without the capabilities and system
 * calls that change users, and with only the own processes in /proc. Widen
 * it exactly as far as this schedule's dumps and locks need, nothing for a
 * schedule without them. Later assignments add to the unit's lists. */
static void put_sandbox_widening(FILE *f, const Schedule *s) {
        bool user = false, tcp = false;
        for (size_t i = 0; i < s->n_dumps; i++) {
                user = user || dump_changes_user(&s->dumps[i]);
                tcp = tcp || dump_uses_tcp(&s->dumps[i]);
        }
        /* measured: runuser's PAM session (pam_limits) sets the limits and
         * the priority it already has; it fails without those calls */
        if (user)
                fputs("# Dump= changes user (runuser, su): uids and gids, and PAM's session limits.\n"
                      "CapabilityBoundingSet=CAP_SETUID CAP_SETGID\n"
                      "SystemCallFilter=@setuid setrlimit prlimit64 setpriority\n", f);
        /* the host's network (its 127.0.0.1 too), not the unit's private one */
        if (tcp)
                fputs("# Dump= names a TCP host.\n"
                      "PrivateNetwork=no\n"
                      "IPAddressDeny=\n"
                      "RestrictAddressFamilies=AF_INET AF_INET6\n", f);
        if (s->n_locks > 0)
                fputs("# LockFile=: /proc/locks says who holds a lock that is not released in time.\n"
                      "ProcSubset=all\n", f);
}

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
        /* The command lines as the schedule has them (the parser took one
         * command with known prefixes): systemd then runs exactly what
         * `run --here` runs. */
        char **exec_start_pre;
        char **exec_stop_post;
} UnitValues;

static void unit_values_done(UnitValues *v) {
        free(v->source_path);
        free(v->on_calendar);
        strv_free(v->sources);
        free(v->destination);
        free(v->key_file);
        strv_free(v->local_targets);
        strv_free(v->exec_start_pre);
        strv_free(v->exec_stop_post);
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

static int escape_commands(const char *what, const ScheduleHook *hooks, size_t n, char ***ret, char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                const char *problem = unit_value_problem(hooks[i].command, false);
                if (problem) {
                        _cleanup_free_ char *shown = text_escape(hooks[i].command);
                        return errorf(ret_error, -EINVAL, "%s%s cannot be written into a unit: %s", what, strempty(shown), problem);
                }
                char *line = unit_escape_command(hooks[i].command);
                if (!line || strv_push(ret, line) < 0)
                        return -ENOMEM;
        }
        return 0;
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
        if (r >= 0)
                r = escape_commands("ExecStartPre=", s->exec_start_pre, s->n_exec_start_pre, &v.exec_start_pre, ret_error);
        if (r >= 0)
                r = escape_commands("ExecStopPost=", s->exec_stop_post, s->n_exec_stop_post, &v.exec_stop_post, ret_error);
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

/* UNIT.d below the output directory, made if need be; a descriptor or a negative errno. */
static int open_dropin_dir(int out_fd, const char *name) {
        if (mkdirat(out_fd, name, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        int fd = openat(out_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? negative_errno() : fd;
}

static bool schedule_notifies(const Schedule *s) {
        return s->ping_url || s->mail || s->notify_command;
}

/* The watchdog runs NotifyCommand= and sendmail inside its sandbox: they
 * reach the network through its namespace and address families. */
#define NETWORK_FOR_NOTIFY \
        "# [Notify]: pings, mail and NotifyCommand= need the network\n" \
        "PrivateNetwork=no\n" \
        "IPAddressDeny=\n"

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

/* The service instance's drop-in: where it may write, its key, its hooks,
 * and what its dumps and locks need of the sandbox. */
static int dropin_text(const Schedule *s, const UnitValues *v, bool user, char **ret) {
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
                /* The notify commands ("+") leave the network namespace
                 * themselves (netns.h); the cgroup's IP filter they cannot. */
                if (schedule_notifies(s))
                        fputs("# [Notify]: pings and mail from the notify commands around the worker\n"
                              "IPAddressDeny=\n", f);
                put_sandbox_widening(f, s);
                /* CopyTo=: rsync, ssh and rclone reach the network (name
                 * lookups need netlink). Schedules without it stay off it. */
                if (v->network)
                        fputs("# CopyTo=: rsync, ssh and rclone reach the targets.\n"
                              "PrivateNetwork=no\nIPAddressDeny=\n"
                              "RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK\n", f);
                STRV_FOREACH(p, v->local_targets)
                        fprintf(f, "ReadWritePaths=-%s\n", *p);
                /* DestinationGroup=: giving files to a group root is not in
                 * needs CAP_CHOWN and fchown(2), which ~@privileged denies */
                if (v->chown)
                        fputs("CapabilityBoundingSet=CAP_CHOWN\nSystemCallFilter=@chown\n", f);
        }
        /* After the unit's own: the started notification comes first, and
         * ExecStopPost= hooks run once the finished one is sent. */
        STRV_FOREACH(c, v->exec_start_pre)
                fprintf(f, "ExecStartPre=%s\n", *c);
        STRV_FOREACH(c, v->exec_stop_post)
                fprintf(f, "ExecStopPost=%s\n", *c);
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
                r = dropin_text(s, &v, user, &dropin_contents);
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

/* The watchdog notifies for every schedule, with NotifyCommand= and
 * sendmail running inside its sandbox: it gets the network only if some
 * schedule notifies, the mail spools (and what an MTA's sendmail needs:
 * set-id programs, root's capabilities) only if some schedule mails, and
 * write access to a metrics directory alexandria.conf names. */
static int generate_watchdog_dropin(int out_fd, const ScheduleDir *d, const Paths *paths, bool user, char **ret_error) {
        _cleanup_(config_done) Config config = {};
        _cleanup_free_ char *metrics_word = NULL, *contents = NULL;
        bool network = false, mail = false;
        int r;

        for (size_t i = 0; i < d->n; i++) {
                const Schedule *s = d->entries[i].schedule;
                if (!s)
                        continue;
                network = network || schedule_notifies(s);
                mail = mail || s->mail;
        }
        /* A refused alexandria.conf writes no metrics: no directory to open. */
        if (config_load(paths->config_file, paths->owner, &config, NULL) < 0)
                config = (Config) {};
        const char *metrics = config_metrics_directory(&config, user);
        bool custom_metrics = !user && metrics && !streq(metrics, METRICS_DEFAULT_DIRECTORY);
        if (!network && !custom_metrics)
                return 0;
        if (custom_metrics) {
                r = escape_value("The metrics Directory=", metrics, true, &metrics_word, ret_error);
                if (r < 0)
                        return r;
        }

        size_t size = 0;
        FILE *f = open_memstream(&contents, &size);
        if (!f)
                return -ENOMEM;
        fputs("# Generated by alexandria-generator from the schedules and alexandria.conf.\n[Service]\n", f);
        if (network) {
                if (!user)
                        fputs(NETWORK_FOR_NOTIFY, f);
                fputs("RestrictAddressFamilies=AF_INET AF_INET6\n", f);
        }
        if (mail && !user)
                /* An MTA's sendmail is set-id (dma, postdrop), switches to
                 * its own user and group to queue (dma, exim) and hands a
                 * mailbox to its owner (dma-mbox-create). */
                fputs("# Mail=: sendmail queues (and delivers locally) as its MTA does it\n"
                      "ReadWritePaths=-/var/spool -/var/mail\n"
                      "PrivateUsers=no\n"
                      "NoNewPrivileges=no\n"
                      "CapabilityBoundingSet=CAP_CHOWN CAP_SETGID CAP_SETUID\n"
                      "SystemCallFilter=@setuid @chown\n", f);
        else if (mail)
                /* A user's sendmail is set-id (dma, postdrop): seccomp would
                 * imply NoNewPrivileges= in a user manager. */
                fputs("# Mail=: sendmail is a set-id program\n"
                      "NoNewPrivileges=no\nSystemCallFilter=\nSystemCallArchitectures=\nRestrictAddressFamilies=\n"
                      "RestrictNamespaces=no\nRestrictRealtime=no\nRestrictSUIDSGID=no\nLockPersonality=no\n"
                      "MemoryDenyWriteExecute=no\n", f);
        if (metrics_word)
                fprintf(f, "ReadWritePaths=-%s\n", metrics_word);
        r = text_finish(f, &contents);
        if (r < 0)
                return r;

        _cleanup_close_ int dropin_fd = open_dropin_dir(out_fd, "alexandria-watchdog.service.d");
        if (dropin_fd < 0)
                return errorf(ret_error, dropin_fd, "cannot create alexandria-watchdog.service.d: %s", strerror(-dropin_fd));
        r = write_unit_file(dropin_fd, DROPIN_NAME, contents);
        if (r < 0)
                return errorf(ret_error, r, "cannot write alexandria-watchdog.service.d/%s: %s", DROPIN_NAME, strerror(-r));
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
        _cleanup_free_ char *why = NULL;
        r = generate_watchdog_dropin(out_fd, &d, &paths, user, &why);
        if (r < 0)
                log_error("Cannot write the drop-in of alexandria-watchdog.service: %s", why ?: strerror(-r));
        return 0;
}

int main(int argc, char *argv[]) {
        /* stderr of a generator may go nowhere: log to the journal when it
         * runs, unless asked for the console as systemd's own generators are
         * (SYSTEMD_LOG_TARGET=console, e.g. to try it by hand). */
        log_setup(streq_ptr(getenv("SYSTEMD_LOG_TARGET"), "console") ? LOG_TARGET_STDERR : LOG_TARGET_JOURNAL);
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
