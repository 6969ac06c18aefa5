/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "archive-read.h"
#include "archive-util.h"
#include "log.h"
#include "manifest.h"
#include "path-util.h"
#include "restore.h"

char *restore_path_argument(const char *arg) {
        while (*arg == '/')
                arg++;
        while (arg[0] == '.' && arg[1] == '/')
                arg += 2;
        char *p = path_normalize(*arg ? arg : ".");
        return p;
}

/* Stored names are relative; a leading "./" means nothing. */
static const char *entry_name(const char *p) {
        while (p && p[0] == '.' && p[1] == '/')
                p += 2;
        return p;
}

bool restore_name_is_safe(const char *p) {
        if (isempty(p) || p[0] == '/')
                return false;
        for (const char *c = p; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.')
                        return false;
                c += n;
                while (*c == '/')
                        c++;
        }
        return true;
}

bool restore_name_selected(const char *name, char **paths) {
        if (!paths)
                return true;
        STRV_FOREACH(p, paths) {
                if (streq(*p, "."))
                        return true;
                const char *rest = startswith(name, *p);
                if (rest && (*rest == 0 || *rest == '/'))
                        return true;
        }
        return false;
}

/* Opens PATH below DIR_FD without following any symlink and without leaving
 * DIR_FD: the kernel does the checking (openat2, Linux 5.6). */
static int open_beneath(int dir_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC | O_NOFOLLOW),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
        return fd < 0 ? negative_errno() : fd;
}

/* The parent directories of NAME are either missing (libarchive creates
 * them) or real directories inside the target. */
static int check_parents(int to_fd, const char *name) {
        if (to_fd < 0)
                return 0;       /* a dry run into a directory that does not exist yet */
        _cleanup_free_ char *parent = strdup(name);
        if (!parent)
                return -ENOMEM;
        /* "dir/sub/" is a directory entry: its parent is "dir" */
        for (size_t n = strlen(parent); n > 1 && parent[n - 1] == '/'; n--)
                parent[n - 1] = 0;
        char *slash = strrchr(parent, '/');
        if (!slash)
                return 0;
        *slash = 0;
        int fd = open_beneath(to_fd, parent, O_PATH | O_DIRECTORY);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        safe_close(fd);
        return 0;
}

static void print_entry(struct archive_entry *e, const char *name) {
        char mode[12], when[32];
        time_t t = archive_entry_mtime(e);
        struct tm tm;
        snprintf(mode, sizeof mode, "%s", archive_entry_strmode(e));
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
        char owner[64];
        if (archive_entry_uname(e) && archive_entry_gname(e))
                snprintf(owner, sizeof owner, "%s/%s", archive_entry_uname(e), archive_entry_gname(e));
        else
                snprintf(owner, sizeof owner, "%" PRId64 "/%" PRId64, (int64_t) archive_entry_uid(e), (int64_t) archive_entry_gid(e));
        printf("%s %-17s %12" PRId64 " %s %s", mode, owner, (int64_t) archive_entry_size(e), when, name);
        if (archive_entry_hardlink(e))
                printf(" link to %s", entry_name(archive_entry_hardlink(e)));
        else if (archive_entry_symlink(e))
                printf(" -> %s", archive_entry_symlink(e));
        putchar('\n');
}

static int copy_data(struct archive *in, struct archive *out) {
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r = archive_read_data_block(in, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return ARCHIVE_OK;
                if (r < ARCHIVE_OK)
                        return r;
                if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK)
                        return ARCHIVE_FAILED;
        }
}

typedef struct Restore {
        const RestoreOptions *o;
        const char *archive;
        ArchiveReader *reader;
        struct archive *in, *out;
        int to_fd;
        RestoreStats st;
        bool *matched;
        size_t npaths;
        char **pending;         /* pairs: hard link name, target outside the selection */
} Restore;

/* Checks and writes one entry under NAME (hard link to LINK, if set). 0, or
 * a negative errno when the archive cannot be read on. */
static int restore_entry(Restore *x, struct archive_entry *e, const char *name, const char *link) {
        const RestoreOptions *o = x->o;
        int r;

        if (!restore_name_is_safe(name)) {
                log_error("Refusing entry '%s': absolute path or '..' component.", strempty(name));
                x->st.refused++;
                return 0;
        }
        if (link && !restore_name_is_safe(link)) {
                log_error("Refusing hard link '%s' to '%s': the target is outside %s.", name, link, o->target);
                x->st.refused++;
                return 0;
        }
        r = check_parents(x->to_fd, name);
        if (r < 0) {
                log_error("Refusing entry '%s': a directory on its path is a symlink or not a directory (%s).", name, strerror(-r));
                x->st.refused++;
                return 0;
        }
        if (link && o->mode == RESTORE_EXTRACT) {
                /* The target must be a file inside the target directory,
                 * reached without symlinks: restored before, or already there. */
                int fd = open_beneath(x->to_fd, link, O_PATH);
                struct stat lst;
                if (fd < 0 || fstat(fd, &lst) < 0 || !S_ISREG(lst.st_mode)) {
                        log_error("Refusing hard link '%s' to '%s': no such regular file inside %s.", name, link, o->target);
                        safe_close(fd);
                        x->st.refused++;
                        return 0;
                }
                safe_close(fd);
        }

        struct stat existing;
        if (fstatat(x->to_fd, name, &existing, AT_SYMLINK_NOFOLLOW) >= 0 &&
            !(S_ISDIR(existing.st_mode) && archive_entry_filetype(e) == AE_IFDIR) && !o->overwrite) {
                log_warning("Not overwriting %s/%s (use --overwrite).", o->target, name);
                x->st.existing++;
                return 0;
        }

        if (o->mode == RESTORE_DRY_RUN) {
                printf("would restore %s/%s\n", o->target, name);
                x->st.entries++;
                return 0;
        }

        archive_entry_copy_pathname(e, name);
        archive_entry_copy_hardlink(e, link);
        r = archive_write_header(x->out, e);
        if (r == ARCHIVE_FATAL)
                return log_error_errno(-EIO, "Cannot restore into %s: %s", o->target, archive_error_string(x->out));
        if (r < ARCHIVE_WARN) {
                log_error("Cannot restore %s/%s: %s", o->target, name, archive_error_string(x->out));
                x->st.failed++;
                return 0;
        }
        if (r == ARCHIVE_WARN)
                log_warning("%s: %s", name, archive_error_string(x->out));
        if (archive_entry_size(e) > 0 && !link) {
                r = copy_data(x->in, x->out);
                if (r < ARCHIVE_WARN) {
                        /* A read error means the archive itself is damaged: stop, and
                         * leave no file behind that looks restored but is not. */
                        if (archive_errno(x->in) != 0 || archive_error_string(x->in)) {
                                if (unlinkat(x->to_fd, name, 0) >= 0)
                                        log_error("Removed %s/%s: its data in the archive is damaged.", o->target, name);
                                return log_error_errno(-EBADMSG, "Cannot read %s: %s", x->archive,
                                                       archive_reader_error(x->reader));
                        }
                        log_error("Cannot write %s/%s: %s", o->target, name, archive_error_string(x->out));
                        x->st.failed++;
                        return 0;
                }
        }
        if (archive_write_finish_entry(x->out) < ARCHIVE_WARN) {
                log_error("Cannot finish %s/%s: %s", o->target, name, archive_error_string(x->out));
                x->st.failed++;
                return 0;
        }
        x->st.entries++;
        return 0;
}

/* The selected entries, in archive order. A selected hard link whose target
 * lies outside the selection is put aside for resolve_pending(). */
static int restore_selected(Restore *x) {
        struct archive_entry *e;
        int r;

        while ((r = archive_read_next_header(x->in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *name = entry_name(archive_entry_pathname(e));
                const char *link = archive_entry_hardlink(e) ? entry_name(archive_entry_hardlink(e)) : NULL;

                /* The manifest describes the archive; it is not part of the backup. */
                if (!restore_name_selected(name, x->o->paths) || archive_member_is_internal(name))
                        continue;
                for (size_t i = 0; i < x->npaths; i++)
                        if (restore_name_selected(name, (char *[]) { x->o->paths[i], NULL }))
                                x->matched[i] = true;

                if (x->o->mode == RESTORE_LIST) {
                        print_entry(e, name);
                        x->st.entries++;
                        continue;
                }
                if (link && !restore_name_selected(link, x->o->paths)) {
                        if (strv_extend(&x->pending, name) < 0 || strv_extend(&x->pending, link) < 0)
                                return log_oom();
                        continue;
                }
                r = restore_entry(x, e, name, link);
                if (r < 0)
                        return r;
        }
        if (r != ARCHIVE_EOF)
                return log_error_errno(-EBADMSG, "Cannot read %s: %s", x->archive, archive_reader_error(x->reader));
        return 0;
}

/* Hard links whose data lies in an entry outside the selection: a second
 * pass restores that data under the first link's name and links the others
 * to it. Only partial restores with such links pay for the second pass. */
static int resolve_pending(Restore *x) {
        _cleanup_(archive_reader_freep) ArchiveReader *again = NULL;
        _cleanup_free_ char *error = NULL;
        struct archive_entry *e;
        int r;

        r = archive_reader_open(x->archive, x->o->key, &again, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot reopen archive %s: %s", x->archive, error ?: strerror(-r));
        ArchiveReader *selection = x->reader;
        x->reader = again;
        x->in = again->a;
        while ((r = archive_read_next_header(again->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                _cleanup_free_ char *target = strdup(entry_name(archive_entry_pathname(e)));
                const char *first = NULL;
                if (!target)
                        return log_oom();
                for (char **p = x->pending; p && *p; p += 2) {
                        if (!streq(p[1], target))
                                continue;
                        r = restore_entry(x, e, p[0], first);
                        if (r < 0)
                                return r;
                        first = first ?: p[0];
                }
        }
        if (r != ARCHIVE_EOF)
                r = log_error_errno(-EBADMSG, "Cannot read %s: %s", x->archive, archive_reader_error(again));
        else
                r = 0;
        x->reader = selection;
        x->in = selection->a;
        return r;
}

int restore_archive(const char *archive, const RestoreOptions *o, RestoreStats *ret) {
        _cleanup_(archive_reader_freep) ArchiveReader *in = NULL;
        _cleanup_(archive_write_freep) struct archive *out = NULL;
        _cleanup_close_ int to_fd = -EBADF, cwd_fd = -EBADF;
        _cleanup_free_ bool *matched = NULL;
        int r;

        _cleanup_free_ char *open_error = NULL;
        r = archive_reader_open(archive, o->key, &in, &open_error);
        if (r < 0)
                return log_error_errno(r, "Cannot open archive %s: %s", archive, open_error ?: strerror(-r));

        size_t npaths = strv_length(o->paths);
        matched = calloc(npaths + 1, sizeof *matched);
        if (!matched)
                return log_oom();

        if (o->mode == RESTORE_DRY_RUN) {
                /* A dry run changes nothing, not even by creating the target. */
                to_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (to_fd < 0 && errno != ENOENT)
                        return log_error_errno(negative_errno(), "Cannot open %s: %m", o->target);
        } else if (o->mode == RESTORE_EXTRACT) {
                r = mkdir_p(o->target, 0700);
                if (r < 0)
                        return log_error_errno(r, "Cannot create %s: %m", o->target);
                to_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (to_fd < 0)
                        return log_error_errno(negative_errno(), "Cannot open %s: %m", o->target);
        }
        if (o->mode == RESTORE_EXTRACT) {
                int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_ACL |
                            ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SPARSE |
                            ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                            ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
                /* Replacing means unlinking first: never write into an existing
                 * file through whatever it is now (a symlink, a hard link). */
                flags |= o->overwrite ? ARCHIVE_EXTRACT_UNLINK : ARCHIVE_EXTRACT_NO_OVERWRITE;
                if (geteuid() == 0)
                        flags |= ARCHIVE_EXTRACT_OWNER;
                out = archive_write_disk_new();
                if (!out || archive_write_disk_set_options(out, flags) != ARCHIVE_OK ||
                    archive_write_disk_set_standard_lookup(out) != ARCHIVE_OK)
                        return log_oom();
                /* archive_write_disk works relative to the current directory. */
                cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cwd_fd < 0 || fchdir(to_fd) < 0)
                        return log_error_errno(negative_errno(), "Cannot change into %s: %m", o->target);
        }

        Restore x = {
                .o = o, .archive = archive, .reader = in, .in = in->a, .out = out, .to_fd = to_fd,
                .matched = matched, .npaths = npaths,
        };
        r = restore_selected(&x);
        if (r >= 0 && x.pending)
                r = resolve_pending(&x);
        strv_free(x.pending);

        /* Directory times and modes are set last, by close. */
        if (out && archive_write_close(out) != ARCHIVE_OK && r >= 0) {
                log_error("Cannot finish restoring into %s: %s", o->target, archive_error_string(out));
                x.st.failed++;
        }
        if (cwd_fd >= 0)
                (void) fchdir(cwd_fd);

        for (size_t i = 0; i < npaths; i++)
                if (!matched[i]) {
                        log_error("No entry '%s' in %s.", o->paths[i], archive);
                        x.st.unmatched++;
                }
        *ret = x.st;
        return r;
}
