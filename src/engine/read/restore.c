/* SPDX-License-Identifier: MIT */
/* Two passes over the archive, through one open file.
 *
 * The first reads the headers and the manifest (the archive's last entry)
 * into an unnamed scratch file, checking every line of it, and notes the
 * files that selected hard links point at. The second writes, reading a
 * positional manifest's lines along with the entries they describe: memory
 * grows with the hard links, not with the files. Every entry but a directory is
 * written by libarchive under a fresh temporary name in its directory, its
 * content hashed on the way, and renamed to its real name only when it is
 * complete and matches the manifest (RENAME_NOREPLACE unless --overwrite):
 * a damaged file is removed under its temporary name and named in the log,
 * and the file it would have replaced is still there.
 *
 * A hard link is made only to a file this restore wrote (the Written map,
 * which keeps the names that pass 1 saw a selected link point at);
 * any data a hostile archive gives a hard-link entry is never written, since
 * libarchive would write it into the link's target. Data for selected links
 * whose file lies outside the selection is written once to a temporary file
 * in the target (a "stash"), the links are made to it, and it is removed at
 * the end: no third pass, no link made before its parent directory's own
 * entry was restored. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "archive-read.h"
#include "archive-util.h"
#include "escape.h"
#include "log.h"
#include "manifest.h"
#include "manifest-spool.h"
#include "path-util.h"
#include "restore.h"

#define TEMP_PREFIX ".alexandria-restore-"

char *restore_path_argument(const char *arg) {
        /* "/./etc", ".//etc": any mix of leading slashes and "./" */
        for (;;) {
                if (*arg == '/')
                        arg++;
                else if (arg[0] == '.' && arg[1] == '/')
                        arg += 2;
                else
                        break;
        }
        char *p = path_normalize(*arg ? arg : ".");
        return p;
}

const char *restore_entry_name(const char *p) {
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

/* ---- opening below the target ---------------------------------------------- */

/* One component at a time, for kernels without openat2 (before 5.6) and
 * sandboxes whose seccomp filter refuses it: each directory is opened
 * O_PATH|O_NOFOLLOW and checked to be a directory before the next step. */
int restore_open_beneath_walk(int dir_fd, const char *path, int flags) {
        _cleanup_close_ int cur = -EBADF;
        const char *p = path;

        if (path[0] == 0)
                return -ENOENT;
        if (path[0] == '/')
                return -EXDEV;
        /* "dir/" names a directory, as it does for the kernel */
        if (endswith(path, "/"))
                flags |= O_DIRECTORY;
        for (;;) {
                size_t n = strcspn(p, "/");
                const char *next = p + n;
                while (*next == '/')
                        next++;
                bool last = *next == 0;
                int at = cur >= 0 ? cur : dir_fd;

                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return -EXDEV;
                if ((n == 0 || (n == 1 && p[0] == '.')) && !last) {
                        p = next;
                        continue;
                }
                _cleanup_free_ char *component = strndup(p, n);
                if (!component)
                        return -ENOMEM;
                const char *c = n == 0 ? "." : component;
                /* The last one as openat2 would: O_NOFOLLOW gives ELOOP for a
                 * symlink, or with O_PATH the symlink itself. */
                int fd = openat(at, c, last ? flags | O_NOFOLLOW | O_CLOEXEC : O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                if (last)
                        return fd;
                struct stat st;
                if (fstat(fd, &st) < 0) {
                        int r = negative_errno();
                        safe_close(fd);
                        return r;
                }
                if (!S_ISDIR(st.st_mode)) {
                        safe_close(fd);
                        return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
                }
                safe_close(cur);
                cur = fd;
                p = next;
        }
}

int restore_open_beneath(int dir_fd, const char *path, int flags) {
        static bool no_openat2 = false;
        if (!no_openat2) {
                struct open_how how = {
                        .flags = (uint64_t) (flags | O_CLOEXEC | O_NOFOLLOW),
                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
                };
                int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
                if (fd >= 0)
                        return fd;
                if (errno != ENOSYS && errno != EPERM)
                        return negative_errno();
                /* Missing, or filtered by a container's seccomp profile
                 * (which answers EPERM, or ENOSYS): walk instead. */
                log_debug("openat2() is not available (%m); walking paths one component at a time.");
                no_openat2 = errno == ENOSYS;
        }
        return restore_open_beneath_walk(dir_fd, path, flags);
}

/* ---- a small map of names ------------------------------------------------- */

/* Entry name → where its file is, relative to the target (NULL: under that
 * name): the files this restore wrote, the only ones a hard link may point
 * at. */
typedef struct Written {
        char **keys, **values;
        size_t n, size;
} Written;

static uint64_t name_hash(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * UINT64_C(1099511628211);
        return h;
}

static size_t written_slot(const Written *w, const char *key) {
        size_t i = (size_t) name_hash(key) & (w->size - 1);
        while (w->keys[i] && !streq(w->keys[i], key))
                i = (i + 1) & (w->size - 1);
        return i;
}

static const char *written_get(const Written *w, const char *key) {
        if (w->size == 0)
                return NULL;
        size_t i = written_slot(w, key);
        return !w->keys[i] ? NULL : w->values[i] ?: w->keys[i];
}

static int written_put(Written *w, const char *key, const char *value) {
        if ((w->n + 1) * 2 > w->size) {
                Written bigger = { .size = w->size ? w->size * 2 : 64 };
                bigger.keys = calloc(bigger.size, sizeof(char *));
                bigger.values = calloc(bigger.size, sizeof(char *));
                if (!bigger.keys || !bigger.values) {
                        free(bigger.keys);
                        free(bigger.values);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < w->size; i++)
                        if (w->keys[i]) {
                                size_t j = written_slot(&bigger, w->keys[i]);
                                bigger.keys[j] = w->keys[i];
                                bigger.values[j] = w->values[i];
                        }
                bigger.n = w->n;
                free(w->keys);
                free(w->values);
                *w = bigger;
        }
        size_t i = written_slot(w, key);
        char *v = NULL;
        if (value && !(v = strdup(value)))
                return -ENOMEM;
        if (!w->keys[i]) {
                w->keys[i] = strdup(key);
                if (!w->keys[i]) {
                        free(v);
                        return -ENOMEM;
                }
                w->n++;
        }
        free(w->values[i]);
        w->values[i] = v;
        return 0;
}

static void written_done(Written *w) {
        for (size_t i = 0; i < w->size; i++) {
                free(w->keys[i]);
                free(w->values[i]);
        }
        free(w->keys);
        free(w->values);
        *w = (Written) {};
}

/* ---- the restore ------------------------------------------------------------ */

typedef struct Restore {
        const RestoreOptions *o;
        const char *archive;
        int archive_fd;
        ArchiveReader *reader;
        struct archive *in, *out;
        int to_fd;
        RestoreStats st;
        bool *matched;
        size_t npaths;
        ManifestSpool spool;    /* a positional manifest, read along with the archive */
        Manifest manifest;      /* an older one, sorted by path; empty when unchecked */
        bool *seen;             /* per entry of an older manifest: found in the archive */
        size_t ordinal;         /* of the current entry, in archive order */
        /* What selected hard links point at: only those names are kept in
         * WRITTEN, so memory grows with the hard links, not with the files. */
        Written link_targets;
        Written written;
        char **stashes;         /* their data, under temporary names: removed at the end */
        ContentHash hash;
} Restore;

#define say_o(o, level, error, ...) archive_reportf((o)->report, (o)->userdata, level, error, __VA_ARGS__)
#define say(x, level, error, ...) say_o((x)->o, level, error, __VA_ARGS__)

static void restore_done(Restore *x) {
        manifest_spool_done(&x->spool);
        manifest_done(&x->manifest);
        free(x->seen);
        written_done(&x->written);
        written_done(&x->link_targets);
        strv_free(x->stashes);
        content_hash_done(&x->hash);
}

/* What the manifest says about the current entry, NAME. Every line of a
 * positional one was parsed once already, in pass 1. */
static const ManifestEntry *manifest_find(Restore *x, const char *name) {
        if (x->spool.positional) {
                int error;
                const ManifestEntry *line = manifest_spool_seek(&x->spool, x->ordinal, &error);
                if (error < 0) {
                        /* checked whole in pass 1: the scratch file failed */
                        say(x, LOG_ERR, error, "Cannot read the manifest of %s back from its scratch file (%m): "
                            "the files restored from here on cannot be checked.", x->archive);
                        x->st.unchecked = true;
                }
                return line;
        }
        ManifestEntry *found = manifest_lookup(&x->manifest, name);
        if (found)
                x->seen[found - x->manifest.entries] = true;
        return found;
}

/* The exact modification time, where the manifest has it (the restricted
 * pax header holds whole seconds). */
static void exact_mtime(struct archive_entry *e, const ManifestEntry *expected) {
        struct timespec t;
        if (expected && manifest_entry_mtime(expected, archive_entry_mtime(e), &t))
                archive_entry_set_mtime(e, t.tv_sec, t.tv_nsec);
}

/* Pass 1: the manifest, and the hard links whose data lies outside the
 * selection. A manifest is only the manifest if it is the last entry. An
 * archive that cannot be read here is still restored as far as it can be
 * read, unchecked: on the worst day, what can be saved is wanted. */
static int scan_archive(Restore *x) {
        _cleanup_(archive_reader_freep) ArchiveReader *reader = NULL;
        _cleanup_(content_hash_done) ContentHash hash = {};
        _cleanup_free_ char *error = NULL, *text = NULL;
        size_t len = 0, entries = 0;
        bool taken = false;     /* the entry just read was taken for the manifest */
        struct archive_entry *e;
        int r;

        r = archive_reader_open_fd(x->archive_fd, x->o->key, &reader, &error);
        if (r < 0)
                return say(x, LOG_ERR, r, "Cannot open archive %s: %s", x->archive, error ?: strerror(-r));
        r = manifest_spool_open(&x->spool, x->archive);
        if (r < 0)
                return say(x, LOG_ERR, r, "Cannot create a scratch file for the manifest of %s: %m", x->archive);
        if (content_hash_init(&hash) < 0)
                return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        while ((r = archive_read_next_header(reader->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *name = strempty(restore_entry_name(archive_entry_pathname(e)));
                const char *link = restore_entry_name(archive_entry_hardlink(e));

                entries += taken;       /* what was taken for the manifest was not the last entry */
                taken = false;
                if (streq(name, MANIFEST_NAME) && archive_entry_filetype(e) == AE_IFREG && !link) {
                        ContentDigest digest;
                        r = manifest_spool_take(&x->spool, reader->a, (uint64_t) MAX(archive_entry_size(e), 0), &hash, &digest);
                        if (r == -EBADMSG)
                                break;
                        if (r == -EFBIG) {
                                say(x, LOG_ERR, 0, "The manifest of %s is larger than %u MiB: the restored files cannot be checked.",
                                    x->archive, MANIFEST_MAX / (1024 * 1024));
                                x->st.unchecked = x->st.manifest_damaged = true;
                                return 0;
                        }
                        if (r < 0)
                                return say(x, LOG_ERR, r, "Cannot write the manifest of %s to a scratch file: %m", x->archive);
                        taken = true;
                        continue;
                }
                entries++;
                if (link && restore_name_selected(name, x->o->paths) && written_put(&x->link_targets, link, NULL) < 0)
                        return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        }
        if (r != ARCHIVE_EOF) {
                say(x, LOG_ERR, 0, "Cannot read %s to its end (%s): what can be read is restored, but cannot be checked against the manifest.",
                          x->archive, archive_reader_error(reader));
                x->st.unchecked = true;
                return 0;
        }
        if (!taken) {
                say(x, LOG_WARNING, 0, "%s has no manifest (%s): the restored files cannot be checked.", x->archive, MANIFEST_NAME);
                x->st.unchecked = true;
                return 0;
        }
        r = manifest_spool_rewind(&x->spool);
        if (r < 0)
                return say(x, LOG_ERR, r, "Cannot read the manifest of %s back from its scratch file: %m", x->archive);
        /* A positional manifest is parsed once here, so pass 2 meets no damaged
         * line; an older one, which names its entries, is held sorted. */
        size_t bad_line = 0;
        if (x->spool.positional) {
                r = manifest_spool_check(&x->spool);
                bad_line = x->spool.line;
        } else {
                r = manifest_spool_read_whole(&x->spool, &text, &len);
                if (r >= 0)
                        r = manifest_parse(text, len, &x->manifest, &bad_line);
        }
        if (r == -ENOMEM)
                return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        if (r < 0 && r != -EBADMSG)
                return say(x, LOG_ERR, r, "Cannot read the manifest of %s back from its scratch file: %m", x->archive);
        if (r < 0) {
                say(x, LOG_ERR, 0, "The manifest of %s is damaged at line %zu: the restored files cannot be checked.", x->archive, bad_line);
                x->st.unchecked = x->st.manifest_damaged = true;
                return 0;
        }
        if (x->spool.positional) {
                if (manifest_spool_listed(&x->spool) != entries) {
                        say(x, LOG_ERR, 0, "The manifest of %s lists %llu entries, the archive holds %zu: entries are missing or were added, "
                            "and the restored files cannot be checked.", x->archive,
                            (unsigned long long) manifest_spool_listed(&x->spool), entries);
                        x->st.unchecked = x->st.manifest_damaged = true;
                }
                return 0;
        }
        manifest_sort(&x->manifest);
        x->seen = calloc(x->manifest.n + 1, sizeof *x->seen);
        return x->seen ? 0 : say(x, LOG_ERR, -ENOMEM, "Out of memory.");
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
        int fd = restore_open_beneath(to_fd, parent, O_PATH | O_DIRECTORY);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        safe_close(fd);
        return 0;
}

static void put_name(const char *s, bool escape) {
        if (escape)
                put_text(stdout, s);
        else
                fputs(s, stdout);
}

static void print_entry(const RestoreOptions *o, struct archive_entry *e, const char *name) {
        char mode[12], when[32];
        time_t t = archive_entry_mtime(e);
        struct tm tm;
        snprintf(mode, sizeof mode, "%s", archive_entry_strmode(e));
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
        /* Each half falls back to its number on its own, as tar -tv does: an
         * archive may name the user and leave the group's name empty. */
        char user[24], group[24], owner[96];
        const char *uname = archive_entry_uname(e), *gname = archive_entry_gname(e);
        if (isempty(uname))
                snprintf(user, sizeof user, "%" PRId64, (int64_t) archive_entry_uid(e));
        if (isempty(gname))
                snprintf(group, sizeof group, "%" PRId64, (int64_t) archive_entry_gid(e));
        snprintf(owner, sizeof owner, "%s/%s", isempty(uname) ? user : uname, isempty(gname) ? group : gname);
        printf("%s ", mode);
        put_name(owner, o->escape_names);
        printf("%*s %12" PRId64 " %s ", (int) (17 - MIN(strlen(owner), (size_t) 17)), "", (int64_t) archive_entry_size(e), when);
        put_name(name, o->escape_names);
        if (archive_entry_hardlink(e)) {
                fputs(" link to ", stdout);
                put_name(restore_entry_name(archive_entry_hardlink(e)), o->escape_names);
        } else if (archive_entry_symlink(e)) {
                fputs(" -> ", stdout);
                put_name(archive_entry_symlink(e), o->escape_names);
        }
        putchar('\n');
}

static int write_block(void *userdata, const void *buf, size_t n, int64_t offset) {
        struct archive *out = userdata;
        if (archive_write_data_block(out, buf, n, offset) < ARCHIVE_OK)
                return archive_errno(out) > 0 && archive_errno(out) != EBADMSG ? -archive_errno(out) : -EIO;
        return 0;
}

/* A temporary name in NAME's directory: "dir/.alexandria-restore-RANDOM". */
static char *temporary_name(const char *name) {
        uint64_t random;
        if (getrandom(&random, sizeof random, 0) != sizeof random)
                return NULL;
        const char *slash = strrchr(name, '/');
        char *t;
        if (asprintf(&t, "%.*s" TEMP_PREFIX "%016" PRIx64, slash ? (int) (slash - name + 1) : 0, name, random) < 0)
                return NULL;
        return t;
}

/* Opens the directory of relative path P (the target for a plain name) and
 * returns its last component in *ret_base. */
static int open_parent(Restore *x, const char *p, const char **ret_base) {
        const char *slash = strrchr(p, '/');
        *ret_base = slash ? slash + 1 : p;
        if (!slash) {
                int fd = fcntl(x->to_fd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? negative_errno() : fd;
        }
        _cleanup_free_ char *parent = strndup(p, (size_t) (slash - p));
        if (!parent)
                return -ENOMEM;
        return restore_open_beneath(x->to_fd, parent, O_PATH | O_DIRECTORY);
}

static void remove_temporary(Restore *x, const char *temp) {
        const char *base;
        _cleanup_close_ int dir = open_parent(x, temp, &base);
        if (dir >= 0)
                (void) unlinkat(dir, base, 0);
}

/* Gives the file at TEMP its real NAME (both in the same directory). */
static int rename_into_place(Restore *x, const char *temp, const char *name) {
        const char *temp_base, *base;
        _cleanup_close_ int dir = open_parent(x, temp, &temp_base);
        if (dir < 0)
                return dir;
        base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        if (x->o->overwrite)
                return renameat(dir, temp_base, dir, base) < 0 ? negative_errno() : 0;
        if (renameat2(dir, temp_base, dir, base, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return negative_errno();
        /* no RENAME_NOREPLACE on this file system: link(2) never replaces either */
        if (linkat(dir, temp_base, dir, base, 0) < 0)
                return negative_errno();
        (void) unlinkat(dir, temp_base, 0);
        return 0;
}

/* What the manifest says about the entry, if it disagrees: a reason, or
 * NULL. EXPECTED is NULL when the entry is not in the manifest. */
static const char *manifest_disagrees(const ManifestEntry *expected, char type, const char *link, uint64_t size) {
        if (!expected)
                return "it is not in the manifest";
        if (expected->type != type)
                return "its type differs from the manifest's";
        if (!expected->path)
                return NULL;    /* positional: name, target and size are the header's */
        if (type == 'h' && !streq_ptr(expected->target, link))
                return "it links to another file than the manifest says";
        if (type == 'f' && expected->size != size)
                return "its size differs from the manifest's";
        return NULL;
}

/* Writes entry E under the temporary name
 * TEMP: a hard link to DISK_LINK, or with its data, checked against
 * EXPECTED. Returns 1 when the file is complete and good, 0 when it was
 * not written (logged, counted, TEMP removed), or a negative errno when the
 * archive cannot be read on. */
static int write_temporary(Restore *x, struct archive_entry *e, const char *shown,
                           const char *temp, const char *disk_link, const ManifestEntry *expected) {
        const char *target = x->o->target;
        int r;

        archive_entry_copy_pathname(e, temp);
        if (disk_link) {
                archive_entry_copy_hardlink(e, disk_link);
                /* A hard link's data would be written into its target. */
                archive_entry_set_size(e, 0);
        } else
                archive_entry_copy_hardlink(e, NULL);
        r = archive_write_header(x->out, e);
        if (r == ARCHIVE_FATAL)
                return say(x, LOG_ERR, -EIO, "Cannot restore into %s: %s", target, archive_error_string(x->out));
        if (r < ARCHIVE_WARN) {
                say(x, LOG_ERR, 0, "Cannot restore %s/%s: %s", target, shown, archive_error_string(x->out) ?: "unknown error");
                x->st.failed++;
                remove_temporary(x, temp);
                return 0;
        }
        if (r == ARCHIVE_WARN)
                say(x, LOG_WARNING, 0, "%s/%s: %s", target, shown, archive_error_string(x->out));

        if (!disk_link && archive_entry_filetype(e) == AE_IFREG) {
                ContentDigest digest;
                uint64_t size = (uint64_t) MAX(archive_entry_size(e), 0);
                r = archive_read_entry_data(x->in, size, &x->hash, write_block, x->out, &digest);
                if (r == -EBADMSG) {
                        /* The archive itself is damaged: nothing after this can be read. */
                        (void) archive_write_finish_entry(x->out);
                        remove_temporary(x, temp);
                        x->st.damaged++;
                        return say(x, LOG_ERR, -EBADMSG, "Cannot read %s: %s; %s/%s was not restored.", x->archive,
                                               archive_reader_error(x->reader), target, shown);
                }
                if (r < 0) {
                        (void) archive_write_finish_entry(x->out);
                        remove_temporary(x, temp);
                        say(x, LOG_ERR, r, "Cannot write %s/%s: %s", target, shown, archive_error_string(x->out) ?: strerror(-r));
                        x->st.failed++;
                        return 0;
                }
                if (expected && !manifest_digest_matches(expected, &digest)) {
                        (void) archive_write_finish_entry(x->out);
                        remove_temporary(x, temp);
                        say(x, LOG_ERR, 0, "Damaged in the archive: %s (its content differs from its digest in the manifest); not restored.", shown);
                        x->st.damaged++;
                        return 0;
                }
        }
        r = archive_write_finish_entry(x->out);
        if (r < ARCHIVE_WARN) {
                say(x, LOG_ERR, 0, "Cannot finish %s/%s: %s", target, shown, archive_error_string(x->out) ?: "unknown error");
                remove_temporary(x, temp);
                x->st.failed++;
                return 0;
        }
        if (r == ARCHIVE_WARN)
                say(x, LOG_WARNING, 0, "%s/%s: %s", target, shown, archive_error_string(x->out));
        return 1;
}

/* Checks and writes one selected entry under NAME (a hard link to LINK, if
 * set). 0, or a negative errno when the archive cannot be read on. */
static int restore_entry(Restore *x, struct archive_entry *e, const char *name, const char *link) {
        const RestoreOptions *o = x->o;
        const char *disk_link = NULL;
        int r;

        _cleanup_free_ char *shown = text_escape(name);
        _cleanup_free_ char *shown_link = link ? text_escape(link) : NULL;
        if (!shown || (link && !shown_link))
                return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        /* looked up first: an entry refused or not overwritten is still in the archive */
        const ManifestEntry *expected = x->st.unchecked ? NULL : manifest_find(x, name);

        if (!restore_name_is_safe(name)) {
                say(x, LOG_ERR, 0, "Refusing entry '%s': absolute path or '..' component.", shown);
                x->st.refused++;
                return 0;
        }
        if (link && !restore_name_is_safe(link)) {
                say(x, LOG_ERR, 0, "Refusing hard link '%s' to '%s': the target is outside %s.", shown, shown_link, o->target);
                x->st.refused++;
                return 0;
        }
        r = check_parents(x->to_fd, name);
        if (r < 0) {
                say(x, LOG_ERR, 0, "Refusing entry '%s': a directory on its path is a symlink or not a directory (%s).", shown, strerror(-r));
                x->st.refused++;
                return 0;
        }
        if (link && o->mode == RESTORE_EXTRACT) {
                /* Only to a file this restore wrote: an existing file in the
                 * target may be anything (a copy of /etc/shadow, say). */
                disk_link = written_get(&x->written, link);
                struct stat lst;
                int fd = disk_link ? restore_open_beneath(x->to_fd, disk_link, O_PATH) : -ENOENT;
                if (fd < 0 || fstat(fd, &lst) < 0 || !S_ISREG(lst.st_mode)) {
                        say(x, LOG_ERR, 0, "Refusing hard link '%s' to '%s': that is no regular file this restore wrote into %s.",
                                  shown, shown_link, o->target);
                        safe_close(fd);
                        x->st.refused++;
                        return 0;
                }
                safe_close(fd);
        }

        bool is_dir = archive_entry_filetype(e) == AE_IFDIR && !link;
        if (!is_dir && endswith(name, "/")) {
                say(x, LOG_ERR, 0, "Refusing entry '%s': only a directory's name may end in '/'.", shown);
                x->st.refused++;
                return 0;
        }
        struct stat existing;
        if (x->to_fd >= 0 && fstatat(x->to_fd, name, &existing, AT_SYMLINK_NOFOLLOW) >= 0 &&
            !(S_ISDIR(existing.st_mode) && is_dir) && !o->overwrite) {
                say(x, LOG_WARNING, 0, "Not overwriting %s/%s (use --overwrite).", o->target, shown);
                x->st.existing++;
                return 0;
        }

        if (o->mode == RESTORE_DRY_RUN) {
                printf("would restore %s/%s\n", o->target, shown);
                x->st.entries++;
                return 0;
        }

        char type = link ? 'h' : manifest_type_from_filetype(archive_entry_filetype(e));
        if (!x->st.unchecked) {
                const char *why = manifest_disagrees(expected, type, link, (uint64_t) MAX(archive_entry_size(e), 0));
                if (why) {
                        say(x, LOG_ERR, 0, "Damaged in the archive: %s (%s); not restored.", shown, why);
                        x->st.damaged++;
                        return 0;
                }
        }
        exact_mtime(e, expected);

        if (is_dir) {
                /* Directories are written in place: one that exists is kept
                 * (its mode and times are restored with --overwrite). */
                archive_entry_copy_pathname(e, name);
                r = archive_write_header(x->out, e);
                if (r == ARCHIVE_FATAL)
                        return say(x, LOG_ERR, -EIO, "Cannot restore into %s: %s", o->target, archive_error_string(x->out));
                if (r < ARCHIVE_WARN || archive_write_finish_entry(x->out) < ARCHIVE_WARN) {
                        say(x, LOG_ERR, 0, "Cannot restore %s/%s: %s", o->target, shown, archive_error_string(x->out) ?: "unknown error");
                        x->st.failed++;
                        return 0;
                }
                if (r == ARCHIVE_WARN)
                        say(x, LOG_WARNING, 0, "%s/%s: %s", o->target, shown, archive_error_string(x->out));
        } else {
                _cleanup_free_ char *temp = temporary_name(name);
                if (!temp)
                        return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
                r = write_temporary(x, e, shown, temp, disk_link, expected);
                if (r <= 0)
                        return r;
                r = rename_into_place(x, temp, name);
                if (r == -EEXIST) {
                        remove_temporary(x, temp);
                        say(x, LOG_WARNING, 0, "Not overwriting %s/%s (use --overwrite).", o->target, shown);
                        x->st.existing++;
                        return 0;
                }
                if (r < 0) {
                        remove_temporary(x, temp);
                        say(x, LOG_ERR, r, "Cannot put %s/%s in place: %m", o->target, shown);
                        x->st.failed++;
                        return 0;
                }
        }
        if (written_get(&x->link_targets, name) && written_put(&x->written, name, NULL) < 0)
                return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        x->st.entries++;
        return 0;
}

/* The data of NAME, outside the selection, that selected hard links point
 * at: written (and checked) under a temporary name in the target, removed
 * at the end, when the links hold it. */
static int stash_entry(Restore *x, struct archive_entry *e, const char *name) {
        _cleanup_free_ char *shown = text_escape(name);
        if (!shown)
                return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        if (!restore_name_is_safe(name) || archive_entry_filetype(e) != AE_IFREG)
                return 0;       /* the links to it are refused */

        const ManifestEntry *expected = x->st.unchecked ? NULL : manifest_find(x, name);
        if (!x->st.unchecked) {
                const char *why = manifest_disagrees(expected, 'f', NULL, (uint64_t) MAX(archive_entry_size(e), 0));
                if (why) {
                        say(x, LOG_ERR, 0, "Damaged in the archive: %s (%s); the hard links to it are not restored.", shown, why);
                        x->st.damaged++;
                        return 0;
                }
        }
        exact_mtime(e, expected);
        _cleanup_free_ char *temp = temporary_name("");
        if (!temp)
                return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        int r = write_temporary(x, e, shown, temp, NULL, expected);
        if (r <= 0)
                return r;
        if (strv_extend(&x->stashes, temp) < 0 || written_put(&x->written, name, temp) < 0) {
                remove_temporary(x, temp);
                return say(x, LOG_ERR, -ENOMEM, "Out of memory.");
        }
        return 0;
}

/* Pass 2: the selected entries, in archive order. */
static int restore_selected(Restore *x) {
        _cleanup_free_ char *error = NULL;
        struct archive_entry *e;
        int r;

        r = archive_reader_open_fd(x->archive_fd, x->o->key, &x->reader, &error);
        if (r < 0)
                return say(x, LOG_ERR, r, "Cannot open archive %s: %s", x->archive, error ?: strerror(-r));
        x->in = x->reader->a;

        for (x->ordinal = 0; (r = archive_read_next_header(x->in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN; x->ordinal++) {
                /* Copies: the entry's names are rewritten before it is written. */
                _cleanup_free_ char *name = strdup(strempty(restore_entry_name(archive_entry_pathname(e))));
                const char *l = restore_entry_name(archive_entry_hardlink(e));
                _cleanup_free_ char *link = l ? strdup(l) : NULL;
                if (!name || (l && !link))
                        return say(x, LOG_ERR, -ENOMEM, "Out of memory.");

                /* The manifest (and an incremental archive's header and list of
                 * deletions) describe the archive; they are not part of the backup. */
                if (archive_member_is_internal(name))
                        continue;
                if (!restore_name_selected(name, x->o->paths)) {
                        if (x->o->mode == RESTORE_EXTRACT && !link && written_get(&x->link_targets, name)) {
                                r = stash_entry(x, e, name);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                for (size_t i = 0; i < x->npaths; i++)
                        if (restore_name_selected(name, (char *[]) { x->o->paths[i], NULL }))
                                x->matched[i] = true;

                if (x->o->mode == RESTORE_LIST) {
                        print_entry(x->o, e, name);
                        x->st.entries++;
                        if (ferror(stdout))
                                return say(x, LOG_ERR, -EIO, "Cannot write the list of %s to standard output.", x->archive);
                        continue;
                }
                r = restore_entry(x, e, name, link);
                if (r < 0)
                        return r;
                if (x->o->mode == RESTORE_DRY_RUN && ferror(stdout))
                        return say(x, LOG_ERR, -EIO, "Cannot write to standard output.");
        }
        if (r != ARCHIVE_EOF)
                return say(x, LOG_ERR, -EBADMSG, "Cannot read %s: %s", x->archive, archive_reader_error(x->reader));
        return 0;
}

/* Selected entries the manifest lists that the archive lacks. */
static void report_missing(Restore *x) {
        if (x->spool.positional)
                return;         /* its length was checked against the archive's */
        for (size_t i = 0; i < x->manifest.n; i++) {
                const ManifestEntry *m = &x->manifest.entries[i];
                if (x->seen[i] || archive_member_is_internal(m->path) || !restore_name_selected(m->path, x->o->paths))
                        continue;
                _cleanup_free_ char *shown = text_escape(m->path);
                say(x, LOG_ERR, 0, "Damaged archive: %s is in the manifest, but not in %s; not restored.", shown ?: m->path, x->archive);
                x->st.damaged++;
        }
}

int restore_archive(const char *archive, const RestoreOptions *o, RestoreStats *ret) {
        _cleanup_(archive_write_freep) struct archive *out = NULL;
        _cleanup_close_ int to_fd = -EBADF, cwd_fd = -EBADF, archive_fd = -EBADF;
        _cleanup_free_ bool *matched = NULL;
        int r;

        *ret = (RestoreStats) {};
        archive_fd = open(archive, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (archive_fd < 0)
                return say_o(o, LOG_ERR, negative_errno(), "Cannot open archive %s: %m", archive);

        size_t npaths = strv_length(o->paths);
        matched = calloc(npaths + 1, sizeof *matched);
        if (!matched)
                return say_o(o, LOG_ERR, -ENOMEM, "Out of memory.");

        if (o->mode == RESTORE_DRY_RUN) {
                /* A dry run changes nothing, not even by creating the target. */
                to_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (to_fd < 0 && errno != ENOENT)
                        return say_o(o, LOG_ERR, negative_errno(), "Cannot open %s: %m", o->target);
        } else if (o->mode == RESTORE_EXTRACT) {
                r = mkdir_p(o->target, 0700);
                if (r < 0)
                        return say_o(o, LOG_ERR, r, "Cannot create %s: %m", o->target);
                to_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (to_fd < 0)
                        return say_o(o, LOG_ERR, negative_errno(), "Cannot open %s: %m", o->target);
        }

        _cleanup_(restore_done) Restore x = {
                .o = o, .archive = archive, .archive_fd = archive_fd, .out = NULL, .to_fd = to_fd,
                .matched = matched, .npaths = npaths,
        };
        if (content_hash_init(&x.hash) < 0)
                return say_o(o, LOG_ERR, -ENOMEM, "Out of memory.");

        if (o->mode == RESTORE_EXTRACT) {
                r = scan_archive(&x);
                if (r < 0)
                        return r;

                /* Every file goes to a fresh temporary name, so libarchive never
                 * meets an existing file there; what it may meet is an existing
                 * directory, kept (and with --overwrite given the archive's mode
                 * and times). No file flags: Alexandria's archives carry none
                 * (like GNU tar's), and libarchive would set a foreign
                 * archive's immutable or append-only flag only when the
                 * writer closes, by the temporary name, long renamed. */
                int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_ACL |
                            ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SPARSE |
                            ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                            ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
                if (!o->overwrite)
                        flags |= ARCHIVE_EXTRACT_NO_OVERWRITE;
                if (geteuid() == 0)
                        flags |= ARCHIVE_EXTRACT_OWNER;
                out = archive_write_disk_new();
                if (!out || archive_write_disk_set_options(out, flags) != ARCHIVE_OK ||
                    archive_write_disk_set_standard_lookup(out) != ARCHIVE_OK)
                        return say_o(o, LOG_ERR, -ENOMEM, "Out of memory.");
                x.out = out;
                /* archive_write_disk works relative to the current directory. */
                cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cwd_fd < 0 || fchdir(to_fd) < 0)
                        return say_o(o, LOG_ERR, negative_errno(), "Cannot change into %s: %m", o->target);
        } else
                x.st.unchecked = true;  /* nothing is written */

        r = restore_selected(&x);
        x.reader = archive_reader_free(x.reader);
        if (r >= 0 && o->mode == RESTORE_EXTRACT && !x.st.unchecked)
                report_missing(&x);
        STRV_FOREACH(s, x.stashes)
                remove_temporary(&x, *s);

        /* Directory times and modes are set last, by close. */
        if (out && archive_write_close(out) != ARCHIVE_OK && r >= 0) {
                say_o(o, LOG_ERR, 0, "Cannot finish restoring into %s: %s", o->target, archive_error_string(out));
                x.st.failed++;
        }
        if (cwd_fd >= 0)
                (void) fchdir(cwd_fd);
        if (r >= 0 && o->mode != RESTORE_EXTRACT && fflush(stdout) != 0)
                r = say_o(o, LOG_ERR, negative_errno(), "Cannot write to standard output: %m");

        for (size_t i = 0; i < npaths && r >= 0; i++)
                if (!matched[i]) {
                        _cleanup_free_ char *shown = text_escape(o->paths[i]);
                        say_o(o, LOG_ERR, 0, "No entry '%s' in %s.", shown ?: o->paths[i], archive);
                        x.st.unmatched++;
                }
        *ret = x.st;
        return r;
}
