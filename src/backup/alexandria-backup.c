/* SPDX-License-Identifier: MIT */
/* alexandria-backup NAME: the worker that alexandria@NAME.service runs. One
 * schedule, one archive, then exit; systemd does the scheduling, the
 * supervision and the logging. */
#include <getopt.h>
#include <locale.h>
#include <systemd/sd-daemon.h>

#include "exit-codes.h"
#include "format-util.h"
#include "log.h"
#include "worker.h"

static bool arg_user = false;
static const char *arg_config_dir = NULL;

static void help(void) {
        printf("Usage: %s [OPTIONS] NAME\n"
               "\n"
               "Run backup schedule NAME once: write one archive to its destination,\n"
               "apply its retention, and log the outcome to the journal. This is what\n"
               "alexandria@NAME.service runs; people use `alexandria-ctl run NAME`.\n"
               "\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --user              Use the user's schedules ($XDG_CONFIG_HOME/alexandria)\n"
               "     --config-dir DIR    Read schedules from DIR/schedules.d\n"
               "\n"
               "Exit status: 0 archive written, 1 failed, 2 bad schedule or usage,\n"
               "3 archive written with warnings, 4 another run of NAME is in progress.\n"
               "See alexandria-backup(8).\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_USER, ARG_CONFIG_DIR };
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h' },
                { "version",    no_argument,       NULL, ARG_VERSION },
                { "user",       no_argument,       NULL, ARG_USER },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts("alexandria " PACKAGE_VERSION);
                        return 0;
                case ARG_USER:
                        arg_user = true;
                        break;
                case ARG_CONFIG_DIR:
                        arg_config_dir = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind + 1 != argc) {
                log_error("Expected exactly one schedule name. See --help.");
                return -EINVAL;
        }
        return 1;
}

/* STATUS= for `systemctl status alexandria@NAME`, at most once a second. */
static void notify_progress(const BackupStats *stats, const char *current, void *userdata) {
        static uint64_t last;
        uint64_t now = now_monotonic_usec();
        char bytes[FORMAT_BYTES_MAX];

        if (now - last < USEC_PER_SEC)
                return;
        last = now;
        (void) sd_notifyf(false, "STATUS=%llu files, %s read; now at %s",
                          (unsigned long long) stats->files, format_bytes(bytes, stats->bytes), strempty(current));
}

int main(int argc, char *argv[]) {
        Paths paths;
        int r;

        setlocale(LC_ALL, "");
        log_setup(LOG_TARGET_AUTO);

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_OK;

        const char *name = argv[optind];
        char field[128];
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", name);
        log_set_context_field(field);

        r = paths_init(arg_user, arg_config_dir, &paths);
        if (r < 0) {
                log_error_errno(r, "Cannot determine the configuration directory: %m");
                return EXIT_USAGE;
        }

        BackupCallbacks cb = {};
        if (getenv("NOTIFY_SOCKET"))
                cb.progress = notify_progress;
        r = worker_run(&paths, name, &cb);
        paths_done(&paths);
        return r;
}
