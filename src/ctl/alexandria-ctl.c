/* SPDX-License-Identifier: MIT */
/* alexandria-ctl: the one command people type. Options are parsed once for
 * all verbs; a verb table (name, argument counts, handler) dispatches. */
#include <getopt.h>
#include <limits.h>
#include <locale.h>

#include "ctl.h"
#include "log.h"

CtlArgs arg = {};
Paths paths = {};

static void help(void) {
        printf("Usage: %1$s [OPTIONS] VERB [ARGS]\n"
               "\n"
               "Manage backup schedules that run as systemd timers.\n"
               "\n"
               "Schedules:\n"
               "  create PATH;HH:MM;NAME          Back up PATH daily at HH:MM as schedule NAME\n"
               "  create NAME --on-calendar EXPR --source PATH [--source PATH…]\n"
               "         [--exclude GLOB…] [--dest DIR] [--compression gzip|zstd|xz|none] [--keep N]\n"
               "         [--copy-to URL…] [--copy-keep N|all]\n"
               "                                  Create a schedule with any systemd calendar\n"
               "  delete INDEX|NAME               Remove a schedule and its timer (archives stay)\n"
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
               "                                  with its cause and fix; exit 1 if there is one\n"
               "  logs [NAME]                     Journal history of schedules\n"
               "  history NAME [--json]           One line per run: time, result, kind, files, bytes\n"
               "                                  read, archive size, duration (from the run records)\n"
               "  backups [-l] [NAME]             Archives, one per line (-l: size, time, entries)\n"
               "  copy NAME                       Send the offsite targets (CopyTo=) what they are\n"
               "                                  missing, now, without a new backup\n"
               "\n"
               "Archives:\n"
               "  restore NAME [ARCHIVE | --at TIME] --to DIR [PATH…]\n"
               "                                  Restore the newest archive (or ARCHIVE, or the newest\n"
               "                                  at TIME), whole or only PATHs, into DIR\n"
               "  restore NAME [ARCHIVE] --list   Print the entries instead\n"
               "  verify [NAME | ARCHIVE]         Read every byte back and check it against the\n"
               "                                  archive's manifest (newest archive of NAME or all)\n"
               "  keygen FILE                     Make a new encryption key file (mode 0600)\n"
               "\n"
               "Used by the units:\n"
               "  reload                          Reload systemd and start/stop timers to match\n"
               "                                  the schedule files (after hand edits)\n"
               "  report-failure NAME             Log why alexandria@NAME.service failed\n"
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
               "     --dry-run                    With restore: say what would be written\n"
               "     --key FILE                   Key for encrypted archives (default: the\n"
               "                                  schedule's KeyFile=)\n"
               "     --json                       With doctor: print the checks as one JSON array;\n"
               "                                  with history: the runs as one JSON array\n"
               "\n"
               "Exit status: 0 ok, 1 failed, 2 bad usage or input (nothing changed),\n"
               "3 archive written with warnings, 4 another run holds the schedule's lock.\n"
               "See alexandria-ctl(1) and alexandria.schedule(5).\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100, ARG_USER, ARG_CONFIG_DIR, ARG_NO_RELOAD, ARG_HERE,
                ARG_ON_CALENDAR, ARG_SOURCE, ARG_EXCLUDE, ARG_DEST, ARG_COMPRESSION, ARG_KEEP,
                ARG_TO, ARG_AT, ARG_OVERWRITE, ARG_LIST, ARG_DRY_RUN, ARG_KEY, ARG_NOTIFY,
                ARG_JSON, ARG_COPY_TO, ARG_COPY_KEEP,
        };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h' },
                { "version",     no_argument,       NULL, ARG_VERSION },
                { "user",        no_argument,       NULL, ARG_USER },
                { "config-dir",  required_argument, NULL, ARG_CONFIG_DIR },
                { "no-reload",   no_argument,       NULL, ARG_NO_RELOAD },
                { "here",        no_argument,       NULL, ARG_HERE },
                { "long",        no_argument,       NULL, 'l' },
                { "on-calendar", required_argument, NULL, ARG_ON_CALENDAR },
                { "source",      required_argument, NULL, ARG_SOURCE },
                { "exclude",     required_argument, NULL, ARG_EXCLUDE },
                { "dest",        required_argument, NULL, ARG_DEST },
                { "compression", required_argument, NULL, ARG_COMPRESSION },
                { "keep",        required_argument, NULL, ARG_KEEP },
                { "to",          required_argument, NULL, ARG_TO },
                { "at",          required_argument, NULL, ARG_AT },
                { "overwrite",   no_argument,       NULL, ARG_OVERWRITE },
                { "list",        no_argument,       NULL, ARG_LIST },
                { "dry-run",     no_argument,       NULL, ARG_DRY_RUN },
                { "key",         required_argument, NULL, ARG_KEY },
                { "notify",      no_argument,       NULL, ARG_NOTIFY },
                { "json",        no_argument,       NULL, ARG_JSON },
                { "copy-to",     required_argument, NULL, ARG_COPY_TO },
                { "copy-keep",   required_argument, NULL, ARG_COPY_KEEP },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hl", options, NULL)) >= 0)
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
        return 1;
}

static const struct Verb {
        const char *name;
        int min_args, max_args;         /* counting the verb itself */
        int (*run)(int argc, char **argv);
} verbs[] = {
        { "create",  2, 2,       verb_create },
        { "delete",  2, 2,       verb_delete },
        { "list",    1, 1,       verb_list },
        { "start",   1, INT_MAX, verb_start },
        { "stop",    1, INT_MAX, verb_stop },
        { "run",     2, 2,       verb_run },
        { "status",  1, 2,       verb_status },
        { "doctor",  1, 2,       verb_doctor },
        { "backups", 1, 2,       verb_backups },
        { "logs",    1, 2,       verb_logs },
        { "history", 2, 2,       verb_history },
        { "restore", 2, INT_MAX, verb_restore },
        { "verify",  1, 2,       verb_verify },
        { "keygen",  2, 2,       verb_keygen },
        { "notify",  3, 3,       verb_notify },
        { "reload",  1, 1,       verb_reload },
        { "report-failure", 2, 2, verb_report_failure },
        { "copy",    2, 2,       verb_copy },
        { "serve",   2, 2,       verb_serve },
};

static int dispatch(int argc, char **argv) {
        if (argc == 0) {
                log_error("No verb given. See %s --help.", program_invocation_short_name);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(argv[0], verbs[i].name))
                        continue;
                if (argc < verbs[i].min_args) {
                        log_error("Too few arguments for '%s'. See %s --help.", argv[0], program_invocation_short_name);
                        return EXIT_USAGE;
                }
                if (argc > verbs[i].max_args) {
                        log_error("Too many arguments for '%s'. See %s --help.", argv[0], program_invocation_short_name);
                        return EXIT_USAGE;
                }
                return verbs[i].run(argc, argv);
        }
        log_error("Unknown verb '%s'. See %s --help.", argv[0], program_invocation_short_name);
        return EXIT_USAGE;
}

int main(int argc, char *argv[]) {
        int r;

        setlocale(LC_ALL, "");
        log_setup(LOG_TARGET_AUTO);

        r = parse_argv(argc, argv);
        if (r <= 0) {
                strv_free(arg.sources);
                strv_free(arg.excludes);
                strv_free(arg.copy_to);
                return r < 0 ? EXIT_USAGE : EXIT_OK;
        }

        r = paths_init(arg.user, arg.config_dir, &paths);
        if (r < 0) {
                log_error_errno(r, "Cannot determine the configuration directory (is $HOME set?): %m");
                return EXIT_USAGE;
        }

        r = dispatch(argc - optind, argv + optind);

        paths_done(&paths);
        strv_free(arg.sources);
        strv_free(arg.excludes);
        strv_free(arg.copy_to);
        return r;
}
