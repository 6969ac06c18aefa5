/* SPDX-License-Identifier: MIT */
/* files NAME [--unexpected] [-0] [--explain]: the selection a run of NAME
 * would take, from the very walk and policy the run uses (select-walk.h),
 * one absolute path a line. */
#include <inttypes.h>

#include "ctl.h"
#include "dpkg-db.h"
#include "log.h"
#include "select-walk.h"

typedef struct FilesOutput {
        char separator;
        uint64_t stored, unexpected, warnings;
} FilesOutput;

static void put_path(const char *path, size_t len, char separator) {
        fwrite_unlocked(path, 1, len, stdout);
        putc_unlocked(separator, stdout);
}

static int print_entry(const SelectEntry *e, void *userdata) {
        FilesOutput *o = userdata;
        const SelectDecision *d = e->decision;

        o->stored++;
        o->unexpected += d->unexpected;
        if (arg.explain) {
                printf("+ %s (%s%s)%c", e->path, select_reason_to_string(d->reason),
                       d->unexpected ? ", unexpected" : "", o->separator);
                return 0;
        }
        if (arg.unexpected && !d->unexpected)
                return 0;
        put_path(e->path, e->len, o->separator);
        return 0;
}

/* --explain: what is left out as a whole (not each packaged file). */
static void print_skipped(const SelectEntry *e, void *userdata) {
        FilesOutput *o = userdata;
        const SelectDecision *d = e->decision;

        if (!arg.explain || d->reason == SKIP_PACKAGED)
                return;
        printf("- %s (%s%s%s)%c", e->path, select_reason_to_string(d->reason),
               d->detail ? ": " : "", strempty(d->detail), o->separator);
}

static void print_warning(const char *path, const char *message, void *userdata) {
        FilesOutput *o = userdata;
        o->warnings++;
        fflush(stdout);
        log_warning("%s", message);
}

static void explain_rules(const Schedule *s, const SelectPolicy *p) {
        printf("# The selection of schedule %s, as a run would take it.\n", s->name);
        printf("# Sources:");
        STRV_FOREACH(src, s->sources)
                printf(" %s", *src);
        printf("\n# Below a source, never stored (built-in excludes):\n");
        for (size_t i = 0; i < select_builtin_paths_n; i++)
                printf("#   %-26s %s\n", select_builtin_paths[i].path, select_builtin_paths[i].why);
        printf("#   %-26s the schedule's own archives\n", s->destination);
        printf("#   mount points of these file system types:\n#    ");
        for (size_t i = 0, col = 4; i < select_skipped_fs_types_n; i++) {
                const char *n = strempty(select_skipped_fs_types[i].name);
                if (col + strlen(n) + 1 > 78) {
                        printf("\n#    ");
                        col = 4;
                }
                printf(" %s", n);
                col += strlen(n) + 1;
        }
        printf("\n#   (other local file systems, fuseblk included, are walked)\n#   sockets\n");
        STRV_FOREACH(x, s->excludes)
                printf("#   Exclude=%s\n", *x);

        const DpkgDb *db = select_policy_dpkg(p);
        if (db) {
                DpkgDbStats st;
                dpkg_db_stats(db, &st);
                printf("# SkipPackaged=yes: left out is what an installed package ships (reinstalling it gives it back);\n"
                       "#   kept are conffiles, files no package ships, and dpkg's own: its database, the\n"
                       "#   alternatives links and diverted files. Packaged directories are stored only for\n"
                       "#   what is kept below them. Package state goes to .alexandria/system/ in the archive.\n");
                printf("#   dpkg database %s: %u packages, %zu paths, %zu conffiles, %zu diversions,\n"
                       "#   %zu alternatives links, %zu path-exclude/include rules; loaded in %.3f s (%.3f s CPU)\n",
                       dpkg_db_admindir(db), st.packages, st.paths, st.conffiles, st.diversions, st.alternatives,
                       st.path_filters, (double) st.load_usec / USEC_PER_SEC, (double) st.load_cpu_usec / USEC_PER_SEC);
                if (s->verify_packaged)
                        printf("# VerifyPackaged=yes: packaged files that differ from their md5sums are kept (modified)\n");
        }
        if (s->expects) {
                printf("# Expected (any other kept file is unexpected):");
                STRV_FOREACH(x, s->expects)
                        printf(" %s", *x);
                putchar('\n');
        }
        printf("# + PATH (why it is stored)   - PATH (why it and all below it are left out)\n");
}

int verb_files(int argc, char **argv) {
        _cleanup_(select_policy_freep) SelectPolicy *policy = NULL;
        _cleanup_free_ char *error = NULL;
        const Schedule *s;
        int r;

        if (arg.unexpected && arg.explain) {
                log_error("files takes --unexpected or --explain, not both.");
                return EXIT_USAGE;
        }
        r = ctl_find_valid_schedule(&ctx.schedules, argv[1], &s);
        if (r < 0)
                return EXIT_USAGE;
        if (arg.unexpected && !s->expects) {
                log_error("Schedule %s has no Expect=, so no file is unexpected.", s->name);
                return EXIT_USAGE;
        }

        r = select_policy_new(s, NULL, &policy, &error);
        if (r < 0) {
                log_error("Cannot select the files of %s: %s", s->name, error ?: strerror(-r));
                return EXIT_FAILED;
        }

        static char buffer[1 << 16];
        setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
        if (arg.explain)
                explain_rules(s, policy);

        FilesOutput out = { .separator = arg.null_separator ? 0 : '\n' };
        SelectVisitor v = {
                .entry = print_entry,
                .warning = print_warning,
                .skipped = print_skipped,
                .userdata = &out,
        };
        STRV_FOREACH(src, s->sources) {
                r = select_walk(policy, *src, &v, &error);
                if (r < 0) {
                        fflush(stdout);
                        log_error("%s", error ?: strerror(-r));
                        return EXIT_FAILED;
                }
        }
        if (arg.explain)
                printf("# %" PRIu64 " entries stored, %" PRIu64 " of them unexpected, %" PRIu64 " not readable\n",
                       out.stored, out.unexpected, out.warnings);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                log_error_errno(negative_errno(), "Cannot write the list: %m");
                return EXIT_FAILED;
        }
        return EXIT_OK;
}
