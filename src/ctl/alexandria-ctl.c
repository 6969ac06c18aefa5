/* SPDX-License-Identifier: MIT */
/* alexandria-ctl: the one command people type. Options are parsed once for
 * all verbs; a verb table (name, argument counts, what to set up, which
 * options it takes, handler) dispatches. */
#include <getopt.h>
#include <limits.h>
#include <locale.h>

#include "ctl.h"
#include "log.h"
#include "manager.h"

CtlArgs arg = {};
Paths paths = {};
CtlContext ctx = { .lock_fd = -EBADF };

static void help(void) {
        printf("Usage: %1$s [OPTIONS] VERB [ARGS]\n"
               "\n"
               "Manage backup schedules that run as systemd timers.\n"
               "\n"
               "Schedules:\n"
               "  create PATH;HH:MM;NAME          Back up PATH daily at HH:MM as schedule NAME\n"
               "  create NAME --on-calendar EXPR --source PATH [--source PATH…]\n"
               "         [--exclude GLOB…] [--dest DIR] [--compression gzip|zstd|xz|none] [--keep N]\n"
               "         [--skip-packaged [--verify-packaged]] [--expect PATH|GLOB…]\n"
               "         [--copy-to URL…] [--copy-keep N|all]\n"
               "         [--dump 'ENTRY COMMAND…'…] [--lock-file PATH[:shared]…]\n"
               "                                  Create a schedule with any systemd calendar\n"
               "  delete INDEX|NAME               Remove a schedule and its timer (archives stay)\n"
               "  delete NAME --archives [--yes]  Also remove its archives (asks first; also for a\n"
               "                                  schedule deleted before)\n"
               "  list                            Schedules with their index\n"
               "  start [NAME…]                   Enable and start timers (all when no name)\n"
               "  stop [NAME…]                    Disable and stop timers (all when no name)\n"
               "  (NAME may also be a schedule's INDEX from list, where a verb takes one)\n"
               "\n"
               "Runs and health:\n"
               "  run NAME                        Run alexandria@NAME.service now and wait\n"
               "  run --here NAME                 Run the backup in this process, with progress\n"
               "  status [NAME]                   Calendar, next and last run, newest archive;\n"
               "                                  exit 1 if a schedule is failed or overdue\n"
               "  doctor [NAME]                   Check the installation and schedules: each problem\n"
               "                                  or warning with its cause and fix; exit 1 if there\n"
               "                                  is a problem (warnings alone: 0)\n"
               "  logs [NAME]                     Journal history of schedules\n"
               "  history NAME [--json]           One line per run: time, result, kind, files, bytes\n"
               "                                  read, archive size, duration (from the run records)\n"
               "  backups [-l] [NAME]             Archives, one per line (-l: size, time, entries);\n"
               "                                  those of deleted schedules are marked\n"
               "  files NAME [--unexpected] [-0]  What a run would store, one path a line\n"
               "                                  (--unexpected: only what no Expect= covers)\n"
               "  files NAME --explain            The same with the reason for each, and the rules\n"
               "  copy NAME                       Send the offsite targets (CopyTo=) what they are\n"
               "                                  missing, now, without a new backup\n"
               "\n"
               "Archives:\n"
               "  restore NAME [ARCHIVE | --at TIME] --to DIR [PATH…]\n"
               "                                  Restore the newest archive (or ARCHIVE, or the newest\n"
               "                                  at TIME), whole or only PATHs, into DIR\n"
               "  restore NAME [ARCHIVE] --list   Print the entries instead\n"
               "  restore NAME [ARCHIVE] --dumps --to DIR\n"
               "                                  Restore only the Dump= entries (.alexandria/dumps/)\n"
               "  verify [NAME | ARCHIVE]         Read every byte back and check it against the\n"
               "                                  archive's manifest (newest archive of NAME or all)\n"
               "  keygen FILE                     Make a new encryption key file (mode 0600)\n"
               "  prune NAME [--dry-run]          Apply NAME's retention now; print every archive\n"
               "                                  with keep (and why) or delete\n"
               "\n"
               "Used by the units:\n"
               "  reload                          Reload systemd and start/stop timers to match\n"
               "                                  the schedule files (after hand edits)\n"
               "  report-failure NAME             Log why alexandria@NAME.service failed\n"
               "  prepare NAME                    Create the destination before a run\n"
               "  serve NAME                      Forced command of an ssh key: allows only run,\n"
               "                                  status and a read-only rsync of NAME's archives\n"
               "  notify NAME started|finished    Ping, run NotifyCommand=, mail; write metrics\n"
               "  status --notify                 The watchdog: notify once when a schedule turns\n"
               "                                  failed or overdue, once when it recovers\n"
               "\n"
               "Options:\n"
               "  -h --help                       Show this help\n"
               "     --version                    Show the version\n"
               "     --user                       Use the user's schedules and user manager\n"
               "     --config-dir DIR             Read and write schedules in DIR/schedules.d\n"
               "     --no-reload                  Only write schedule files; do not talk to systemd\n"
               "                                  (status then shows what files and journal know)\n"
               "     --here                       With run: run in this process\n"
               "  -l --long                       With backups: size, time and entry count\n"
               "     --to DIR                     With restore: where to restore (created if missing)\n"
               "     --at TIME                    With restore: newest archive at or before TIME\n"
               "                                  (YYYY-mm-dd [HH:MM[:SS]] local time, @EPOCH, or\n"
               "                                  YYYYmmddTHHMMSSZ as in archive names)\n"
               "     --overwrite                  With restore: replace existing files\n"
               "     --list                       With restore: print the entries, restore nothing\n"
               "     --dry-run                    With restore: say what would be written;\n"
               "                                  with prune: say what would be deleted\n"
               "     --dumps                      With restore: only the Dump= entries\n"
               "     --dump 'ENTRY COMMAND…'      With create: Dump= (repeatable)\n"
               "     --lock-file PATH[:shared]    With create: LockFile= (repeatable)\n"
               "     --key FILE                   Key for encrypted archives (default: the\n"
               "                                  schedule's KeyFile=)\n"
               "     --json                       With doctor: print the checks as one JSON array;\n"
               "                                  with history: the runs as one JSON array\n"
               "     --skip-packaged              With create: leave out what installed packages give\n"
               "                                  back (dpkg); keep conffiles and the package state\n"
               "     --verify-packaged            With create: ... unless changed since (slow)\n"
               "     --expect PATH|GLOB           With create: files expected in the backup; others\n"
               "                                  are reported as unexpected\n"
               "     --unexpected                 With files: only the unexpected ones\n"
               "     --explain                    With files: why each path is (not) stored\n"
               "  -0                              With files: end each path with NUL, not newline\n"
               "     --archives                   With delete: remove the schedule's archives too\n"
               "     --yes                        With delete --archives: do not ask\n"
               "\n"
               "Options given to a verb that does not take them are an error.\n"
               "\n"
               "Exit status: 0 ok, 1 failed, 2 bad usage or input (nothing changed),\n"
               "3 archive written with warnings, 4 another run holds the schedule's lock.\n"
               "See alexandria-ctl(1) and alexandria.schedule(5).\n",
               program_invocation_short_name);
}

/* Options by what they apply to: the dispatcher refuses one that the verb
 * does not take, so a typo or a misplaced option never passes silently. */
typedef enum CtlOption {
        OPT_GLOBAL      = 1 << 0,       /* --user, --config-dir, --no-reload */
        OPT_HERE        = 1 << 1,
        OPT_LONG        = 1 << 2,
        OPT_ON_CALENDAR = 1 << 3,
        OPT_SOURCE      = 1 << 4,
        OPT_EXCLUDE     = 1 << 5,
        OPT_DEST        = 1 << 6,
        OPT_COMPRESSION = 1 << 7,
        OPT_KEEP        = 1 << 8,
        OPT_TO          = 1 << 9,
        OPT_AT          = 1 << 10,
        OPT_OVERWRITE   = 1 << 11,
        OPT_LIST        = 1 << 12,
        OPT_DRY_RUN     = 1 << 13,
        OPT_KEY         = 1 << 14,
        OPT_NOTIFY      = 1 << 15,
        OPT_JSON        = 1 << 16,
        OPT_ARCHIVES    = 1 << 17,
        OPT_YES         = 1 << 18,
        OPT_DUMPS       = 1 << 19,
        OPT_DUMP        = 1 << 20,
        OPT_LOCK_FILE   = 1 << 21,
        OPT_SKIP_PACKAGED = 1 << 22,
        OPT_VERIFY_PACKAGED = 1 << 23,
        OPT_EXPECT      = 1 << 24,
        OPT_UNEXPECTED  = 1 << 25,
        OPT_EXPLAIN     = 1 << 26,
        OPT_NUL         = 1 << 27,      /* -0: short only, so not in option_table */
        OPT_COPY_TO     = 1 << 28,
        OPT_COPY_KEEP   = 1 << 29,
} CtlOption;

#define OPTS_CREATE (OPT_ON_CALENDAR | OPT_SOURCE | OPT_EXCLUDE | OPT_DEST | OPT_COMPRESSION | OPT_KEEP | \
                     OPT_DUMP | OPT_LOCK_FILE | OPT_SKIP_PACKAGED | OPT_VERIFY_PACKAGED | OPT_EXPECT | \
                     OPT_COPY_TO | OPT_COPY_KEEP)
#define OPTS_RESTORE (OPT_TO | OPT_AT | OPT_OVERWRITE | OPT_LIST | OPT_DRY_RUN | OPT_KEY | OPT_DUMPS)

enum {
        ARG_VERSION = 0x100, ARG_USER, ARG_CONFIG_DIR, ARG_NO_RELOAD, ARG_HERE,
        ARG_ON_CALENDAR, ARG_SOURCE, ARG_EXCLUDE, ARG_DEST, ARG_COMPRESSION, ARG_KEEP,
        ARG_TO, ARG_AT, ARG_OVERWRITE, ARG_LIST, ARG_DRY_RUN, ARG_KEY, ARG_NOTIFY,
        ARG_JSON, ARG_ARCHIVES, ARG_YES,
        ARG_DUMPS, ARG_DUMP, ARG_LOCK_FILE,
        ARG_SKIP_PACKAGED, ARG_VERIFY_PACKAGED, ARG_EXPECT, ARG_UNEXPECTED, ARG_EXPLAIN,
        ARG_COPY_TO, ARG_COPY_KEEP,
};

/* Every option once: for getopt_long(), and what it applies to. */
static const struct {
        struct option getopt;
        CtlOption applies_to;
} option_table[] = {
        { { "help",        no_argument,       NULL, 'h' },             OPT_GLOBAL },
        { { "version",     no_argument,       NULL, ARG_VERSION },     OPT_GLOBAL },
        { { "user",        no_argument,       NULL, ARG_USER },        OPT_GLOBAL },
        { { "config-dir",  required_argument, NULL, ARG_CONFIG_DIR },  OPT_GLOBAL },
        { { "no-reload",   no_argument,       NULL, ARG_NO_RELOAD },   OPT_GLOBAL },
        { { "here",        no_argument,       NULL, ARG_HERE },        OPT_HERE },
        { { "long",        no_argument,       NULL, 'l' },             OPT_LONG },
        { { "on-calendar", required_argument, NULL, ARG_ON_CALENDAR }, OPT_ON_CALENDAR },
        { { "source",      required_argument, NULL, ARG_SOURCE },      OPT_SOURCE },
        { { "exclude",     required_argument, NULL, ARG_EXCLUDE },     OPT_EXCLUDE },
        { { "dest",        required_argument, NULL, ARG_DEST },        OPT_DEST },
        { { "compression", required_argument, NULL, ARG_COMPRESSION }, OPT_COMPRESSION },
        { { "keep",        required_argument, NULL, ARG_KEEP },        OPT_KEEP },
        { { "to",          required_argument, NULL, ARG_TO },          OPT_TO },
        { { "at",          required_argument, NULL, ARG_AT },          OPT_AT },
        { { "overwrite",   no_argument,       NULL, ARG_OVERWRITE },   OPT_OVERWRITE },
        { { "list",        no_argument,       NULL, ARG_LIST },        OPT_LIST },
        { { "dry-run",     no_argument,       NULL, ARG_DRY_RUN },     OPT_DRY_RUN },
        { { "key",         required_argument, NULL, ARG_KEY },         OPT_KEY },
        { { "notify",      no_argument,       NULL, ARG_NOTIFY },      OPT_NOTIFY },
        { { "json",        no_argument,       NULL, ARG_JSON },        OPT_JSON },
        { { "skip-packaged", no_argument,     NULL, ARG_SKIP_PACKAGED },   OPT_SKIP_PACKAGED },
        { { "verify-packaged", no_argument,   NULL, ARG_VERIFY_PACKAGED }, OPT_VERIFY_PACKAGED },
        { { "expect",      required_argument, NULL, ARG_EXPECT },      OPT_EXPECT },
        { { "unexpected",  no_argument,       NULL, ARG_UNEXPECTED },  OPT_UNEXPECTED },
        { { "explain",     no_argument,       NULL, ARG_EXPLAIN },     OPT_EXPLAIN },
        { { "archives",    no_argument,       NULL, ARG_ARCHIVES },    OPT_ARCHIVES },
        { { "yes",         no_argument,       NULL, ARG_YES },         OPT_YES },
        { { "dumps",       no_argument,       NULL, ARG_DUMPS },       OPT_DUMPS },
        { { "dump",        required_argument, NULL, ARG_DUMP },        OPT_DUMP },
        { { "lock-file",   required_argument, NULL, ARG_LOCK_FILE },   OPT_LOCK_FILE },
        { { "copy-to",     required_argument, NULL, ARG_COPY_TO },     OPT_COPY_TO },
        { { "copy-keep",   required_argument, NULL, ARG_COPY_KEEP },   OPT_COPY_KEEP },
};

static unsigned options_given;

static int parse_argv(int argc, char *argv[]) {
        struct option options[ELEMENTSOF(option_table) + 1] = {};
        int c;

        for (size_t i = 0; i < ELEMENTSOF(option_table); i++)
                options[i] = option_table[i].getopt;
        while ((c = getopt_long(argc, argv, "hl0", options, NULL)) >= 0) {
                if (c == '0')
                        options_given |= OPT_NUL;
                for (size_t i = 0; i < ELEMENTSOF(option_table); i++)
                        if (option_table[i].getopt.val == c)
                                options_given |= option_table[i].applies_to;
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts("alexandria " PACKAGE_VERSION);
                        return 0;
                case ARG_USER:
                        arg.user = true;
                        break;
                case ARG_CONFIG_DIR:
                        arg.config_dir = optarg;
                        break;
                case ARG_NO_RELOAD:
                        arg.no_reload = true;
                        break;
                case ARG_HERE:
                        arg.here = true;
                        break;
                case 'l':
                        arg.long_format = true;
                        break;
                case ARG_ON_CALENDAR:
                        arg.on_calendar = optarg;
                        break;
                case ARG_SOURCE:
                        if (strv_extend(&arg.sources, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_EXCLUDE:
                        if (strv_extend(&arg.excludes, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_DEST:
                        arg.destination = optarg;
                        break;
                case ARG_COMPRESSION:
                        arg.compression = optarg;
                        break;
                case ARG_KEEP:
                        arg.keep = optarg;
                        break;
                case ARG_TO:
                        arg.to = optarg;
                        break;
                case ARG_AT:
                        arg.at = optarg;
                        break;
                case ARG_OVERWRITE:
                        arg.overwrite = true;
                        break;
                case ARG_LIST:
                        arg.list_entries = true;
                        break;
                case ARG_DRY_RUN:
                        arg.dry_run = true;
                        break;
                case ARG_KEY:
                        arg.key = optarg;
                        break;
                case ARG_NOTIFY:
                        arg.notify = true;
                        break;
                case ARG_JSON:
                        arg.json = true;
                        break;
                case ARG_SKIP_PACKAGED:
                        arg.skip_packaged = true;
                        break;
                case ARG_VERIFY_PACKAGED:
                        arg.verify_packaged = true;
                        break;
                case ARG_EXPECT:
                        if (strv_extend(&arg.expects, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_UNEXPECTED:
                        arg.unexpected = true;
                        break;
                case ARG_EXPLAIN:
                        arg.explain = true;
                        break;
                case '0':
                        arg.null_separator = true;
                        break;
                case ARG_ARCHIVES:
                        arg.archives = true;
                        break;
                case ARG_YES:
                        arg.yes = true;
                        break;
                case ARG_DUMPS:
                        arg.dumps = true;
                        break;
                case ARG_DUMP:
                        if (strv_extend(&arg.dump, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_LOCK_FILE:
                        if (strv_extend(&arg.lock_files, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_COPY_TO:
                        if (strv_extend(&arg.copy_to, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_COPY_KEEP:
                        arg.copy_keep = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        }
        return 1;
}

/* What the dispatcher sets up before the verb runs (CtlContext). */
typedef enum VerbFlags {
        VERB_LOCK      = 1 << 0,        /* take the lock on schedules.d */
        VERB_SCHEDULES = 1 << 1,        /* load schedules.d (under the lock, if taken) */
        VERB_BUS       = 1 << 2,        /* connect to the manager, unless --no-reload */
} VerbFlags;

static const struct Verb {
        const char *name;
        int min_args, max_args;         /* counting the verb itself */
        VerbFlags flags;
        unsigned options;               /* beyond OPT_GLOBAL */
        int (*run)(int argc, char **argv);
} verbs[] = {
        { "create",  2, 2,       0,                          OPTS_CREATE,  verb_create },
        { "delete",  2, 2,       VERB_LOCK | VERB_SCHEDULES | VERB_BUS, OPT_ARCHIVES | OPT_YES, verb_delete },
        { "list",    1, 1,       VERB_SCHEDULES,             0,            verb_list },
        { "start",   1, INT_MAX, VERB_LOCK | VERB_SCHEDULES, 0,            verb_start },
        { "stop",    1, INT_MAX, VERB_LOCK | VERB_SCHEDULES, 0,            verb_stop },
        { "run",     2, 2,       VERB_SCHEDULES,             OPT_HERE,     verb_run },
        { "status",  1, 2,       VERB_SCHEDULES,             OPT_NOTIFY,   verb_status },
        /* doctor reports a schedules directory it cannot trust instead of failing on it */
        { "doctor",  1, 2,       0,                          OPT_JSON,     verb_doctor },
        { "backups", 1, 2,       VERB_SCHEDULES,             OPT_LONG | OPT_KEY, verb_backups },
        { "logs",    1, 2,       0,                          0,            verb_logs },
        { "history", 2, 2,       0,                          OPT_JSON,     verb_history },
        { "restore", 2, INT_MAX, VERB_SCHEDULES,             OPTS_RESTORE, verb_restore },
        /* verify ARCHIVE must work without any schedule (a recovery machine) */
        { "verify",  1, 2,       0,                          OPT_KEY,      verb_verify },
        { "keygen",  2, 2,       0,                          0,            verb_keygen },
        /* prune takes the destination's run lock itself (exit 4 while a run holds it) */
        { "prune",   2, 2,       VERB_SCHEDULES,             OPT_DRY_RUN,  verb_prune },
        /* notify says whose log its messages are before it reads anything */
        { "notify",  3, 3,       0,                          0,            verb_notify },
        { "reload",  1, 1,       VERB_LOCK,                  0,            verb_reload },
        { "report-failure", 2, 2, 0,                         0,            verb_report_failure },
        { "files",   2, 2,       VERB_SCHEDULES,             OPT_UNEXPECTED | OPT_EXPLAIN | OPT_NUL, verb_files },
        /* copy takes the schedule's own lock (destination.h), as a run does */
        { "copy",    2, 2,       VERB_SCHEDULES,             0,            verb_copy },
        { "serve",   2, 2,       VERB_SCHEDULES,             0,            verb_serve },
        /* prepare runs as root before the sandboxed worker: it creates the destination */
        { "prepare", 2, 2,       VERB_SCHEDULES,             0,            verb_prepare },
};

static int check_options(const struct Verb *v) {
        unsigned extra = options_given & ~(v->options | OPT_GLOBAL);
        if (extra & OPT_NUL) {
                log_error("Option -0 does not apply to '%s'. See %s --help.", v->name, program_invocation_short_name);
                return EXIT_USAGE;
        }
        for (size_t i = 0; extra && i < ELEMENTSOF(option_table); i++)
                if (extra & option_table[i].applies_to) {
                        log_error("Option %s--%s does not apply to '%s'. See %s --help.",
                                  option_table[i].getopt.val == 'l' ? "-l/" : "", option_table[i].getopt.name,
                                  v->name, program_invocation_short_name);
                        return EXIT_USAGE;
                }
        return EXIT_OK;
}

static int setup(const struct Verb *v) {
        int r;

        if (v->flags & VERB_LOCK) {
                r = ctl_lock_config(&ctx.lock_fd);
                if (r < 0)
                        return exit_code_for(r);
        }
        if (v->flags & VERB_SCHEDULES) {
                r = ctl_load_schedules(&ctx.schedules);
                if (r < 0)
                        return exit_code_for(r);
        }
        if ((v->flags & VERB_BUS) && !arg.no_reload && manager_connect(arg.user, &ctx.bus) < 0)
                return EXIT_FAILED;     /* said why */
        return EXIT_OK;
}

static int dispatch(int argc, char **argv) {
        if (argc == 0) {
                log_error("No verb given. See %s --help.", program_invocation_short_name);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const struct Verb *v = &verbs[i];
                if (!streq(argv[0], v->name))
                        continue;
                if (argc < v->min_args) {
                        log_error("Too few arguments for '%s'. See %s --help.", argv[0], program_invocation_short_name);
                        return EXIT_USAGE;
                }
                if (argc > v->max_args) {
                        log_error("Too many arguments for '%s'. See %s --help.", argv[0], program_invocation_short_name);
                        return EXIT_USAGE;
                }
                int r = check_options(v);
                if (r == EXIT_OK)
                        r = setup(v);
                if (r == EXIT_OK)
                        r = v->run(argc, argv);
                return r;
        }
        log_error("Unknown verb '%s'. See %s --help.", argv[0], program_invocation_short_name);
        return EXIT_USAGE;
}

/* Output that did not arrive is a failure, as with systemd's tools: a
 * listing cut short by a full disk must not look complete. */
static int check_stdout(int r) {
        if (fflush(stdout) == 0 && !ferror(stdout))
                return r;
        log_error_errno(errno > 0 ? errno : EIO, "Cannot write to standard output: %m");
        return r == EXIT_OK || r == EXIT_WARNINGS ? EXIT_FAILED : r;
}

static void ctx_done(void) {
        schedule_dir_done(&ctx.schedules);
        ctx.bus = sd_bus_flush_close_unref(ctx.bus);
        ctx.lock_fd = safe_close(ctx.lock_fd);
}

int main(int argc, char *argv[]) {
        int r;

        setlocale(LC_ALL, "");
        log_setup(LOG_TARGET_AUTO);

        r = parse_argv(argc, argv);
        if (r <= 0)
                r = r < 0 ? EXIT_USAGE : EXIT_OK;
        else {
                r = paths_init(arg.user, arg.config_dir, &paths);
                if (r < 0) {
                        log_error_errno(r, "Cannot determine the configuration directory (is $HOME set?): %m");
                        r = EXIT_USAGE;
                } else
                        r = dispatch(argc - optind, argv + optind);
        }

        r = check_stdout(r);
        ctx_done();
        paths_done(&paths);
        strv_free(arg.sources);
        strv_free(arg.excludes);
        strv_free(arg.expects);
        strv_free(arg.copy_to);
        return r;
}
