/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <inttypes.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "copy-target.h"
#include "command-line.h"
#include "format-util.h"
#include "ini.h"
#include "path-util.h"
#include "schedule.h"
#include "timespan.h"
#include "trust.h"

static const char *const compression_table[_COMPRESSION_MAX] = {
        [COMPRESSION_GZIP] = "gzip",
        [COMPRESSION_ZSTD] = "zstd",
        [COMPRESSION_XZ]   = "xz",
        [COMPRESSION_NONE] = "none",
};

static const char *const compression_suffix_table[_COMPRESSION_MAX] = {
        [COMPRESSION_GZIP] = ".tar.gz",
        [COMPRESSION_ZSTD] = ".tar.zst",
        [COMPRESSION_XZ]   = ".tar.xz",
        [COMPRESSION_NONE] = ".tar",
};

DEFINE_STRING_TABLE_LOOKUP(compression, Compression);

const char *compression_suffix(Compression c) {
        return c >= 0 && c < _COMPRESSION_MAX ? compression_suffix_table[c] : NULL;
}

bool schedule_name_is_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > SCHEDULE_NAME_MAX || !isalnum((unsigned char) name[0]))
                return false;
        for (const char *p = name; *p; p++)
                if (!(isalnum((unsigned char) *p) || strchr("_.-", *p)) || *p & 0x80)
                        return false;
        return true;
}

bool schedule_name_is_reserved(const char *name) {
        /* alexandria-watchdog.timer is ours */
        return streq(name, "watchdog");
}

bool calendar_chars_are_safe(const char *expr) {
        if (isempty(expr))
                return false;
        for (const char *p = expr; *p; p++)
                if (!(isalnum((unsigned char) *p) || strchr(" *:,./~+_-", *p)) || *p & 0x80)
                        return false;
        return true;
}

Schedule *schedule_free(Schedule *s) {
        if (!s)
                return NULL;
        free(s->name);
        free(s->path);
        free(s->on_calendar);
        strv_free(s->sources);
        strv_free(s->excludes);
        free(s->destination);
        free(s->key_file);
        strv_free(s->expects);
        strv_free(s->copy_to);
        free(s->ssh_command);
        free(s->rclone_config);
        free(s->destination_group);
        free(s->full_every);
        for (size_t i = 0; i < s->n_dumps; i++) {
                free(s->dumps[i].entry);
                free(s->dumps[i].command);
                strv_free(s->dumps[i].argv);
        }
        free(s->dumps);
        for (size_t i = 0; i < s->n_locks; i++)
                free(s->locks[i].path);
        free(s->locks);
        for (size_t i = 0; i < s->n_exec_start_pre; i++)
                free(s->exec_start_pre[i].command), strv_free(s->exec_start_pre[i].argv);
        free(s->exec_start_pre);
        for (size_t i = 0; i < s->n_exec_stop_post; i++)
                free(s->exec_stop_post[i].command), strv_free(s->exec_stop_post[i].argv);
        free(s->exec_stop_post);
        free(s->notify_command);
        strv_free(s->mail);
        free(s->ping_url);
        free(s);
        return NULL;
}

int schedule_new(const char *name, const char *default_destination, Schedule **ret) {
        _cleanup_schedule_free_ Schedule *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        *s = (Schedule) {
                .persistent = true,
                .enabled = true,
                .compression = COMPRESSION_GZIP,
                .notify_on_warnings = true,
                .dump_timeout_sec = SCHEDULE_DUMP_TIMEOUT_DEFAULT,
                .lock_timeout_sec = SCHEDULE_LOCK_TIMEOUT_DEFAULT,
                .shrink_warn = SCHEDULE_SHRINK_WARN_DEFAULT,
        };
        s->name = strdup(name);
        s->destination = strdup(default_destination);
        if (!s->name || !s->destination)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- the keys of a schedule file ---- */

typedef struct LoadState {
        Schedule *schedule;
#define SCHEDULE_KEYS_MAX 64
        unsigned seen_line[SCHEDULE_KEYS_MAX];  /* per key: line of first assignment, for duplicates */
} LoadState;

typedef int (*key_parser_t)(Schedule *s, const char *key, const char *value, char **ret_error);

int parse_bool(const char *v, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0)
                        return *ret = true, 0;
                if (strcasecmp(v, no[i]) == 0)
                        return *ret = false, 0;
        }
        return -EINVAL;
}

static int parse_uint(const char *v, uint64_t max, uint64_t *ret) {
        if (!isdigit((unsigned char) v[0]) || strlen(v) > 20)
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        if (u > max)
                return -ERANGE;
        *ret = u;
        return 0;
}

static int key_on_calendar(Schedule *s, const char *key, const char *v, char **ret_error) {
        if (!calendar_chars_are_safe(v))
                return errorf(ret_error, -EINVAL,
                              "%s=%s is not a calendar expression (allowed: letters, digits, space and *:,./~+_-)", key, v);
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(s->on_calendar);
        s->on_calendar = c;
        return 0;
}

static int key_bool(bool *field, const char *key, const char *v, char **ret_error) {
        if (parse_bool(v, field) < 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not a boolean (use yes or no)", key, v);
        return 0;
}

static int key_persistent(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_bool(&s->persistent, key, v, ret_error);
}

static int key_enabled(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_bool(&s->enabled, key, v, ret_error);
}

static const struct { const char *suffix; uint64_t mult; } time_units[] = {
        { "s", 1 }, { "sec", 1 }, { "min", 60 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 }, { "", 1 },
};

/* Seconds, or a number with s, min, h or d; at most a year. */
static int parse_time_span(const char *v, uint64_t *ret) {
        char digits[24];
        size_t n = strspn(v, "0123456789");
        if (n == 0 || n >= sizeof digits)
                return -EINVAL;
        memcpy(digits, v, n);
        digits[n] = 0;
        for (size_t i = 0; i < ELEMENTSOF(time_units); i++) {
                uint64_t u;
                if (!streq(v + n, time_units[i].suffix))
                        continue;
                if (parse_uint(digits, UINT64_C(366) * 86400 / time_units[i].mult, &u) < 0)
                        return -EINVAL;
                *ret = u * time_units[i].mult;
                return 0;
        }
        return -EINVAL;
}

static int key_randomized_delay(Schedule *s, const char *key, const char *v, char **ret_error) {
        if (parse_time_span(v, &s->randomized_delay_sec) < 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not a time span (seconds, or a number with s, min, h or d, at most a year)", key, v);
        return 0;
}

/* V without "//", "/./" and a trailing "/". "/srv/\\/" becomes "/srv/\\" and
 * "/srv/x /" "/srv/x ", which the file cannot hold: written back, one would
 * continue the line, the other lose its space. */
static int normalize_value(const char *key, const char *v, char **ret, char **ret_error) {
        char *p = path_normalize(v);
        if (!p)
                return -ENOMEM;
        size_t n = strlen(p);
        if (n > 0 && (p[n - 1] == '\\' || isspace((unsigned char) p[n - 1]))) {
                const char *what = p[n - 1] == '\\' ? "backslash" : "space";
                free(p);
                return errorf(ret_error, -EINVAL, "%s=%s ends in a %s, which a schedule file cannot hold", key, v, what);
        }
        *ret = p;
        return 0;
}

static int path_value(const char *key, const char *v, char **ret, char **ret_error) {
        if (isempty(v))
                return errorf(ret_error, -EINVAL, "%s= is empty: give an absolute path", key);
        if (v[0] != '/')
                return errorf(ret_error, -EINVAL, "%s=%s is not an absolute path", key, v);
        if (strlen(v) >= PATH_MAX)
                return errorf(ret_error, -ENAMETOOLONG, "%s= path is too long", key);
        /* ".." would end up in archive entry names, which restore refuses. */
        if (strstr(v, "/../") || endswith(v, "/.."))
                return errorf(ret_error, -EINVAL, "%s=%s contains a '..' component; give the path without it", key, v);
        return normalize_value(key, v, ret, ret_error);
}

static int key_source(Schedule *s, const char *key, const char *v, char **ret_error) {
        char *p;
        int r = path_value(key, v, &p, ret_error);
        if (r < 0)
                return r;
        if (strv_contains(s->sources, p)) {
                free(p);
                return errorf(ret_error, -EINVAL, "%s=%s is listed twice", key, v);
        }
        return strv_push(&s->sources, p);
}

static int key_exclude(Schedule *s, const char *key, const char *v, char **ret_error) {
        if (isempty(v))
                return errorf(ret_error, -EINVAL, "%s= is empty: give a glob such as *.tmp", key);
        /* "cache/" and "//srv//x" mean "cache" and "/srv/x": a pattern that
         * can never match would silently exclude nothing. */
        char *p;
        int r = normalize_value(key, v, &p, ret_error);
        if (r < 0)
                return r;
        return strv_push(&s->excludes, p);
}

static int key_destination(Schedule *s, const char *key, const char *v, char **ret_error) {
        char *p;
        int r = path_value(key, v, &p, ret_error);
        if (r < 0)
                return r;
        free(s->destination);
        s->destination = p;
        return 0;
}

static int key_compression(Schedule *s, const char *key, const char *v, char **ret_error) {
        Compression c = compression_from_string(v);
        if (c < 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not supported (use gzip, zstd, xz or none)", key, v);
        s->compression = c;
        return 0;
}

static int key_keep(Schedule *s, const char *key, const char *v, char **ret_error) {
        uint64_t u;
        if (parse_uint(v, SCHEDULE_KEEP_MAX, &u) < 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not a count of archives (0 keeps all, at most %u)",
                              key, v, SCHEDULE_KEEP_MAX);
        s->keep = (unsigned) u;
        return 0;
}

static int key_full_every(Schedule *s, const char *key, const char *v, char **ret_error) {
        uint64_t usec;
        int r = timespan_parse(v, &usec);
        if (r < 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not a time span (like 7d, 1w, 12h or 2weeks; see systemd.time(7))", key, v);
        char *c = NULL;
        if (usec > 0 && !(c = strdup(v)))
                return -ENOMEM;
        /* 0 means what unset means: every run is full */
        free(s->full_every);
        s->full_every = c;
        s->full_every_usec = usec;
        return 0;
}

static int key_keep_calendar(unsigned *field, const char *key, const char *v, char **ret_error) {
        uint64_t u;
        if (parse_uint(v, SCHEDULE_KEEP_MAX, &u) < 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not a count of restore points (0: unused, at most %u)",
                              key, v, SCHEDULE_KEEP_MAX);
        *field = (unsigned) u;
        return 0;
}

static int key_keep_daily(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_keep_calendar(&s->keep_daily, key, v, ret_error);
}

static int key_keep_weekly(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_keep_calendar(&s->keep_weekly, key, v, ret_error);
}

static int key_keep_monthly(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_keep_calendar(&s->keep_monthly, key, v, ret_error);
}

static int key_keep_yearly(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_keep_calendar(&s->keep_yearly, key, v, ret_error);
}

static int key_verify(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_bool(&s->verify, key, v, ret_error);
}

static int key_encryption(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_bool(&s->encryption, key, v, ret_error);
}

static int key_key_file(Schedule *s, const char *key, const char *v, char **ret_error) {
        char *p;
        int r = path_value(key, v, &p, ret_error);
        if (r < 0)
                return r;
        free(s->key_file);
        s->key_file = p;
        return 0;
}

static int key_skip_packaged(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_bool(&s->skip_packaged, key, v, ret_error);
}

static int key_verify_packaged(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_bool(&s->verify_packaged, key, v, ret_error);
}

static int key_expect(Schedule *s, const char *key, const char *v, char **ret_error) {
        if (isempty(v))
                return errorf(ret_error, -EINVAL, "%s= is empty: give an absolute path or glob such as /srv or /etc/*.conf", key);
        if (v[0] != '/')
                return errorf(ret_error, -EINVAL, "%s=%s is not absolute: give a path or glob starting with /", key, v);
        if (strstr(v, "/../") || endswith(v, "/.."))
                return errorf(ret_error, -EINVAL, "%s=%s contains a '..' component; give the path without it", key, v);
        /* normalized as Source= is: what the file cannot hold is refused */
        char *p;
        int r = normalize_value(key, v, &p, ret_error);
        if (r < 0)
                return r;
        if (strstr(p, "/../") || endswith(p, "/..")) {
                free(p);
                return errorf(ret_error, -EINVAL, "%s=%s contains a '..' component; give the path without it", key, v);
        }
        if (strv_contains(s->expects, p)) {
                free(p);
                return errorf(ret_error, -EINVAL, "%s=%s is listed twice", key, v);
        }
        return strv_push(&s->expects, p);
}

static int key_copy_to(Schedule *s, const char *key, const char *v, char **ret_error) {
        _cleanup_copy_target_free_ CopyTarget *t = NULL;
        _cleanup_free_ char *error = NULL;
        int r = copy_target_parse(v, &t, &error);
        if (r == -EINVAL) {
                /* the parser names the key; keep its message as it is */
                *ret_error = TAKE_PTR(error);
                return r;
        }
        if (r < 0)
                return r;
        if (strv_contains(s->copy_to, v))
                return errorf(ret_error, -EINVAL, "%s=%s is listed twice", key, t->display);
        return strv_extend(&s->copy_to, v);
}

static int key_ssh_command(Schedule *s, const char *key, const char *v, char **ret_error) {
        if (!ssh_command_is_valid(v))
                return errorf(ret_error, -EINVAL, "%s=%s is not a command (a program, then its options, such as ssh -i /etc/alexandria/offsite.key)",
                              key, v);
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(s->ssh_command);
        s->ssh_command = c;
        return 0;
}

static int key_rclone_config(Schedule *s, const char *key, const char *v, char **ret_error) {
        char *p;
        int r = path_value(key, v, &p, ret_error);
        if (r < 0)
                return r;
        free(s->rclone_config);
        s->rclone_config = p;
        return 0;
}

static int key_copy_keep(Schedule *s, const char *key, const char *v, char **ret_error) {
        uint64_t u;
        if (streq(v, "all")) {
                s->copy_keep = COPY_KEEP_ALL;
                return 0;
        }
        if (parse_uint(v, SCHEDULE_KEEP_MAX, &u) < 0 || u == 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not a count of archives (1-%u, or \"all\" to never delete; "
                              "leave it out to keep what the destination keeps)", key, v, SCHEDULE_KEEP_MAX);
        s->copy_keep = (unsigned) u;
        return 0;
}

static int key_destination_group(Schedule *s, const char *key, const char *v, char **ret_error) {
        /* useradd's rules for names: no option, no path, nothing to escape */
        size_t n = strlen(v);
        if (n == 0 || n > 32 || !(islower((unsigned char) v[0]) || v[0] == '_') ||
            strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
                return errorf(ret_error, -EINVAL, "%s=%s is not a group name (lower-case letters, digits, _ and -, at most 32)", key, v);
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(s->destination_group);
        s->destination_group = c;
        return 0;
}

static int key_shrink_warn(Schedule *s, const char *key, const char *v, char **ret_error) {
        uint64_t u;
        const char *digits = v;
        _cleanup_free_ char *copy = NULL;

        /* only the word: "0" would read as 0%, which means nothing */
        if (streq(v, "no")) {
                s->shrink_warn = 0;
                return 0;
        }
        if (endswith(v, "%")) {
                copy = strndup(v, strlen(v) - 1);
                if (!copy)
                        return -ENOMEM;
                digits = copy;
        }
        if (parse_uint(digits, 99, &u) < 0 || u < 1)
                return errorf(ret_error, -EINVAL, "%s=%s is not a percentage from 1%% to 99%%, or no", key, v);
        s->shrink_warn = (unsigned) u;
        return 0;
}

static int key_notify_command(Schedule *s, const char *key, const char *v, char **ret_error) {
        if (isempty(v))
                return errorf(ret_error, -EINVAL, "%s= is empty: give a command", key);
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(s->notify_command);
        s->notify_command = c;
        return 0;
}

static int key_mail(Schedule *s, const char *key, const char *v, char **ret_error) {
        /* One address per assignment; refuse what sendmail would take for an option or a second header. */
        if (isempty(v) || v[0] == '-' || !strchr(v, '@') || strpbrk(v, " ,;<>\"\\"))
                return errorf(ret_error, -EINVAL, "%s=%s is not one mail address (one per line, like user@example.org)", key, v);
        return strv_extend(&s->mail, v);
}

static int key_ping_url(Schedule *s, const char *key, const char *v, char **ret_error) {
        /* The URL is a secret (its path is the check's token): messages show it redacted. */
        if (!startswith(v, "http://") && !startswith(v, "https://"))
                return errorf(ret_error, -EINVAL, "%s= is not an http:// or https:// URL (the value is not shown: it may hold a token)", key);
        if (strpbrk(v, " \"") || endswith(v, "/")) {
                _cleanup_free_ char *shown = redact_urls(v);
                return errorf(ret_error, -EINVAL, "%s=%s: no spaces or quotes, and no trailing '/' (/start and /fail are appended)",
                              key, strempty(shown));
        }
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(s->ping_url);
        s->ping_url = c;
        return 0;
}

static int key_notify_on_warnings(Schedule *s, const char *key, const char *v, char **ret_error) {
        return key_bool(&s->notify_on_warnings, key, v, ret_error);
}

/* ---- dumps, locks and hooks ---- */

static bool dump_entry_is_valid(const char *e) {
        size_t n = strlen(e);
        if (n == 0 || n > SCHEDULE_DUMP_ENTRY_MAX || !isalnum((unsigned char) e[0]))
                return false;
        for (const char *p = e; *p; p++)
                if (!(isalnum((unsigned char) *p) || strchr("_.+@-", *p)) || *p & 0x80)
                        return false;
        return true;
}

static int key_dump(Schedule *s, const char *key, const char *v, char **ret_error) {
        _cleanup_free_ char *entry = NULL, *command = NULL, *why = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        size_t n = strcspn(v, " \t");

        if (n == 0)
                return errorf(ret_error, -EINVAL, "%s= is empty: give ENTRY COMMAND [ARGUMENTS…], e.g. "
                              "%s=postgresql.sql runuser -u postgres -- pg_dumpall", key, key);
        entry = strndup(v, n);
        if (!entry)
                return -ENOMEM;
        if (strchr(entry, '/') || strstr(entry, ".."))
                return errorf(ret_error, -EINVAL, "%s=%s: the entry name '%s' must be a plain file name (no '/', no '..'); "
                              "it names a file in " SCHEDULE_DUMPS_DIR "/", key, v, entry);
        if (!dump_entry_is_valid(entry))
                return errorf(ret_error, -EINVAL, "%s=%s: the entry name '%s' must be 1-%d characters from A-Z a-z 0-9 _ . + @ -, "
                              "starting with a letter or digit", key, v, entry, SCHEDULE_DUMP_ENTRY_MAX);
        for (size_t i = 0; i < s->n_dumps; i++)
                if (streq(s->dumps[i].entry, entry))
                        return errorf(ret_error, -EINVAL, "%s=%s: the entry name '%s' is used twice", key, v, entry);
        const char *rest = v + n + strspn(v + n, " \t");
        if (*rest == 0)
                return errorf(ret_error, -EINVAL, "%s=%s: no command: give ENTRY COMMAND [ARGUMENTS…]", key, v);
        int r = command_line_split(rest, &argv, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errorf(ret_error, r, "%s=%s: cannot split the command: %s", key, v, why);
        command = strdup(rest);
        if (!command)
                return -ENOMEM;

        ScheduleDump *a = reallocarray(s->dumps, s->n_dumps + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        s->dumps = a;
        a[s->n_dumps++] = (ScheduleDump) { TAKE_PTR(entry), TAKE_PTR(command), TAKE_PTR(argv) };
        return 0;
}

static int timeout_value(const char *key, const char *v, uint64_t *ret, char **ret_error) {
        if (streq(v, "infinity")) {
                *ret = SCHEDULE_TIMEOUT_INFINITY;
                return 0;
        }
        if (parse_time_span(v, ret) < 0)
                return errorf(ret_error, -EINVAL, "%s=%s is not a time span (seconds, or a number with s, min, h or d, "
                              "at most a year; or infinity)", key, v);
        return 0;
}

static int key_dump_timeout(Schedule *s, const char *key, const char *v, char **ret_error) {
        int r = timeout_value(key, v, &s->dump_timeout_sec, ret_error);
        if (r >= 0 && s->dump_timeout_sec == 0)
                return errorf(ret_error, -EINVAL, "%s=0 would fail every dump; give a time span or infinity", key);
        return r;
}

static int key_lock_file(Schedule *s, const char *key, const char *v, char **ret_error) {
        _cleanup_free_ char *given = strdup(v), *p = NULL;
        bool shared = false;
        if (!given)
                return -ENOMEM;
        char *colon = strrchr(given, ':');
        if (colon && streq(colon, ":shared"))
                *colon = 0, shared = true;
        else if (colon && streq(colon, ":exclusive"))
                *colon = 0;
        int r = path_value(key, given, &p, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_locks; i++)
                if (streq(s->locks[i].path, p))
                        return errorf(ret_error, -EINVAL, "%s=%s is listed twice", key, v);
        ScheduleLock *a = reallocarray(s->locks, s->n_locks + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        s->locks = a;
        a[s->n_locks++] = (ScheduleLock) { .path = TAKE_PTR(p), .shared = shared };
        return 0;
}

static int key_lock_timeout(Schedule *s, const char *key, const char *v, char **ret_error) {
        return timeout_value(key, v, &s->lock_timeout_sec, ret_error);
}

/* The same command line systemd will see in the drop-in: only the prefixes
 * "-" (failure ignored) and "+" (outside the sandbox) are taken; the others
 * change how systemd runs a command in ways `run --here` could not copy. */
static int hook_value(ScheduleHook **hooks, size_t *n, const char *key, const char *v, char **ret_error) {
        _cleanup_free_ char *why = NULL, *command = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        ScheduleHook h = {};
        const char *p = v;

        for (;; p++) {
                if (*p == '-' && !h.ignore_failure)
                        h.ignore_failure = true;
                else if (*p == '+' && !h.privileged)
                        h.privileged = true;
                else
                        break;
        }
        if (*p && strchr("@:!-+", *p))
                return errorf(ret_error, -EINVAL, "%s=%s: only the prefixes '-' and '+' are supported", key, v);
        if (isempty(p))
                return errorf(ret_error, -EINVAL, "%s= is empty: give a command", key);
        int r = command_line_split(p, &argv, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errorf(ret_error, r, "%s=%s: cannot split the command: %s", key, v, why);
        /* systemd expands "$$" in arguments only, not in the command's name */
        if (strchr(argv[0], '$'))
                return errorf(ret_error, -EINVAL, "%s=%s: a '$' in the command's name cannot reach systemd unchanged", key, v);
        command = strdup(v);
        if (!command)
                return -ENOMEM;
        ScheduleHook *a = reallocarray(*hooks, *n + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        *hooks = a;
        h.command = TAKE_PTR(command);
        h.argv = TAKE_PTR(argv);
        a[(*n)++] = h;
        return 0;
}

static int key_exec_start_pre(Schedule *s, const char *key, const char *v, char **ret_error) {
        return hook_value(&s->exec_start_pre, &s->n_exec_start_pre, key, v, ret_error);
}

static int key_exec_stop_post(Schedule *s, const char *key, const char *v, char **ret_error) {
        return hook_value(&s->exec_stop_post, &s->n_exec_stop_post, key, v, ret_error);
}

/* Items remember their line for the checks after parsing; the one just
 * added is the one whose line is still 0. */
static void stamp_line(Schedule *s, unsigned line) {
        if (s->n_dumps > 0 && s->dumps[s->n_dumps - 1].line == 0)
                s->dumps[s->n_dumps - 1].line = line;
        if (s->n_locks > 0 && s->locks[s->n_locks - 1].line == 0)
                s->locks[s->n_locks - 1].line = line;
        if (s->n_exec_start_pre > 0 && s->exec_start_pre[s->n_exec_start_pre - 1].line == 0)
                s->exec_start_pre[s->n_exec_start_pre - 1].line = line;
        if (s->n_exec_stop_post > 0 && s->exec_stop_post[s->n_exec_stop_post - 1].line == 0)
                s->exec_stop_post[s->n_exec_stop_post - 1].line = line;
}

static const struct ScheduleKey {
        const char *section, *key;
        key_parser_t parse;
        bool repeatable;
} schedule_keys[] = {
        { "Schedule", "OnCalendar",         key_on_calendar },
        { "Schedule", "Persistent",         key_persistent },
        { "Schedule", "RandomizedDelaySec", key_randomized_delay },
        { "Schedule", "Enabled",            key_enabled },
        { "Backup",   "Source",             key_source, true },
        { "Backup",   "Exclude",            key_exclude, true },
        { "Backup",   "Destination",        key_destination },
        { "Backup",   "Compression",        key_compression },
        { "Backup",   "Keep",               key_keep },
        { "Backup",   "Verify",             key_verify },
        { "Backup",   "Encryption",         key_encryption },
        { "Backup",   "KeyFile",            key_key_file },
        { "Backup",   "SkipPackaged",       key_skip_packaged },
        { "Backup",   "VerifyPackaged",     key_verify_packaged },
        { "Backup",   "Expect",             key_expect, true },
        { "Backup",   "CopyTo",             key_copy_to, true },
        { "Backup",   "SSHCommand",         key_ssh_command },
        { "Backup",   "RcloneConfig",       key_rclone_config },
        { "Backup",   "CopyKeep",           key_copy_keep },
        { "Backup",   "DestinationGroup",   key_destination_group },
        { "Backup",   "FullEvery",          key_full_every },
        { "Backup",   "KeepDaily",          key_keep_daily },
        { "Backup",   "KeepWeekly",         key_keep_weekly },
        { "Backup",   "KeepMonthly",        key_keep_monthly },
        { "Backup",   "KeepYearly",         key_keep_yearly },
        { "Backup",   "Dump",               key_dump, true },
        { "Backup",   "DumpTimeoutSec",     key_dump_timeout },
        { "Backup",   "LockFile",           key_lock_file, true },
        { "Backup",   "LockTimeoutSec",     key_lock_timeout },
        { "Backup",   "ExecStartPre",       key_exec_start_pre, true },
        { "Backup",   "ExecStopPost",       key_exec_stop_post, true },
        { "Backup",   "ShrinkWarn",         key_shrink_warn },
        { "Notify",   "NotifyCommand",      key_notify_command },
        { "Notify",   "Mail",               key_mail, true },
        { "Notify",   "PingURL",            key_ping_url },
        { "Notify",   "NotifyOnWarnings",   key_notify_on_warnings },
};
_Static_assert(ELEMENTSOF(schedule_keys) <= ELEMENTSOF(((LoadState *) NULL)->seen_line), "LoadState.seen_line is too small");


static int load_key(const char *section, const char *key, const char *value, unsigned line,
                    void *userdata, char **ret_error) {
        LoadState *st = userdata;
        bool section_known = false;

        if (!key) {
                for (size_t i = 0; i < ELEMENTSOF(schedule_keys); i++)
                        if (streq(section, schedule_keys[i].section))
                                return 0;
                return errorf(ret_error, -EINVAL, "unknown section [%s] (expected [Schedule], [Backup] or [Notify])", section);
        }

        for (size_t i = 0; i < ELEMENTSOF(schedule_keys); i++) {
                const struct ScheduleKey *k = &schedule_keys[i];
                if (!streq(section, k->section))
                        continue;
                section_known = true;
                if (!streq(key, k->key))
                        continue;
                if (!k->repeatable && st->seen_line[i] > 0)
                        return errorf(ret_error, -EINVAL, "%s= is set twice (first on line %u)", key, st->seen_line[i]);
                st->seen_line[i] = line;
                int r = k->parse(st->schedule, key, value, ret_error);
                if (r >= 0)
                        stamp_line(st->schedule, line);
                return r;
        }

        if (!section_known)
                return errorf(ret_error, -EINVAL, "unknown section [%s] (expected [Schedule], [Backup] or [Notify])", section);
        for (size_t i = 0; i < ELEMENTSOF(schedule_keys); i++)
                if (streq(key, schedule_keys[i].key))
                        return errorf(ret_error, -EINVAL, "%s= belongs in section [%s], not [%s]",
                                      key, schedule_keys[i].section, section);
        return errorf(ret_error, -EINVAL, "unknown key '%s' in section [%s]", key, section);
}

static int name_from_path(const char *path, char **ret_name, char **ret_error) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        const char *suffix = endswith(base, ".conf");
        if (!suffix)
                return errorf(ret_error, -EINVAL, "%s: schedule files must be named NAME.conf", path);
        char *name = strndup(base, suffix - base);
        if (!name)
                return -ENOMEM;
        if (schedule_name_is_reserved(name)) {
                free(name);
                return errorf(ret_error, -EINVAL, "%s: the name is reserved for Alexandria's own units", path);
        }
        if (!schedule_name_is_valid(name)) {
                free(name);
                return errorf(ret_error, -EINVAL,
                              "%s: invalid schedule name: names are 1-%d characters from A-Z a-z 0-9 _ . -, starting with a letter or digit",
                              path, SCHEDULE_NAME_MAX);
        }
        *ret_name = name;
        return 0;
}

static int name_check(const char *name, char **ret_error) {
        if (!schedule_name_is_valid(name))
                return errorf(ret_error, -EINVAL,
                              "Invalid schedule name '%s': names are 1-%d characters from A-Z a-z 0-9 _ . -, starting with a letter or digit",
                              name, SCHEDULE_NAME_MAX);
        if (schedule_name_is_reserved(name))
                return errorf(ret_error, -EINVAL, "The schedule name '%s' is reserved for Alexandria's own units", name);
        return 0;
}

/* PATH is DIR or below it (lexically: both are normalized absolute paths). */
static bool path_is_below_or_same(const char *path, const char *dir) {
        if (streq(dir, "/"))
                return true;
        const char *rest = startswith(path, dir);
        return rest && (*rest == 0 || *rest == '/');
}

static int source_outside_destination(const char *source, const char *destination, const char *origin,
                                      char **ret_error) {
        if (!path_is_below_or_same(source, destination))
                return 0;
        return errorf(ret_error, -EINVAL,
                      "%s: Source=%s is %s Destination=%s: the destination is never archived, so every backup "
                      "would be empty or miss the source; give a destination outside the sources",
                      origin, source, streq(source, destination) ? "the same as" : "inside", destination);
}

/* What a schedule needs as a whole, once every key is read. */
static int schedule_verify(const Schedule *s, const char *origin, char **ret_error) {
        int r;

        if (!s->on_calendar)
                return errorf(ret_error, -EINVAL, "%s: [Schedule] needs OnCalendar=", origin);
        if (!s->sources)
                return errorf(ret_error, -EINVAL, "%s: [Backup] needs at least one Source=", origin);
        if (s->encryption && !s->key_file)
                return errorf(ret_error, -EINVAL, "%s: Encryption=yes needs KeyFile= (make one with 'alexandria-ctl keygen FILE')", origin);
        if (s->verify_packaged && !s->skip_packaged)
                return errorf(ret_error, -EINVAL, "%s: VerifyPackaged=yes needs SkipPackaged=yes", origin);
        STRV_FOREACH(p, s->sources) {
                r = source_outside_destination(*p, s->destination, origin, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* WITH_LINES: ORIGIN is a file, and messages say "ORIGIN:LINE: …". */
static int schedule_parse_file(FILE *f, const char *name, const char *origin, const char *default_destination,
                               Schedule **ret, char **ret_error) {
        _cleanup_schedule_free_ Schedule *s = NULL;
        _cleanup_free_ char *error = NULL;
        unsigned line = 0;
        int r;

        r = schedule_new(name, default_destination, &s);
        if (r < 0)
                return r;
        s->path = strdup(origin);
        if (!s->path)
                return -ENOMEM;

        LoadState st = { .schedule = s };
        r = ini_parse(f, load_key, &st, &line, &error);
        if (r < 0)
                return error ? errorf(ret_error, r, "%s:%u: %s", origin, line, error) : r;
        r = schedule_verify(s, origin, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

/* A schedule file is at most this big: a real one is a few hundred bytes. */
#define SCHEDULE_FILE_MAX (64 * 1024)

int schedule_load_at(int dir_fd, const char *file, const char *path, const char *default_destination, uid_t owner,
                     Schedule **ret, char **ret_error) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = name_from_path(path, &name, ret_error);
        if (r < 0)
                return r;
        r = trusted_file_open(dir_fd, file, path, owner, SCHEDULE_FILE_MAX, &fd, ret_error);
        if (r < 0)
                return r;
        _cleanup_fclose_ FILE *f = fdopen(fd, "re");
        if (!f)
                return negative_errno();
        TAKE_FD(fd);
        return schedule_parse_file(f, name, path, default_destination, ret, ret_error);
}

int schedule_parse_string(const char *text, const char *name, const char *origin, const char *default_destination,
                          Schedule **ret, char **ret_error) {
        int r = name_check(name, ret_error);
        if (r < 0)
                return r;
        _cleanup_fclose_ FILE *f = fmemopen((void *) text, strlen(text), "r");
        if (!f)
                return -ENOMEM;
        return schedule_parse_file(f, name, origin, default_destination, ret, ret_error);
}

int schedule_value_check(const char *label, const char *value, char **ret_error) {
        for (const char *p = value; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return errorf(ret_error, -EINVAL, "%s contains a control character (0x%02x)", label, (unsigned char) *p);
        size_t n = strlen(value);
        if (n > 0 && (isspace((unsigned char) value[0]) || isspace((unsigned char) value[n - 1])))
                return errorf(ret_error, -EINVAL,
                              "%s '%s' starts or ends with a space, which a schedule file cannot hold (it drops spaces around values)",
                              label, value);
        if (n > 0 && value[n - 1] == '\\')
                return errorf(ret_error, -EINVAL,
                              "%s '%s' ends in a backslash, which a schedule file cannot hold (it would continue the line)",
                              label, value);
        return 0;
}

int schedule_from_assignments(const char *name, char * const *assignments, const char *origin,
                              const char *default_destination, Schedule **ret, char **ret_error) {
        _cleanup_schedule_free_ Schedule *s = NULL;
        int r;

        r = name_check(name, ret_error);
        if (r < 0)
                return r;
        r = schedule_new(name, default_destination, &s);
        if (r < 0)
                return r;

        LoadState st = { .schedule = s };
        unsigned n = 0;
        STRV_FOREACH(a, assignments) {
                _cleanup_free_ char *key = NULL, *error = NULL;
                const char *eq = strchr(*a, '='), *section = NULL;
                if (!eq)
                        return errorf(ret_error, -EINVAL, "%s: expected KEY=VALUE, got '%s'", origin, *a);
                key = strndup(*a, eq - *a);
                if (!key)
                        return -ENOMEM;
                for (size_t i = 0; i < ELEMENTSOF(schedule_keys) && !section; i++)
                        if (streq(key, schedule_keys[i].key))
                                section = schedule_keys[i].section;
                if (!section)
                        return errorf(ret_error, -EINVAL, "%s: unknown key '%s'", origin, key);
                /* What a file could not hold, the command line must not smuggle in. */
                _cleanup_free_ char *label = NULL;
                if (asprintf(&label, "%s=", key) < 0)
                        return -ENOMEM;
                r = schedule_value_check(label, eq + 1, &error);
                if (r >= 0)
                        r = load_key(section, key, eq + 1, ++n, &st, &error);
                if (r < 0)
                        return error ? errorf(ret_error, r, "%s: %s", origin, error) : r;
        }
        r = schedule_verify(s, origin, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- the short form ---- */

static int parse_hhmm(const char *t, unsigned *ret_h, unsigned *ret_m, const char *spec, char **ret_error) {
        size_t hl = strspn(t, "0123456789");
        if (hl < 1 || hl > 2 || t[hl] != ':' || strspn(t + hl + 1, "0123456789") != 2 || t[hl + 3] != 0)
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': time '%s' is not HH:MM", spec, t);
        unsigned h = (unsigned) strtoul(t, NULL, 10), m = (unsigned) strtoul(t + hl + 1, NULL, 10);
        if (h > 23)
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': hour %u is out of range (00-23)", spec, h);
        if (m > 59)
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': minute %u is out of range (00-59)", spec, m);
        *ret_h = h;
        *ret_m = m;
        return 0;
}

int schedule_from_spec(const char *spec, const char *default_destination, Schedule **ret, char **ret_error) {
        _cleanup_free_ char *copy = strdup(spec), *source = NULL, *origin = NULL;
        _cleanup_strv_free_ char **assignments = NULL;
        char *fields[3];
        unsigned h = 0, m = 0;
        size_t n = 0;
        int r;

        if (!copy)
                return -ENOMEM;
        /* Before the spec is shown in any message: it goes to a terminal. */
        for (const char *p = spec; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return errorf(ret_error, -EINVAL, "Invalid schedule: control character (0x%02x) in the spec",
                                      (unsigned char) *p);
        for (char *p = copy, *semi;; p = semi + 1) {
                if (n == ELEMENTSOF(fields))
                        return errorf(ret_error, -EINVAL, "Invalid schedule '%s': too many fields, expected path;hh:mm;name", spec);
                fields[n++] = p;
                semi = strchr(p, ';');
                if (!semi)
                        break;
                *semi = 0;
        }
        if (n != 3)
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': expected path;hh:mm;name", spec);

        if (isempty(fields[0]))
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': the path is empty", spec);
        if (isempty(fields[1]))
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': the time is empty, expected HH:MM", spec);
        if (isempty(fields[2]))
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': the name is empty", spec);
        r = parse_hhmm(fields[1], &h, &m, spec, ret_error);
        if (r < 0)
                return r;
        if (!schedule_name_is_valid(fields[2]))
                return errorf(ret_error, -EINVAL,
                              "Invalid schedule '%s': invalid name '%s': names are 1-%d characters from A-Z a-z 0-9 _ . -, starting with a letter or digit",
                              spec, fields[2], SCHEDULE_NAME_MAX);
        if (schedule_name_is_reserved(fields[2]))
                return errorf(ret_error, -EINVAL, "Invalid schedule '%s': the name '%s' is reserved for Alexandria's own units", spec, fields[2]);

        if (asprintf(&origin, "Invalid schedule '%s'", spec) < 0)
                return -ENOMEM;
        /* Checked as typed: resolving the path would hide a trailing space. */
        _cleanup_free_ char *error = NULL;
        r = schedule_value_check("the path", fields[0], &error);
        if (r < 0)
                return errorf(ret_error, r, "%s: %s", origin, strempty(error));
        r = path_make_absolute_cwd(fields[0], &source);
        if (r < 0)
                return errorf(ret_error, r, "%s: cannot resolve path '%s': %s", origin, fields[0], strerror(-r));

        /* From here on, the very key parsers that read schedule files. */
        char *calendar = NULL, *source_assignment = NULL;
        if (asprintf(&calendar, "OnCalendar=*-*-* %02u:%02u:00", h, m) < 0)
                return -ENOMEM;
        r = strv_push(&assignments, calendar);
        if (r < 0)
                return r;
        if (asprintf(&source_assignment, "Source=%s", source) < 0)
                return -ENOMEM;
        r = strv_push(&assignments, source_assignment);
        if (r < 0)
                return r;
        return schedule_from_assignments(fields[2], assignments, origin, default_destination, ret, ret_error);
}

int schedule_check_resolved_paths(const Schedule *s, char **ret_error) {
        _cleanup_free_ char *destination = realpath(s->destination, NULL);
        if (!destination)
                return 0;       /* created by the run; nothing can be inside it yet */
        STRV_FOREACH(p, s->sources) {
                _cleanup_free_ char *source = realpath(*p, NULL);
                if (!source)
                        continue;
                int r = source_outside_destination(source, destination, "With symlinks resolved", ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int schedule_check_group(const Schedule *s, char **ret_error) {
        if (!s->destination_group)
                return 0;
        errno = 0;
        if (!getgrnam(s->destination_group))
                return errorf(ret_error, errno > 0 ? -errno : -ENOENT, "DestinationGroup=%s: no such group%s%s",
                              s->destination_group, errno > 0 ? ": " : "", errno > 0 ? strerror(errno) : "");
        return 0;
}

int schedule_check_sources(const Schedule *s, char **ret_error) {
        STRV_FOREACH(p, s->sources) {
                struct stat st;
                if (lstat(*p, &st) < 0)
                        return errorf(ret_error, negative_errno(), "Source %s: %m", *p);
        }
        return schedule_check_resolved_paths(s, ret_error);
}

static int check_command(const Schedule *s, const char *key, const char *value, unsigned line, char **argv, char **ret_error) {
        _cleanup_free_ char *found = NULL;
        int r = command_find(argv[0], &found);
        if (r == -ENOMEM)
                return r;
        if (r == -EINVAL)
                return errorf(ret_error, r, "%s:%u: %s=%s: the command '%s' must be an absolute path or a name to look up in PATH",
                              s->path ?: s->name, line, key, value, argv[0]);
        if (r == -EACCES)
                return errorf(ret_error, r, "%s:%u: %s=%s: '%s' is not an executable file", s->path ?: s->name, line, key, value,
                              found ?: argv[0]);
        if (r < 0)
                return errorf(ret_error, -EINVAL, argv[0][0] == '/' ? "%s:%u: %s=%s: the command %s does not exist" :
                              "%s:%u: %s=%s: the command '%s' is not in PATH; give its absolute path",
                              s->path ?: s->name, line, key, value, argv[0]);
        return 0;
}

int schedule_check_commands(const Schedule *s, char **ret_error) {
        int r;
        for (size_t i = 0; i < s->n_dumps; i++) {
                _cleanup_free_ char *value = NULL;
                if (asprintf(&value, "%s %s", s->dumps[i].entry, s->dumps[i].command) < 0)
                        return -ENOMEM;
                r = check_command(s, "Dump", value, s->dumps[i].line, s->dumps[i].argv, ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s->n_exec_start_pre; i++) {
                r = check_command(s, "ExecStartPre", s->exec_start_pre[i].command, s->exec_start_pre[i].line,
                                  s->exec_start_pre[i].argv, ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s->n_exec_stop_post; i++) {
                r = check_command(s, "ExecStopPost", s->exec_stop_post[i].command, s->exec_stop_post[i].line,
                                  s->exec_stop_post[i].argv, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int schedule_format_timeout(uint64_t sec, char *buf, size_t size) {
        int n;
        if (sec == SCHEDULE_TIMEOUT_INFINITY)
                n = snprintf(buf, size, "infinity");
        else if (sec > 0 && sec % 86400 == 0)
                n = snprintf(buf, size, "%" PRIu64 "d", sec / 86400);
        else if (sec > 0 && sec % 3600 == 0)
                n = snprintf(buf, size, "%" PRIu64 "h", sec / 3600);
        else if (sec > 0 && sec % 60 == 0)
                n = snprintf(buf, size, "%" PRIu64 "min", sec / 60);
        else
                n = snprintf(buf, size, "%" PRIu64 "s", sec);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

/* The keys of this file that schedule_to_string() and schedule_format_line() add. */
static void put_dumps_locks_hooks(FILE *f, const Schedule *s, const char *sep, const char *end) {
        char t[32];
        for (size_t i = 0; i < s->n_dumps; i++)
                fprintf(f, "%sDump=%s %s%s", sep, s->dumps[i].entry, s->dumps[i].command, end);
        if (s->dump_timeout_sec != SCHEDULE_DUMP_TIMEOUT_DEFAULT && schedule_format_timeout(s->dump_timeout_sec, t, sizeof t) >= 0)
                fprintf(f, "%sDumpTimeoutSec=%s%s", sep, t, end);
        for (size_t i = 0; i < s->n_locks; i++)
                fprintf(f, "%sLockFile=%s%s%s", sep, s->locks[i].path, s->locks[i].shared ? ":shared" : "", end);
        if (s->lock_timeout_sec != SCHEDULE_LOCK_TIMEOUT_DEFAULT && schedule_format_timeout(s->lock_timeout_sec, t, sizeof t) >= 0)
                fprintf(f, "%sLockTimeoutSec=%s%s", sep, t, end);
        for (size_t i = 0; i < s->n_exec_start_pre; i++)
                fprintf(f, "%sExecStartPre=%s%s", sep, s->exec_start_pre[i].command, end);
        for (size_t i = 0; i < s->n_exec_stop_post; i++)
                fprintf(f, "%sExecStopPost=%s%s", sep, s->exec_stop_post[i].command, end);
}

static bool has_dumps_locks_hooks(const Schedule *s) {
        return s->n_dumps > 0 || s->n_locks > 0 || s->n_exec_start_pre > 0 || s->n_exec_stop_post > 0 ||
               s->dump_timeout_sec != SCHEDULE_DUMP_TIMEOUT_DEFAULT || s->lock_timeout_sec != SCHEDULE_LOCK_TIMEOUT_DEFAULT;
}

/* The "HH:MM" of a daily "*-*-* HH:MM:00" calendar, or false. */
static bool schedule_daily_time(const Schedule *s, unsigned *ret_hour, unsigned *ret_minute) {
        unsigned h = 0, m = 0;
        int end = 0;
        if (sscanf(s->on_calendar, "*-*-* %2u:%2u:00%n", &h, &m, &end) != 2 || end == 0 ||
            s->on_calendar[end] != 0 || h > 23 || m > 59)
                return false;
        if (ret_hour)
                *ret_hour = h;
        if (ret_minute)
                *ret_minute = m;
        return true;
}

/* ---- writing ---- */

int schedule_to_string(const Schedule *s, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f,
                "# Alexandria schedule '%s' (see alexandria.schedule(5)).\n"
                "[Schedule]\n"
                "OnCalendar=%s\n"
                "Persistent=%s\n"
                "RandomizedDelaySec=%" PRIu64 "\n"
                "Enabled=%s\n"
                "\n"
                "[Backup]\n",
                s->name, s->on_calendar, s->persistent ? "yes" : "no",
                s->randomized_delay_sec, s->enabled ? "yes" : "no");
        STRV_FOREACH(p, s->sources)
                fprintf(f, "Source=%s\n", *p);
        STRV_FOREACH(p, s->excludes)
                fprintf(f, "Exclude=%s\n", *p);
        fprintf(f, "Destination=%s\nCompression=%s\nKeep=%u\n",
                s->destination, compression_to_string(s->compression), s->keep);
        if (s->verify)
                fprintf(f, "Verify=yes\n");
        if (s->encryption)
                fprintf(f, "Encryption=yes\n");
        if (s->key_file)
                fprintf(f, "KeyFile=%s\n", s->key_file);
        if (s->skip_packaged)
                fprintf(f, "SkipPackaged=yes\n");
        if (s->verify_packaged)
                fprintf(f, "VerifyPackaged=yes\n");
        STRV_FOREACH(p, s->expects)
                fprintf(f, "Expect=%s\n", *p);
        STRV_FOREACH(c, s->copy_to)
                fprintf(f, "CopyTo=%s\n", *c);
        if (s->ssh_command)
                fprintf(f, "SSHCommand=%s\n", s->ssh_command);
        if (s->rclone_config)
                fprintf(f, "RcloneConfig=%s\n", s->rclone_config);
        if (s->copy_keep == COPY_KEEP_ALL)
                fprintf(f, "CopyKeep=all\n");
        else if (s->copy_keep > 0)
                fprintf(f, "CopyKeep=%u\n", s->copy_keep);
        if (s->destination_group)
                fprintf(f, "DestinationGroup=%s\n", s->destination_group);
        if (s->full_every)
                fprintf(f, "FullEvery=%s\n", s->full_every);
        if (s->keep_daily > 0)
                fprintf(f, "KeepDaily=%u\n", s->keep_daily);
        if (s->keep_weekly > 0)
                fprintf(f, "KeepWeekly=%u\n", s->keep_weekly);
        if (s->keep_monthly > 0)
                fprintf(f, "KeepMonthly=%u\n", s->keep_monthly);
        if (s->keep_yearly > 0)
                fprintf(f, "KeepYearly=%u\n", s->keep_yearly);
        put_dumps_locks_hooks(f, s, "", "\n");
        if (s->shrink_warn != SCHEDULE_SHRINK_WARN_DEFAULT)
                fprintf(f, s->shrink_warn ? "ShrinkWarn=%u%%\n" : "ShrinkWarn=no\n", s->shrink_warn);
        if (s->notify_command || s->mail || s->ping_url || !s->notify_on_warnings) {
                fputs("\n[Notify]\n", f);
                if (s->notify_command)
                        fprintf(f, "NotifyCommand=%s\n", s->notify_command);
                STRV_FOREACH(m, s->mail)
                        fprintf(f, "Mail=%s\n", *m);
                if (s->ping_url)
                        fprintf(f, "PingURL=%s\n", s->ping_url);
                if (!s->notify_on_warnings)
                        fprintf(f, "NotifyOnWarnings=no\n");
        }

        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(buf);
        return 0;
}

bool schedule_has_secrets(const Schedule *s) {
        if (s->ping_url || (s->notify_command && strstr(s->notify_command, "://")))
                return true;
        /* on-the-fly rclone parameters of CopyTo= hold keys and passwords */
        STRV_FOREACH(c, s->copy_to) {
                _cleanup_copy_target_free_ CopyTarget *t = NULL;
                _cleanup_free_ char *error = NULL;
                if (copy_target_parse(*c, &t, &error) < 0 || !streq(t->display, t->spec))
                        return true;
        }
        return false;
}

mode_t schedule_file_mode(const Schedule *s) {
        return schedule_has_secrets(s) ? 0600 : 0644;
}

int schedule_format_line(const Schedule *s, const char *default_destination, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        unsigned h, m;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        if (schedule_daily_time(s, &h, &m) && strv_length(s->sources) == 1 && !s->excludes &&
            streq(s->destination, default_destination) && s->compression == COMPRESSION_GZIP &&
            s->keep == 0 && s->persistent && s->randomized_delay_sec == 0 && !s->verify && !s->encryption &&
            !s->key_file && !s->skip_packaged && !s->expects && !s->full_every && !schedule_keeps_calendar(s) && !s->notify_command && !s->mail && !s->ping_url && s->notify_on_warnings &&
            !s->key_file && !s->full_every && !schedule_keeps_calendar(s) && !s->copy_to && !s->destination_group &&
            !s->notify_command && !s->mail && !s->ping_url && s->notify_on_warnings &&
            !has_dumps_locks_hooks(s) &&
            s->shrink_warn == SCHEDULE_SHRINK_WARN_DEFAULT)
                fprintf(f, "%s;%02u:%02u;%s", s->sources[0], h, m, s->name);
        else {
                fprintf(f, "%s OnCalendar=%s", s->name, s->on_calendar);
                STRV_FOREACH(p, s->sources)
                        fprintf(f, " Source=%s", *p);
                STRV_FOREACH(p, s->excludes)
                        fprintf(f, " Exclude=%s", *p);
                if (!streq(s->destination, default_destination))
                        fprintf(f, " Destination=%s", s->destination);
                if (s->compression != COMPRESSION_GZIP)
                        fprintf(f, " Compression=%s", compression_to_string(s->compression));
                if (s->keep > 0)
                        fprintf(f, " Keep=%u", s->keep);
                if (!s->persistent)
                        fprintf(f, " Persistent=no");
                if (s->randomized_delay_sec > 0)
                        fprintf(f, " RandomizedDelaySec=%" PRIu64, s->randomized_delay_sec);
                if (s->verify)
                        fprintf(f, " Verify=yes");
                if (s->encryption)
                        fprintf(f, " Encryption=yes");
                if (s->key_file)
                        fprintf(f, " KeyFile=%s", s->key_file);
                if (s->skip_packaged)
                        fprintf(f, " SkipPackaged=yes");
                if (s->verify_packaged)
                        fprintf(f, " VerifyPackaged=yes");
                STRV_FOREACH(p, s->expects)
                        fprintf(f, " Expect=%s", *p);
                STRV_FOREACH(c, s->copy_to) {
                        _cleanup_copy_target_free_ CopyTarget *t = NULL;
                        _cleanup_free_ char *error = NULL;
                        /* on-the-fly rclone parameters hold keys: list them redacted */
                        fprintf(f, " CopyTo=%s", copy_target_parse(*c, &t, &error) >= 0 ? t->display : "?");
                }
                if (s->copy_keep == COPY_KEEP_ALL)
                        fprintf(f, " CopyKeep=all");
                else if (s->copy_keep > 0)
                        fprintf(f, " CopyKeep=%u", s->copy_keep);
                if (s->destination_group)
                        fprintf(f, " DestinationGroup=%s", s->destination_group);
                if (s->full_every)
                        fprintf(f, " FullEvery=%s", s->full_every);
                if (s->keep_daily > 0)
                        fprintf(f, " KeepDaily=%u", s->keep_daily);
                if (s->keep_weekly > 0)
                        fprintf(f, " KeepWeekly=%u", s->keep_weekly);
                if (s->keep_monthly > 0)
                        fprintf(f, " KeepMonthly=%u", s->keep_monthly);
                if (s->keep_yearly > 0)
                        fprintf(f, " KeepYearly=%u", s->keep_yearly);
                put_dumps_locks_hooks(f, s, " ", "");
                if (s->shrink_warn != SCHEDULE_SHRINK_WARN_DEFAULT)
                        fprintf(f, s->shrink_warn ? " ShrinkWarn=%u%%" : " ShrinkWarn=no", s->shrink_warn);
                if (s->notify_command) {
                        _cleanup_free_ char *shown = redact_urls(s->notify_command);
                        if (!shown)
                                return -ENOMEM;
                        fprintf(f, " NotifyCommand=%s", shown);
                }
                STRV_FOREACH(address, s->mail)
                        fprintf(f, " Mail=%s", *address);
                if (s->ping_url) {
                        _cleanup_free_ char *shown = redact_urls(s->ping_url);
                        if (!shown)
                                return -ENOMEM;
                        fprintf(f, " PingURL=%s", shown);
                }
                if (!s->notify_on_warnings)
                        fprintf(f, " NotifyOnWarnings=no");
        }
        if (!s->enabled)
                fprintf(f, " (disabled)");

        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(buf);
        return 0;
}
