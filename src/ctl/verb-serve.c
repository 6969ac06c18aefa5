/* SPDX-License-Identifier: MIT */
/* serve NAME: the forced command of an ssh key that another machine uses to
 * pull backups, in authorized_keys as
 *
 *     command="alexandria-ctl serve NAME",restrict ssh-ed25519 AAAA… puller
 *
 * sshd puts what the client asked for in $SSH_ORIGINAL_COMMAND. Allowed are
 * exactly: "run", "status", and the command line a pulling rsync sends,
 * "rsync --server --sender OPTIONS . NAME/[ARCHIVE]", with options from a
 * list that reads and never writes or deletes; it is executed as
 * "rsync … . DESTINATION/" with filter rules that let only NAME's archives
 * out. Everything else is refused. Every request, allowed or refused, is a
 * journal event with the client's address. */
#include <ctype.h>
#include <stdarg.h>

#include "archive-list.h"
#include "ctl.h"
#include "events.h"
#include "log.h"
#include "spawn-util.h"

#define REQUEST_MAX 4096

typedef struct Request {
        const Schedule *schedule;
        const char *command;            /* $SSH_ORIGINAL_COMMAND */
        char remote[128];               /* the client's address and port */
        char shown[513];                /* the command as the journal shows it */
} Request;

static void request_init(Request *q, const Schedule *s, const char *name, const char *command) {
        const char *conn = getenv("SSH_CONNECTION");
        char ip[64] = "", port[16] = "";

        *q = (Request) { .schedule = s, .command = command };
        if (conn && sscanf(conn, "%63s %15s", ip, port) == 2)
                snprintf(q->remote, sizeof q->remote, strchr(ip, ':') ? "[%s]:%s" : "%s:%s", ip, port);
        else
                snprintf(q->remote, sizeof q->remote, "unknown (no SSH_CONNECTION)");
        size_t i = 0;
        for (const char *p = strempty(command); *p && i < sizeof q->shown - 1; p++)
                q->shown[i++] = (unsigned char) *p < 0x20 || *p == 0x7f ? '?' : *p;
        q->shown[i] = 0;
        (void) name;
}

static void request_log(const Request *q, const char *name, bool allowed, const char *why) {
        EventFields f = EVENT_FIELDS_INIT(name);
        f.remote = q->remote;
        f.request = q->shown;
        if (allowed)
                (void) event_emit(EVENT_SERVE_ALLOWED, &f, "serve %s: '%s' from %s allowed.", name, q->shown, q->remote);
        else
                (void) event_emit(EVENT_SERVE_REFUSED, &f, "serve %s: '%s' from %s refused: %s", name, q->shown, q->remote, why);
}

static int refuse(const Request *q, const char *name, const char *format, ...) _printf_(3, 4);
static int refuse(const Request *q, const char *name, const char *format, ...) {
        _cleanup_free_ char *why = NULL;
        va_list ap;
        va_start(ap, format);
        if (vasprintf(&why, format, ap) < 0)
                why = NULL;
        va_end(ap);
        request_log(q, name, false, strempty(why));
        /* stderr goes back to the client through ssh */
        fprintf(stderr, "alexandria serve %s: refused: %s\n", name, strempty(why));
        return EXIT_USAGE;
}

/* ---- the rsync command line ---- */

/* Short options of a pulling client that only shape what is read and how
 * it travels: -a's rlptgoD, -v, -z, -H, -A, -X, -S, -c, -n, … Not -s (the
 * paths would come over the protocol, unchecked), -R (would show the
 * destination's path), -L/-k/-K (follow symlinks). */
#define SHORT_ALLOWED "vqlogDtprcHAXzSWnIOJNUdmCEx"

static const char *const long_flags[] = {
        "--numeric-ids", "--no-implied-dirs", "--sparse", "--size-only", "--ignore-times", "--open-noatime",
        "--list-only", "--no-r", "--no-relative", "--new-compress", "--old-compress", "--compress",
        "--one-file-system", "--safe-links", "--hard-links", "--acls", "--xattrs", "--checksum", "--dry-run",
        "--msgs2stderr", "--no-msgs2stderr", "--no-W", "--whole-file",
};
static const char *const long_values[] = {
        "--bwlimit", "--timeout", "--compress-level", "--zl", "--compress-choice", "--zc", "--checksum-choice",
        "--cc", "--checksum-seed", "--max-size", "--min-size", "--modify-window", "--block-size",
};

static bool short_cluster_ok(const char *a) {
        /* "-vlogDtpre.iLsfxCIvu": letters, then 'e' and the capability string */
        const char *p = a + 1;
        if (!*p)
                return false;
        for (; *p && *p != 'e'; p++)
                if (!strchr(SHORT_ALLOWED, *p))
                        return false;
        if (*p == 'e') {
                p++;
                p += strspn(p, "0123456789");
                if (*p != '.')
                        return false;
                for (p++; *p; p++)
                        if (!isalpha((unsigned char) *p))
                                return false;
        }
        return true;
}

static const char *option_problem(const char *a) {
        if (strstr(a, "delete") || strstr(a, "remove"))
                return "nothing is deleted or removed through serve";
        if (a[1] != '-')
                return short_cluster_ok(a) ? NULL : "only options that read are allowed";
        for (size_t i = 0; i < ELEMENTSOF(long_flags); i++)
                if (streq(a, long_flags[i]))
                        return NULL;
        for (size_t i = 0; i < ELEMENTSOF(long_values); i++) {
                const char *v = startswith(a, long_values[i]);
                if (v && v[0] == '=' && v[1] &&
                    strspn(v + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,_-") == strlen(v + 1))
                        return NULL;
        }
        return "only options that read are allowed";
}

/* NAME/ or NAME/ARCHIVE, as rsync spells it ("./NAME/", "/NAME//x"):
 * *ret_archive is NULL for the directory. */
static int parse_path(const char *name, const char *path, char **ret_archive, const char **ret_problem) {
        while (startswith(path, "./"))
                path += 2;
        path += strspn(path, "/");
        const char *rest = startswith(path, name);
        if (!rest || (*rest && *rest != '/')) {
                *ret_problem = "it is outside the schedule's archives (ask for NAME/)";
                return -EPERM;
        }
        if (!*rest) {
                *ret_problem = "ask for NAME/ with the slash (the archives), not for a directory named after the schedule";
                return -EPERM;
        }
        rest += strspn(rest, "/");
        if (!*rest || streq(rest, ".") || streq(rest, "./")) {
                *ret_archive = NULL;
                return 0;
        }
        _cleanup_free_ char *owner = NULL;
        if (strchr(rest, '/') || !archive_name_parse(rest, &owner, NULL, NULL, NULL) || !streq(owner, name)) {
                *ret_problem = "it is outside the schedule's archives (ask for NAME/ or NAME/ARCHIVE)";
                return -EPERM;
        }
        *ret_archive = strdup(rest);
        return *ret_archive ? 0 : -ENOMEM;
}

static bool rsync_can_confine(void) {
        _cleanup_free_ char *out = NULL;
        int status;
        char *argv[] = { (char *) "rsync", (char *) "--help", NULL };
        return spawn_capture(argv, &out, NULL, &status) >= 0 && strstr(out, "--confine-root");
}

static int serve_rsync(const Request *q, const char *name) {
        const Schedule *s = q->schedule;
        _cleanup_strv_free_ char **words = NULL, **argv = NULL;
        _cleanup_free_ char *copy = strdup(q->command), *archive = NULL;
        ArchiveInfo *list = NULL;
        size_t n = 0, i;
        int r;

        if (!copy)
                return log_oom(), EXIT_FAILED;
        /* rsync sends plain words; anything a shell would interpret is not one of ours */
        if (strpbrk(copy, "\\'\"`$;&|<>(){}*?[]~!#\n\r"))
                return refuse(q, name, "characters that rsync does not send for NAME/ (quotes, globs, shell syntax)");
        for (char *w = strtok(copy, " \t"); w; w = strtok(NULL, " \t"))
                if (strv_extend(&words, w) < 0)
                        return log_oom(), EXIT_FAILED;
        size_t nw = strv_length(words);
        if (nw < 3 || !streq(words[0], "rsync") || !streq(words[1], "--server") || !streq(words[2], "--sender"))
                return refuse(q, name, "only a pulling rsync (rsync --server --sender …) may run; uploads are not allowed");

        for (i = 3; i < nw && !streq(words[i], "."); i++) {
                const char *problem = option_problem(words[i]);
                if (problem)
                        return refuse(q, name, "option %s is not allowed: %s", words[i], problem);
        }
        if (i + 1 >= nw)
                return refuse(q, name, "no path: ask for %s/", name);
        size_t first_path = i + 1;
        if (nw - first_path > 1)
                return refuse(q, name, "one path at a time (%s/ or %s/ARCHIVE)", name, name);
        const char *problem = NULL;
        r = parse_path(name, words[first_path], &archive, &problem);
        if (r == -ENOMEM)
                return log_oom(), EXIT_FAILED;
        if (r < 0)
                return refuse(q, name, "path %s: %s", words[first_path], problem);

        r = archive_list(s->destination, s->name, &list, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot list %s: %m", s->destination);
                return EXIT_FAILED;
        }
        bool found = !archive;
        for (size_t k = 0; k < n; k++)
                found = found || streq(list[k].filename, archive);
        if (!found) {
                archive_list_free(list, n);
                return refuse(q, name, "%s/%s is no archive of %s", name, archive, name);
        }

        /* Our rules come first: rsync takes the first rule that matches, so
         * the client's own rules (which travel over the protocol) can only
         * narrow what goes out, never widen it. */
        r = strv_extend(&argv, "rsync");
        if (r >= 0 && rsync_can_confine()) {
                /* merge files named in the client's rules stay inside too */
                _cleanup_free_ char *confine = NULL;
                r = asprintf(&confine, "--confine-root=%s", s->destination) < 0 ? -ENOMEM : strv_extend(&argv, confine);
        }
        for (size_t k = 0; k < n && r >= 0; k++) {
                _cleanup_free_ char *rule = NULL;
                if (archive && !streq(list[k].filename, archive))
                        continue;
                r = asprintf(&rule, "--include=/%s", list[k].filename) < 0 ? -ENOMEM : strv_extend(&argv, rule);
        }
        archive_list_free(list, n);
        if (r >= 0)
                r = strv_extend(&argv, "--exclude=*");
        for (size_t k = 1; k < first_path && r >= 0; k++)
                r = strv_extend(&argv, words[k]);
        if (r >= 0) {
                _cleanup_free_ char *source = NULL;
                r = asprintf(&source, "%s/%s", s->destination, strempty(archive)) < 0 ? -ENOMEM : strv_extend(&argv, source);
        }
        if (r < 0)
                return log_oom(), EXIT_FAILED;

        request_log(q, name, true, NULL);
        fflush(stdout);
        execvp("rsync", argv);
        log_error_errno(negative_errno(), "Cannot run rsync: %m");
        return EXIT_FAILED;
}

int verb_serve(int argc, char **argv) {
        const char *name = argv[1], *command = getenv("SSH_ORIGINAL_COMMAND");
        const ScheduleEntry *e;
        Request q;

        if (!schedule_name_is_valid(name)) {
                log_error("Invalid schedule name '%s'.", name);
                return EXIT_USAGE;
        }
        char field[128];
        snprintf(field, sizeof field, "ALEXANDRIA_SCHEDULE=%s", name);
        log_set_context_field(field);

        e = schedule_dir_find(&ctx.schedules, name);
        request_init(&q, e ? e->schedule : NULL, name, command);
        if (!e || !e->schedule)
                return refuse(&q, name, "there is no valid schedule '%s' here", name);

        if (isempty(command))
                return refuse(&q, name, "no command: this is an ssh forced command; ask for run, status, "
                              "or pull with rsync -a -e ssh HOST:%s/ DIR/", name);
        if (strlen(command) > REQUEST_MAX)
                return refuse(&q, name, "the command is longer than %d bytes", REQUEST_MAX);

        if (streq(command, "run") || streq(command, "status")) {
                char *verb_argv[] = { (char *) command, (char *) name, NULL };
                request_log(&q, name, true, NULL);
                return streq(command, "run") ? verb_run(2, verb_argv) : verb_status(2, verb_argv);
        }
        if (startswith(command, "rsync "))
                return serve_rsync(&q, name);
        return refuse(&q, name, "only run, status and a read-only rsync of %s/ are allowed", name);
}
