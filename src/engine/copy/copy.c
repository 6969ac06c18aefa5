/* SPDX-License-Identifier: MIT */
/*
 * The copy stage (see copy.h for what a target should hold and why ssh://
 * targets are never listed). rsync, ssh and rclone run as child processes
 * with stdin on /dev/null and no shell in between: every argument was
 * validated by copy_target_parse(); ssh gets BatchMode=yes, rclone
 * --ask-password=false, so a run never waits for a person.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "archive-list.h"
#include "copy.h"
#include "events.h"
#include "fileio.h"
#include "format-util.h"
#include "path-util.h"
#include "retention.h"
#include "spawn-util.h"
#include "state.h"

#define PARTIAL_DIR ".alexandria-partial"
#define LEDGER_MAX (4 * 1024 * 1024)
#define MESSAGE_MAX 600
#define RSYNC_TIMEOUT_SEC "300"

/* One archive name on one side, for planning. */
typedef struct Entry {
        char *filename;
        uint64_t time_usec;
        bool incremental;               /* ".incr": needs the archives before it back to a full */
        bool local;                     /* in the destination now */
        bool remote;                    /* on the target (listed, or in the ledger) */
        uint64_t local_size, remote_size;
        bool keep;                      /* the target's retention keeps it */
} Entry;

typedef struct Plan {
        Entry *entries;                 /* oldest first */
        size_t n;
        bool prune;                     /* the target's retention may delete there */
} Plan;

static void plan_done(Plan *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->entries[i].filename);
        free(p->entries);
        *p = (Plan) {};
}

static Entry *plan_find(Plan *p, const char *filename) {
        for (size_t i = 0; i < p->n; i++)
                if (streq(p->entries[i].filename, filename))
                        return &p->entries[i];
        return NULL;
}

/* Adds FILENAME if it is an archive of SCHEDULE; NULL (and no error) if not. */
static int plan_add(Plan *p, const char *schedule, const char *filename, Entry **ret) {
        _cleanup_free_ char *owner = NULL;
        uint64_t t;
        bool incremental;

        *ret = NULL;
        if (!archive_name_parse_kind(filename, &owner, &t, &incremental, NULL, NULL) || !streq(owner, schedule))
                return 0;
        Entry *e = plan_find(p, filename);
        if (!e) {
                e = reallocarray(p->entries, p->n + 1, sizeof *e);
                if (!e)
                        return -ENOMEM;
                p->entries = e;
                e = &p->entries[p->n];
                *e = (Entry) { .filename = strdup(filename), .time_usec = t, .incremental = incremental };
                if (!e->filename)
                        return -ENOMEM;
                p->n++;
        }
        *ret = e;
        return 0;
}

static int entry_compare(const void *a, const void *b) {
        const Entry *x = a, *y = b;
        if (x->time_usec != y->time_usec)
                return x->time_usec < y->time_usec ? -1 : 1;
        return strcmp(x->filename, y->filename);
}

/* Decides what the target keeps, over everything on either side. */
static int plan_decide(Plan *p, const Schedule *s) {
        qsort(p->entries, p->n, sizeof *p->entries, entry_compare);
        if (s->copy_keep == COPY_KEEP_ALL || !p->prune) {
                for (size_t i = 0; i < p->n; i++)
                        p->entries[i].keep = true;
                return 0;
        }
        /* CopyKeep=N is Keep=N there; by default the destination's own rules.
         * Either way a kept incremental archive keeps its chain. */
        RetentionRules rules = s->copy_keep > 0 ? (RetentionRules) { .count = { [RETENTION_LAST] = s->copy_keep } }
                                                : retention_schedule_rules(s);
        _cleanup_free_ RetentionPoint *points = calloc(p->n ?: 1, sizeof *points);
        _cleanup_free_ RetentionDecision *decisions = calloc(p->n ?: 1, sizeof *decisions);
        if (!points || !decisions)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++)
                points[i] = (RetentionPoint) {
                        .time_usec = p->entries[i].time_usec,
                        .incremental = p->entries[i].incremental,
                };
        retention_policy_decide(points, p->n, &rules, decisions);
        for (size_t i = 0; i < p->n; i++)
                p->entries[i].keep = decisions[i].keep;
        return 0;
}

static const char *keep_policy(const Schedule *s, bool prune, char buf[static 32]) {
        if (!prune)
                return "no retention (not pruned after a run that read far less than usual)";
        if (s->copy_keep == COPY_KEEP_ALL)
                return "CopyKeep=all";
        if (s->copy_keep == 0 && schedule_keeps_calendar(s))
                return "the destination's Keep= rules";
        snprintf(buf, 32, "%s=%u", s->copy_keep > 0 ? "CopyKeep" : "Keep", s->copy_keep > 0 ? s->copy_keep : s->keep);
        return buf;
}

/* ---- messages ---- */

/* The words of a failed tool, on one line: its first lines that say
 * something, without rclone's timestamps, bounded. */
static char *tool_message(const char *tool, int status, const char *err) {
        _cleanup_free_ char *copy = strdup(strempty(err));
        char *out = NULL;
        size_t size = 0;
        unsigned lines = 0;

        FILE *f = open_memstream(&out, &size);
        if (!f || !copy) {
                if (f)
                        fclose(f);
                free(out);
                return NULL;
        }
        for (char *line = copy, *next; line && *line && lines < 3; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                /* "2024/01/02 03:04:05 ERROR : …" */
                if (strlen(line) > 20 && line[4] == '/' && line[7] == '/' && line[10] == ' ' && line[13] == ':')
                        line += 20;
                line += strspn(line, " \t");
                if (!*line || startswith(line, "NOTICE:"))
                        continue;
                fprintf(f, "%s%s", lines > 0 ? "; " : "", line);
                lines++;
        }
        if (lines == 0)
                fprintf(f, "%s exited with status %d", tool, status);
        if (fflush(f) != 0 || ferror(f)) {
                fclose(f);
                free(out);
                return NULL;
        }
        fclose(f);
        for (char *p = out; *p; p++)
                if ((unsigned char) *p < 0x20)
                        *p = ' ';
        if (strlen(out) > MESSAGE_MAX)
                strcpy(out + MESSAGE_MAX - 3, "...");
        return out;
}

static int outcome_fail(CopyOutcome *o, int r, char *message) {
        o->error = r < 0 ? r : -EIO;
        free(o->message);
        o->message = message ?: strdup(strerror(-o->error));
        return o->error;
}

/* ---- ssh:// through rsync ---- */

/* The ledger: "SPEC<TAB>ARCHIVE" lines, what we put on each ssh:// target
 * and did not remove since. Only ever a list of names to delete from. */
typedef struct Ledger {
        char **lines;
} Ledger;

static char *ledger_path(const char *state_dir, const char *name) {
        _cleanup_free_ char *file = NULL;
        if (asprintf(&file, "%s.copied", name) < 0)
                return NULL;
        return path_join(state_dir, file);
}

static int ledger_load(const char *state_dir, const char *name, Ledger *ret) {
        _cleanup_free_ char *path = ledger_path(state_dir, name), *text = NULL;
        int r;

        *ret = (Ledger) {};
        if (!path)
                return -ENOMEM;
        r = read_file_full(path, LEDGER_MAX, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (strchr(line, '\t') && strv_extend(&ret->lines, line) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int ledger_save(const char *state_dir, const char *name, const Ledger *l) {
        _cleanup_free_ char *path = ledger_path(state_dir, name), *text = NULL;
        size_t size = 0;
        int r;

        if (!path)
                return -ENOMEM;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        STRV_FOREACH(line, l->lines)
                fprintf(f, "%s\n", *line);
        r = fflush(f) != 0 || ferror(f) ? -ENOMEM : 0;
        fclose(f);
        if (r < 0)
                return r;
        r = mkdir_p(state_dir, 0755);
        if (r < 0)
                return r;
        /* the spec may carry rclone parameters: private like the state */
        return write_file_atomic(path, strempty(text), 0600);
}

/* Replaces what the ledger says about SPEC with NAMES. */
static int ledger_set(Ledger *l, const char *spec, char **names) {
        size_t n = strlen(spec);
        char **out = NULL;

        STRV_FOREACH(line, l->lines)
                if (!(strncmp(*line, spec, n) == 0 && (*line)[n] == '\t') && strv_extend(&out, *line) < 0)
                        goto oom;
        STRV_FOREACH(name, names) {
                char *line;
                if (asprintf(&line, "%s\t%s", spec, *name) < 0 || strv_push(&out, line) < 0)
                        goto oom;
        }
        strv_free(l->lines);
        l->lines = out;
        return 0;
oom:
        strv_free(out);
        return -ENOMEM;
}

/* "PROGRAM -o BatchMode=yes [-p PORT] OPTIONS… -o ConnectTimeout=…": ours
 * right after the program, since ssh takes the first value it is given for
 * an option: the run must never prompt, and the URL's port wins. */
static char *ssh_command_line(const Schedule *s, const CopyTarget *t) {
        const char *cmd = s->ssh_command ?: "ssh";
        size_t prog = strcspn(cmd, " \t");
        char port[16] = "";
        char *line;

        if (t->port > 0)
                snprintf(port, sizeof port, " -p %u", t->port);
        if (asprintf(&line, "%.*s -o BatchMode=yes%s%s -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4",
                     (int) prog, cmd, port, cmd + prog) < 0)
                return NULL;
        return line;
}

static int copy_ssh(const Schedule *s, const CopyTarget *t, Plan *p, Ledger *ledger, CopyOutcome *o) {
        _cleanup_strv_free_ char **argv = NULL, **after = NULL;
        _cleanup_free_ char *out = NULL, *err = NULL, *source = NULL, *dest = NULL, *ssh = NULL;
        unsigned uploads = 0, deletions = 0;
        int status = 0, r;

        source = path_join(s->destination, "");
        dest = copy_target_location(t, "");
        ssh = ssh_command_line(s, t);
        if (!source || !dest || !ssh)
                return -ENOMEM;
        /* path_join() leaves no trailing slash; rsync needs it to send the contents */
        char *slashed;
        if (asprintf(&slashed, "%s/", source) < 0)
                return -ENOMEM;
        free(source);
        source = slashed;

#define ARG(...)                                                        \
        do {                                                            \
                char *_a;                                               \
                if (asprintf(&_a, __VA_ARGS__) < 0 || strv_push(&argv, _a) < 0) \
                        return -ENOMEM;                                 \
        } while (0)

        ARG("rsync");
        /* the directory's entries, not below; quick check by size and time */
        ARG("--dirs");
        ARG("--times");
        ARG("--omit-dir-times");
        ARG("--partial-dir=%s", PARTIAL_DIR);
        ARG("--timeout=%s", RSYNC_TIMEOUT_SEC);
        ARG("--out-format=%%i %%n");
        for (size_t i = 0; i < p->n; i++)
                if (p->entries[i].keep && p->entries[i].local) {
                        ARG("--filter=+ /%s", p->entries[i].filename);
                        uploads++;
                }
        for (size_t i = 0; i < p->n; i++)
                if (!p->entries[i].keep && (p->entries[i].remote || p->entries[i].local)) {
                        /* receiver side only: delete it there if it is there */
                        ARG("--filter=R /%s", p->entries[i].filename);
                        deletions++;
                }
        /* everything else: not sent, and protected from deletion */
        ARG("--filter=H *");
        ARG("--filter=P *");
        if (deletions > 0)
                ARG("--delete");
        ARG("-e");
        ARG("%s", ssh);
        ARG("--");
        ARG("%s", source);
        ARG("%s", dest);
#undef ARG

        if (uploads == 0 && deletions == 0)
                return 0;

        r = spawn_capture(argv, &out, &err, &status);
        if (r < 0)
                return outcome_fail(o, r, r == -ENOENT ? strdup("rsync is not installed") : NULL);

        /* what rsync itemized: "<f+++++++++ NAME" sent, "*deleting   NAME" gone */
        for (char *line = out, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                const char *name = strrchr(line, ' ');
                Entry *e = name ? plan_find(p, name + 1) : NULL;
                if (!e)
                        continue;
                if (startswith(line, "<f")) {
                        e->remote = true;
                        o->sent++;
                } else if (startswith(line, "*deleting")) {
                        e->remote = false;
                        o->deleted++;
                }
        }

        if (status == 0) {
                /* complete: every kept archive is there, every other one gone */
                for (size_t i = 0; i < p->n; i++) {
                        Entry *e = &p->entries[i];
                        e->remote = e->keep && (e->local || e->remote);
                }
                o->present = uploads - MIN(uploads, o->sent);
        } else {
                char *m = tool_message("rsync", status, err);
                if (m && strstr(m, "--delete has been disabled")) {
                        char *more;
                        if (asprintf(&more, "%s (the target does not let Alexandria delete: set CopyKeep=all there)", m) >= 0)
                                free(m), m = more;
                }
                outcome_fail(o, -EIO, m);
        }

        for (size_t i = 0; i < p->n; i++)
                if (p->entries[i].remote && strv_extend(&after, p->entries[i].filename) < 0)
                        return -ENOMEM;
        r = ledger_set(ledger, t->spec, after);
        if (r < 0)
                return r;
        return o->error;
}

/* ---- rclone: ---- */

static char *str_replace_all(const char *text, const char *what, const char *with) {
        char *out = NULL;
        size_t size = 0, n = strlen(what);
        FILE *f = open_memstream(&out, &size);
        if (!f)
                return NULL;
        for (const char *p = text, *hit; *p; p = hit + n) {
                hit = strstr(p, what);
                if (!hit) {
                        fputs(p, f);
                        break;
                }
                fprintf(f, "%.*s%s", (int) (hit - p), p, with);
        }
        if (fflush(f) != 0 || ferror(f)) {
                fclose(f);
                free(out);
                return NULL;
        }
        fclose(f);
        return out;
}

typedef struct Rclone {
        const Schedule *s;
        const CopyTarget *t;
        char **env;                     /* RCLONE_CONFIG_…: an on-the-fly remote's parameters */
        char *remote;                   /* what the location strings start with */
        CopyOutcome *o;
} Rclone;

/* ":sftp,host=h,key_file=k:" → RCLONE_CONFIG_ALEXANDRIA_TYPE=sftp,
 * RCLONE_CONFIG_ALEXANDRIA_HOST=h, …, and remote "alexandria:": rclone
 * defines a remote from the environment, and a process's environment,
 * unlike its command line, is private to its owner. */
static int rclone_env(Rclone *c) {
        const char *spec = c->t->remote;
        _cleanup_free_ char *copy = NULL;

        if (spec[0] != ':' || !strchr(spec, ',')) {
                c->remote = strdup(spec);
                return c->remote ? 0 : -ENOMEM;
        }
        copy = strndup(spec + 1, strlen(spec) - 2);     /* without the colons */
        if (!copy)
                return -ENOMEM;
        char *p = copy, *comma = strchr(p, ',');
        *comma = 0;
        char *v;
        if (asprintf(&v, "RCLONE_CONFIG_ALEXANDRIA_OFFSITE_TYPE=%s", p) < 0 || strv_push(&c->env, v) < 0)
                return -ENOMEM;
        for (p = comma + 1; *p;) {
                char *key = p, *eq = strchr(p, '='), *value, *end;
                if (!eq)
                        return -EINVAL;
                *eq = 0;
                value = eq + 1;
                if (*value == '"') {
                        value++;
                        end = strchr(value, '"');
                        if (!end)
                                return -EINVAL;
                        *end++ = 0;
                } else {
                        end = value + strcspn(value, ",");
                        if (*end)
                                *end++ = 0;
                }
                if (*end == ',')
                        end++;
                char *env;
                if (asprintf(&env, "RCLONE_CONFIG_ALEXANDRIA_OFFSITE_%s=%s", key, value) < 0 || strv_push(&c->env, env) < 0)
                        return -ENOMEM;
                /* option names: upper case, '-' → '_' */
                for (char *k = env + strlen("RCLONE_CONFIG_ALEXANDRIA_OFFSITE_"); *k != '='; k++)
                        *k = *k == '-' ? '_' : (char) toupper((unsigned char) *k);
                p = end;
        }
        c->remote = strdup("alexandria_offsite:");
        return c->remote ? 0 : -ENOMEM;
}

static char *rclone_location(const Rclone *c, const char *filename) {
        char *s;
        const char *path = c->t->remote_path;
        if (asprintf(&s, "%s%s%s%s", c->remote, path, isempty(path) ? "" : "/", filename) < 0)
                return NULL;
        return s;
}

/* Runs rclone VERB ARGS…; on failure fills the outcome. ALLOW_STATUS is an
 * exit status that is not a failure (3: directory not found), or -1. */
static int rclone(Rclone *c, char **ret_stdout, int allow_status, const char *verb, ...) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *out = NULL, *err = NULL;
        int status, r;
        va_list ap;

        if (strv_extend(&argv, "rclone") < 0 || strv_extend(&argv, "--ask-password=false") < 0 ||
            strv_extend(&argv, "--log-level=ERROR") < 0)
                return -ENOMEM;
        if (c->s->rclone_config && (strv_extend(&argv, "--config") < 0 || strv_extend(&argv, c->s->rclone_config) < 0))
                return -ENOMEM;
        if (strv_extend(&argv, verb) < 0)
                return -ENOMEM;
        va_start(ap, verb);
        for (const char *a; (a = va_arg(ap, const char *));)
                if (strv_extend(&argv, a) < 0) {
                        va_end(ap);
                        return -ENOMEM;
                }
        va_end(ap);

        r = spawn_capture_env(argv, c->env, &out, &err, &status);
        if (r < 0)
                return outcome_fail(c->o, r, r == -ENOENT ? strdup("rclone is not installed") : NULL);
        if (status != 0 && status != allow_status) {
                _cleanup_free_ char *m = tool_message("rclone", status, err);
                char *full = NULL;
                if (m && asprintf(&full, "rclone %s: %s", verb, m) < 0)
                        full = NULL;
                return outcome_fail(c->o, -EIO, full);
        }
        if (ret_stdout)
                *ret_stdout = status == 0 ? TAKE_PTR(out) : strdup("");
        return status;
}

static int copy_rclone(const Schedule *s, const CopyTarget *t, Plan *p, CopyOutcome *o) {
        _cleanup_free_ char *listing = NULL, *dir = NULL;
        _cleanup_strv_free_ char **partials = NULL;
        Rclone c = { .s = s, .t = t, .o = o };
        int r;

        r = rclone_env(&c);
        if (r < 0)
                goto finish;
        dir = rclone_location(&c, "");
        if (!dir) {
                r = -ENOMEM;
                goto finish;
        }
        r = rclone(&c, &listing, 3, "lsf", "--files-only", "--format=sp", "--", dir, NULL);
        if (r < 0)
                goto finish;

        /* "SIZE;NAME" lines */
        for (char *line = listing, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *semi = strchr(line, ';');
                if (!semi)
                        continue;
                *semi = 0;
                const char *name = semi + 1, *base;
                Entry *e;
                size_t n = strlen(name);
                /* ".ARCHIVE.partial" of an upload that did not finish */
                if (name[0] == '.' && (base = endswith(name, ".partial")) && base > name + 1) {
                        _cleanup_free_ char *archive = strndup(name + 1, base - name - 1);
                        _cleanup_free_ char *owner = NULL;
                        if (!archive) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        if (archive_name_parse(archive, &owner, NULL, NULL, NULL) && streq(owner, s->name) &&
                            strv_extend(&partials, archive) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        continue;
                }
                (void) n;
                r = plan_add(p, s->name, name, &e);
                if (r < 0)
                        goto finish;
                if (e) {
                        e->remote = true;
                        e->remote_size = strtoull(line, NULL, 10);
                }
        }
        r = plan_decide(p, s);
        if (r < 0)
                goto finish;

        for (size_t i = 0; i < p->n; i++) {
                Entry *e = &p->entries[i];
                _cleanup_free_ char *local = NULL, *partial_name = NULL, *partial = NULL, *final = NULL;

                if (!e->keep || !e->local)
                        continue;
                if (e->remote && e->remote_size == e->local_size) {
                        o->present++;
                        continue;
                }
                local = path_join(s->destination, e->filename);
                if (!local || asprintf(&partial_name, ".%s.partial", e->filename) < 0 ||
                    !(partial = rclone_location(&c, partial_name)) || !(final = rclone_location(&c, e->filename))) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = rclone(&c, NULL, -1, "copyto", "--", local, partial, NULL);
                if (r >= 0)
                        r = rclone(&c, NULL, -1, "moveto", "--", partial, final, NULL);
                if (r < 0)
                        goto finish;
                e->remote = true;
                o->sent++;
        }
        for (size_t i = 0; i < p->n; i++) {
                Entry *e = &p->entries[i];
                _cleanup_free_ char *loc = NULL;
                if (e->keep || !e->remote)
                        continue;
                loc = rclone_location(&c, e->filename);
                if (!loc) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = rclone(&c, NULL, -1, "deletefile", "--", loc, NULL);
                if (r < 0)
                        goto finish;
                e->remote = false;
                o->deleted++;
        }
        /* what interrupted uploads left, where no upload of it is due any more */
        STRV_FOREACH(a, partials) {
                _cleanup_free_ char *name = NULL, *loc = NULL;
                Entry *e = plan_find(p, *a);
                if (e && e->keep && e->local)
                        continue;       /* replaced by its upload above */
                if (asprintf(&name, ".%s.partial", *a) < 0 || !(loc = rclone_location(&c, name))) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = rclone(&c, NULL, -1, "deletefile", "--", loc, NULL);
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        if (o->message && c.remote && !streq(c.remote, t->remote)) {
                /* rclone names the remote it was given: say it as the schedule does */
                char *m = str_replace_all(o->message, c.remote, t->display + strlen("rclone:"));
                if (m)
                        free(o->message), o->message = m;
        }
        strv_free(c.env);
        free(c.remote);
        return r < 0 ? (o->error ?: r) : 0;
}

/* ---- the stage ---- */

static int copy_one(const Schedule *s, const char *spec, const ArchiveInfo *local, size_t n_local,
                    bool prune, Ledger *ledger, CopyOutcome *o) {
        _cleanup_copy_target_free_ CopyTarget *t = NULL;
        _cleanup_free_ char *error = NULL;
        _cleanup_(plan_done) Plan p = { .prune = prune };
        int r;

        r = copy_target_parse(spec, &t, &error);
        if (r < 0) {
                o->target = strdup("?");
                return outcome_fail(o, r, TAKE_PTR(error));
        }
        o->target = strdup(t->display);
        if (!o->target)
                return -ENOMEM;

        for (size_t i = 0; i < n_local; i++) {
                Entry *e;
                r = plan_add(&p, s->name, local[i].filename, &e);
                if (r < 0)
                        return r;
                if (e) {
                        e->local = true;
                        e->local_size = local[i].size;
                }
        }

        if (t->kind == COPY_RCLONE)
                return copy_rclone(s, t, &p, o);

        size_t n = strlen(spec);
        STRV_FOREACH(line, ledger->lines) {
                Entry *e;
                if (strncmp(*line, spec, n) != 0 || (*line)[n] != '\t')
                        continue;
                r = plan_add(&p, s->name, *line + n + 1, &e);
                if (r < 0)
                        return r;
                if (e)
                        e->remote = true;
        }
        r = plan_decide(&p, s);
        if (r < 0)
                return r;
        return copy_ssh(s, t, &p, ledger, o);
}

static void emit(const Schedule *s, bool prune, const CopyOutcome *o) {
        char policy[32];
        EventFields f = EVENT_FIELDS_INIT(s->name);
        f.copy_target = o->target;
        if (o->error < 0) {
                f.error = o->error;
                (void) event_emit(EVENT_COPY_FAILED, &f, "Copy of %s to %s failed: %s", s->name, o->target, strempty(o->message));
        } else
                (void) event_emit(EVENT_COPY_SUCCEEDED, &f,
                                  "Copied %u archive%s of %s to %s (%u already there, %u removed there by %s).",
                                  o->sent, o->sent == 1 ? "" : "s", s->name, o->target, o->present, o->deleted,
                                  keep_policy(s, prune, policy));
}

/* Records each target's outcome for status and metrics, under the state
 * lock shared with the notifications. */
static int record_state(const Schedule *s, const char *state_dir, const CopyResults *res) {
        _cleanup_(state_done) ScheduleState st = {};
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        r = state_lock(state_dir, s->name, &lock_fd);
        if (r < 0)
                return r;
        r = state_load(state_dir, s->name, &st);
        if (r < 0)
                return r;
        for (size_t i = 0; i < res->n; i++) {
                const CopyOutcome *o = &res->targets[i];
                CopyState *c = state_copy(&st, s->copy_to[i]);
                if (!c)
                        return -ENOMEM;
                free(c->error);
                c->error = NULL;
                if (o->error < 0) {
                        c->failed_usec = o->time_usec;
                        c->error = strdup(strempty(o->message));
                        if (!c->error)
                                return -ENOMEM;
                } else {
                        c->failed_usec = 0;
                        c->last_good_usec = o->time_usec;
                }
        }
        return state_save(state_dir, s->name, &st);
}

int copy_run(const Schedule *s, const char *state_dir, bool prune, CopyResults *ret) {
        CopyResults res = {};
        ArchiveInfo *local = NULL;
        size_t n_local = 0;
        Ledger ledger = {};
        int r;

        *ret = res;
        if (!s->copy_to)
                return 0;
        res.targets = calloc(strv_length(s->copy_to), sizeof *res.targets);
        if (!res.targets)
                return -ENOMEM;

        r = archive_list(s->destination, s->name, &local, &n_local);
        if (r >= 0 && state_dir)
                r = ledger_load(state_dir, s->name, &ledger);

        /* Files appear on the targets as rsync and rclone create them: as
         * private as the archives (a :local: or sftp target honours it). */
        mode_t old_umask = umask(0077);
        STRV_FOREACH(spec, s->copy_to) {
                CopyOutcome *o = &res.targets[res.n++];
                int k = r < 0 ? r : copy_one(s, *spec, local, n_local, prune, &ledger, o);
                if (k == -ENOMEM && !o->message) {
                        r = k;
                        break;
                }
                if (!o->target)
                        o->target = strdup(*spec);
                if (k < 0 && o->error == 0)
                        outcome_fail(o, k, NULL);
                o->time_usec = now_realtime_usec();
                if (o->error < 0)
                        res.failed++;
                emit(s, prune, o);
        }
        umask(old_umask);

        if (state_dir && r != -ENOMEM) {
                /* a target no longer in CopyTo= is no longer ours to prune */
                char **kept = NULL;
                STRV_FOREACH(line, ledger.lines) {
                        _cleanup_free_ char *spec = strndup(*line, strcspn(*line, "\t"));
                        if (spec && strv_contains(s->copy_to, spec) && strv_extend(&kept, *line) < 0)
                                break;
                }
                strv_free(ledger.lines);
                ledger.lines = kept;
                int k = ledger_save(state_dir, s->name, &ledger);
                if (k >= 0)
                        k = record_state(s, state_dir, &res);
                if (k < 0 && r >= 0)
                        r = k;
        }
        strv_free(ledger.lines);
        archive_list_free(local, n_local);
        *ret = res;
        if (r < 0)
                return r;
        return res.failed > 0 ? -EIO : 0;
}

void copy_results_done(CopyResults *r) {
        for (size_t i = 0; i < r->n; i++) {
                free(r->targets[i].target);
                free(r->targets[i].message);
        }
        free(r->targets);
        *r = (CopyResults) {};
}

const CopyOutcome *copy_results_first_failure(const CopyResults *r) {
        for (size_t i = 0; i < r->n; i++)
                if (r->targets[i].error < 0)
                        return &r->targets[i];
        return NULL;
}
