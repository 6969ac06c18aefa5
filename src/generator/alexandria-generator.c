/* SPDX-License-Identifier: MIT */
/*
 * alexandria-generator: schedules.d/NAME.conf → alexandria-NAME.timer, a
 * timers.target.wants/ link when Enabled=yes, and a drop-in for
 * alexandria@NAME.service (ReadWritePaths= the destination, the schedule's
 * ExecStartPre=/ExecStopPost=, and the sandbox widened for its dumps).
 *
 * It follows systemd.generator(7): no bus, no waiting, writes only below
 * its output directory, and one bad schedule is logged and skipped without
 * failing the others. Values reach unit files only after the schedule
 * parser validated them, and every one is written escaped for the directive
 * it lands in (specifiers, quotes, backslashes).
 */
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fileio.h"
#include "locations.h"
#include "log.h"
#include "path-util.h"
#include "schedule-dir.h"
#include "units.h"

/* "%" starts a specifier in almost every directive. */
static void put_unit_path(FILE *f, const char *path) {
        for (const char *p = path; *p; p++)
                fputs(*p == '%' ? "%%" : (char[]) { *p, 0 }, f);
}

/* A path in a list directive (ReadWritePaths=): double-quoted, with quotes
 * and backslashes escaped, specifiers doubled. */
static void put_quoted_path(FILE *f, const char *path) {
        fputc('"', f);
        for (const char *p = path; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fputc('\\', f);
                if (*p == '%')
                        fputc('%', f);
                fputc(*p, f);
        }
        fputc('"', f);
}

/* ---- [Backup] ExecStartPre=, ExecStopPost=, and what dumps need ---- */

/* The command line as the schedule has it (the parser took one command
 * with known prefixes), "%" and "$" doubled: systemd then runs exactly what
 * `run --here` runs, with no specifier or variable of its own put in. */
static void put_exec_line(FILE *f, const char *directive, const char *command) {
        fprintf(f, "%s=", directive);
        for (const char *p = command; *p; p++) {
                if (*p == '%' || *p == '$')
                        fputc(*p, f);
                fputc(*p, f);
        }
        fputc('\n', f);
}

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
        if (tcp)
                fputs("# Dump= names a TCP host.\n"
                      "RestrictAddressFamilies=AF_INET AF_INET6\n", f);
        if (s->n_locks > 0)
                fputs("# LockFile=: /proc/locks says who holds a lock that is not released in time.\n"
                      "ProcSubset=all\n", f);
}

static int write_unit_file(int dir_fd, const char *name, const char *contents) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return negative_errno();
        return loop_write(fd, contents, strlen(contents));
}

/* Builds a text in memory; every write is checked once at the end. */
typedef struct Text {
        char *buf;
        size_t size;
        FILE *f;
} Text;

static int text_open(Text *t) {
        *t = (Text) {};
        t->f = open_memstream(&t->buf, &t->size);
        return t->f ? 0 : -ENOMEM;
}

static int text_close(Text *t) {
        int r = fflush(t->f) != 0 || ferror(t->f) ? -ENOMEM : 0;
        fclose(t->f);
        t->f = NULL;
        return r;
}

static void text_done(Text *t) {
        if (t->f)
                fclose(t->f);
        free(t->buf);
}

static int generate_one(int out_fd, const Schedule *s, bool user) {
        char timer[UNIT_NAME_MAX], service[UNIT_NAME_MAX];
        _cleanup_free_ char *dropin_dir = NULL;
        Text t;
        int r;

        unit_name_timer(timer, s->name);
        unit_name_service(service, s->name);

        /* The timer. */
        r = text_open(&t);
        if (r < 0)
                return r;
        fprintf(t.f,
                "# Generated by alexandria-generator from the schedule below. Edit the schedule, not this file.\n"
                "[Unit]\n"
                "Description=Alexandria backup schedule %s\n"
                "Documentation=man:alexandria.schedule(5) man:alexandria-ctl(1)\n"
                "SourcePath=",
                s->name);
        put_unit_path(t.f, s->path);
        fprintf(t.f,
                "\n"
                "\n"
                "[Timer]\n"
                "OnCalendar=%s\n"
                "Persistent=%s\n"
                "RandomizedDelaySec=%llu\n"
                "AccuracySec=1s\n"
                "Unit=%s\n",
                s->on_calendar,
                s->persistent ? "yes" : "no",
                (unsigned long long) s->randomized_delay_sec,
                service);
        r = text_close(&t);
        if (r >= 0)
                r = write_unit_file(out_fd, timer, t.buf);
        text_done(&t);
        if (r < 0)
                return r;

        /* The service instance's drop-in: where it may write. */
        if (asprintf(&dropin_dir, "%s.d", service) < 0)
                return -ENOMEM;
        if (mkdirat(out_fd, dropin_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int dropin_fd = openat(out_fd, dropin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dropin_fd < 0)
                return negative_errno();
        r = text_open(&t);
        if (r < 0)
                return r;
        fputs("# Generated by alexandria-generator.\n[Unit]\nSourcePath=", t.f);
        put_unit_path(t.f, s->path);
        fputc('\n', t.f);
        if (!user) {
                /* systemd mounts what the run reads and writes first, and the
                 * run fails loudly when it cannot: never a backup of the empty
                 * directory under a disk that did not mount. */
                STRV_FOREACH(p, s->sources) {
                        fputs("RequiresMountsFor=", t.f);
                        put_quoted_path(t.f, *p);
                        fputc('\n', t.f);
                }
                fputs("RequiresMountsFor=", t.f);
                put_quoted_path(t.f, s->destination);
                fputc('\n', t.f);
        }
        fputs("\n[Service]\n", t.f);
        if (!user) {
                /* "-": a missing destination fails in the worker with a clear message,
                 * not in the namespace setup with an obscure one. */
                fputs("ReadWritePaths=-", t.f);
                put_quoted_path(t.f, s->destination);
                fputc('\n', t.f);
                /* The key reaches the worker as a credential: readable by this
                 * service alone, never copied to disk by systemd. */
                if (s->encryption) {
                        fputs("LoadCredential=alexandria.key:", t.f);
                        put_unit_path(t.f, s->key_file);
                        fputc('\n', t.f);
                }
                put_sandbox_widening(t.f, s);
        }
        /* After the unit's own: the started notification comes first, and
         * ExecStopPost= hooks run once the finished one is sent. */
        for (size_t i = 0; i < s->n_exec_start_pre; i++)
                put_exec_line(t.f, "ExecStartPre", s->exec_start_pre[i].command);
        for (size_t i = 0; i < s->n_exec_stop_post; i++)
                put_exec_line(t.f, "ExecStopPost", s->exec_stop_post[i].command);
        r = text_close(&t);
        if (r >= 0)
                r = write_unit_file(dropin_fd, "50-alexandria.conf", t.buf);
        text_done(&t);
        if (r < 0)
                return r;

        if (s->enabled) {
                _cleanup_free_ char *target = NULL, *link = NULL;
                if (mkdirat(out_fd, "timers.target.wants", 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                if (asprintf(&target, "../%s", timer) < 0 || asprintf(&link, "timers.target.wants/%s", timer) < 0)
                        return -ENOMEM;
                if (symlinkat(target, out_fd, link) < 0 && errno != EEXIST)
                        return negative_errno();
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

        r = schedule_dir_load(paths.schedules_dir, paths.default_destination, paths.owner, &d);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", paths.schedules_dir);

        for (size_t i = 0; i < d.n; i++) {
                const ScheduleEntry *e = &d.entries[i];
                if (!e->schedule) {
                        log_error("Skipping schedule %s: %s", e->name, e->error ?: strerror(-e->error_code));
                        continue;
                }
                r = generate_one(out_fd, e->schedule, user);
                if (r < 0)
                        log_error_errno(r, "Skipping schedule %s: cannot write its units: %m", e->name);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        /* stderr of a generator may go nowhere: log to the journal when it runs */
        log_setup(LOG_TARGET_JOURNAL);
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
