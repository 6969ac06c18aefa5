/* SPDX-License-Identifier: MIT */
/* Restore points of chains (FullEvery=): restore and verify apply to the
 * whole chain of an incremental archive, backups -l shows what each
 * archive depends on. */
#include <libgen.h>

#include "archive-list.h"
#include "chain.h"
#include "ctl.h"
#include "log.h"

bool ctl_archive_is_incremental(const char *path) {
        const char *base = strrchr(path, '/');
        bool incremental = false;
        return archive_name_parse_kind(base ? base + 1 : path, NULL, NULL, &incremental, NULL, NULL) && incremental;
}

/* The archives beside ARCHIVE (its schedule's, in its directory) and its
 * place among them. */
static int list_beside(const char *archive, ArchiveInfo **ret, size_t *ret_n, size_t *ret_i) {
        _cleanup_free_ char *copy = strdup(archive), *schedule = NULL;
        ArchiveInfo *list = NULL;
        size_t n = 0;
        int r;

        if (!copy)
                return log_oom();
        const char *base = strrchr(archive, '/');
        base = base ? base + 1 : archive;
        if (!archive_name_parse(base, &schedule, NULL, NULL, NULL)) {
                log_error("%s is not named like an archive of Alexandria.", archive);
                return -EINVAL;
        }
        const char *dir = strchr(archive, '/') ? dirname(copy) : ".";
        r = archive_list(dir, schedule, &list, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list archives in %s: %m", dir);
        for (size_t i = 0; i < n; i++)
                if (streq(list[i].filename, base)) {
                        *ret = list;
                        *ret_n = n;
                        *ret_i = i;
                        return 0;
                }
        archive_list_free(list, n);
        log_error("%s is not among the archives of %s in %s.", archive, schedule, dir);
        return -ENOENT;
}

/* A chain may mix encrypted members and plain ones: one key serves all. */
static int load_chain_key(const Schedule *s, const ArchiveInfo *members, size_t n, const CryptKeySource *given,
                          CryptKeySource **ret) {
        *ret = NULL;
        if (given)
                return 0;
        for (size_t k = 0; k < n; k++)
                if (members[k].encrypted)
                        return ctl_load_key(s, members[k].path, ret);
        return 0;
}

int ctl_restore_chain(const Schedule *s, const char *archive, const RestoreOptions *o) {
        _cleanup_(crypt_key_freep) CryptKeySource *key = NULL;
        _cleanup_free_ char *error = NULL;
        ArchiveInfo *list = NULL;
        size_t n = 0, i = 0;
        Chain chain;
        int r, ret;

        r = list_beside(archive, &list, &n, &i);
        if (r < 0)
                return exit_code_for(r);
        /* the headers of the members may need the key already */
        r = load_chain_key(s, &list[0], i + 1, o->key, &key);
        if (r < 0) {
                archive_list_free(list, n);
                return EXIT_FAILED;
        }
        RestoreOptions co = *o;
        co.key = o->key ?: key;
        r = chain_resolve(list, n, i, co.key, &chain, &error);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                else
                        log_error_errno(r, "Cannot follow the chain of %s: %m", archive);
                archive_list_free(list, n);
                return EXIT_FAILED;
        }

        ChainRestoreStats st = {};
        r = chain_restore(&chain, &co, &st);
        if (r == -EEXIST)
                ret = EXIT_USAGE;
        else if (r < 0) {
                log_error("Restoring stopped at %s (archive %zu of the %zu of the chain).",
                          chain.members[st.bad_member].filename, st.bad_member + 1, chain.n);
                ret = EXIT_FAILED;
        } else
                ret = restore_stats_ok(&st.restore) ? EXIT_OK : EXIT_FAILED;
        if (r != -EEXIST && co.mode == RESTORE_EXTRACT)
                fprintf(stderr, "Restored the restore point %s from %zu archives (%s and %zu incremental) into %s: "
                        "%llu entries written, %llu removed.\n", chain.members[chain.n - 1].filename, chain.n,
                        chain.members[0].filename, chain.n - 1, o->target,
                        (unsigned long long) st.restore.entries, (unsigned long long) st.deleted);
        if (st.restore.existing > 0)
                fprintf(stderr, "%llu existing files were not overwritten (use --overwrite).\n",
                        (unsigned long long) st.restore.existing);
        if (st.restore.refused > 0)
                fprintf(stderr, "%llu unsafe entries were refused.\n", (unsigned long long) st.restore.refused);
        if (st.restore.failed > 0)
                fprintf(stderr, "%llu entries could not be restored.\n", (unsigned long long) st.restore.failed);
        if (st.restore.damaged > 0)
                fprintf(stderr, "%llu damaged entries were not restored (named above).\n",
                        (unsigned long long) st.restore.damaged);
        if (r != -EEXIST && co.mode == RESTORE_EXTRACT && st.restore.unchecked)
                fprintf(stderr, "Some restored files were not checked against a manifest.\n");
        archive_list_free(list, n);
        return ret;
}

typedef struct VerifyPrint {
        size_t member, members;
        const char *bad;        /* the first bad member's file name */
} VerifyPrint;

static void print_member(const ArchiveInfo *a, const VerifyResult *v, int error, const char *problem, void *userdata) {
        VerifyPrint *p = userdata;
        bool ok = error >= 0 && !problem && verify_result_ok(v);

        p->member++;
        if (!ok && !p->bad)
                p->bad = a->filename;
        if (error < 0)
                printf("%s: BAD (unreadable)\n", a->path);
        else if (!verify_result_ok(v))
                printf("%s: BAD (%llu entries; %llu missing, %llu extra, %llu corrupt%s)\n", a->path,
                       (unsigned long long) v->entries, (unsigned long long) v->missing,
                       (unsigned long long) v->extra, (unsigned long long) v->corrupt,
                       v->has_manifest ? "" : "; no manifest");
        else if (problem)
                printf("%s: BAD (%llu entries match the manifest, but %s)\n", a->path, (unsigned long long) v->entries,
                       problem);
        else
                printf("%s: OK (%llu entries match the manifest)\n", a->path, (unsigned long long) v->entries);
}

int ctl_verify_chain(const Schedule *s, const char *archive) {
        _cleanup_(crypt_key_freep) CryptKeySource *key = NULL;
        ArchiveInfo *list = NULL;
        size_t n = 0, i = 0;
        int r;

        r = list_beside(archive, &list, &n, &i);
        if (r < 0)
                return exit_code_for(r);
        ssize_t first = chain_full_index(list, n, i);
        size_t from = first < 0 ? 0 : (size_t) first;
        if (load_chain_key(s, &list[from], i - from + 1, NULL, &key) < 0) {
                archive_list_free(list, n);
                return EXIT_FAILED;
        }

        VerifyPrint p = { .members = i - from + 1 };
        r = chain_verify(list, n, i, key, archive_report_log, print_member, &p);
        if (r == -EBADMSG)
                printf("Chain of %s: BAD: %s is bad (%zu archives, from %s).\n", list[i].filename, p.bad ?: "a member",
                       p.members, list[from].filename);
        else if (r < 0)
                log_error_errno(r, "Cannot verify the chain of %s: %m", archive);
        else
                printf("Chain of %s: OK (%zu archives, from %s).\n", list[i].filename, p.members, list[from].filename);
        archive_list_free(list, n);
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}

int ctl_archive_kind(const ArchiveInfo *list, size_t n, size_t i, char **ret) {
        if (!list[i].incremental)
                return (*ret = strdup("full")) ? 0 : -ENOMEM;
        ssize_t f = chain_full_index(list, n, i);
        if (f < 0)
                return (*ret = strdup("incremental, its full archive is missing")) ? 0 : -ENOMEM;
        return asprintf(ret, "incremental on %s", list[f].filename) < 0 ? -ENOMEM : 0;
}
