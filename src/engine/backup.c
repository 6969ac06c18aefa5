/* SPDX-License-Identifier: MIT */
/*
 * The worker's engine. The shape follows bsdtar's write_hierarchy(): one
 * place configures the disk reader (physical walk, excludes matched before a
 * directory is descended, no libarchive-side opens of regular files), and
 * the walk loop sorts problems by severity. The walk itself is fts(3), in
 * tar order (see walk_source()); libarchive builds the entries.
 *
 * File data is read here, not by libarchive: every regular file is opened
 * with O_NOFOLLOW|O_NONBLOCK, checked with fstat to be the very file that
 * was walked, and compared with a second fstat after reading. A tar header
 * carries the size before the data, so a file that shrinks or grows while
 * read cannot be stored as it is; instead of padding or cutting it silently
 * (bsdtar) the run says exactly what the entry holds. FIFOs, sockets and
 * devices are never opened.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fts.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "archive-list.h"
#include "archive-sink.h"
#include "archive-util.h"
#include "backup.h"
#include "share.h"
#include "events.h"
#include "fileio.h"
#include "format-util.h"
#include "log.h"
#include "path-util.h"
#include "manifest.h"
#include "retention.h"
#include "verify.h"

#define READ_BUFFER_SIZE (256 * 1024)
#define PROGRESS_EVERY_BYTES (4 * 1024 * 1024)

typedef struct Run {
        const Schedule *schedule;
        const BackupCallbacks *cb;
        char *sources;                  /* for messages */

        int dest_fd;
        struct stat dest_st;
        gid_t share_gid;                /* DestinationGroup=, or (gid_t) -1 */
        AtomicFile out;
        CryptKeySource *key;            /* Encryption=yes */
        ArchiveSink *sink;              /* below libarchive: encryption, the file */
        struct archive *writer;
        struct archive *disk;           /* builds entries from what fts found */
        struct archive_entry_linkresolver *links;
        BackupStats stats;
        uint64_t bytes_at_last_progress;
        char *error;                    /* first fatal error */
        uint8_t *buf;
        Manifest manifest;              /* stored as the archive's last entry */
        Sha256 hash;
        uint8_t digest[SHA256_LEN];     /* of the regular file just copied */
} Run;

char *schedule_sources_string(const Schedule *s) {
        size_t len = 1;
        STRV_FOREACH(p, s->sources)
                len += strlen(*p) + 1;
        char *out = malloc(len), *o = out;
        if (!out)
                return NULL;
        *o = 0;
        STRV_FOREACH(p, s->sources)
                o = stpcpy(stpcpy(o, o == out ? "" : " "), *p);
        return out;
}

/* Records the first fatal error; returns R for "return fail(...)". */
static int fail(Run *run, int r, const char *format, ...) _printf_(3, 4);
static int fail(Run *run, int r, const char *format, ...) {
        if (!run->error) {
                va_list ap;
                errno = r < 0 ? -r : r;
                va_start(ap, format);
                if (vasprintf(&run->error, format, ap) < 0)
                        run->error = NULL;
                va_end(ap);
        }
        return r < 0 ? r : -EIO;
}

static void warn(Run *run, const char *path, const char *format, ...) _printf_(3, 4);
static void warn(Run *run, const char *path, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        run->stats.warnings++;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                return;

        EventFields f = EVENT_FIELDS_INIT(run->schedule->name);
        f.path = path;
        (void) event_emit(EVENT_FILE_WARNING, &f, "%s", msg);
        if (run->cb && run->cb->warning)
                run->cb->warning(msg, run->cb->userdata);
        else if (!log_on_journal())
                fprintf(stderr, "warning: %s\n", msg);
}

static void progress(Run *run, const char *current) {
        run->bytes_at_last_progress = run->stats.bytes;
        if (run->cb && run->cb->progress)
                run->cb->progress(&run->stats, current, run->cb->userdata);
}

/* ---- output ---- */

static la_ssize_t output_write(struct archive *a, void *userdata, const void *buf, size_t n) {
        Run *run = userdata;
        int r = archive_sink_write(run->sink, buf, n);
        if (r < 0) {
                /* libarchive's formatter knows no %m */
                archive_set_error(a, -r, "%s", strerror(-r));
                return -1;
        }
        run->stats.archive_bytes += n;
        return (la_ssize_t) n;
}

static int output_open(Run *run) {
        int r;

        bool gzip = run->schedule->compression == COMPRESSION_GZIP;
        r = archive_sink_new(run->out.fd, gzip ? 6 : -1, run->key, &run->sink);
        if (r < 0)
                return fail(run, r, "Cannot set up the archive output: %m");
        run->writer = archive_write_new();
        if (!run->writer)
                return fail(run, -ENOMEM, "Out of memory.");
        /* Full pax, not pax_restricted: the restricted writer drops sub-second
         * mtimes, which restore and tools comparing trees need. */
        r = archive_write_set_format_pax(run->writer);
        if (r == ARCHIVE_OK)
                switch (run->schedule->compression) {
                case COMPRESSION_ZSTD:
                        r = archive_write_add_filter_zstd(run->writer);
                        /* libzstd's own worker threads: all cores */
                        if (r == ARCHIVE_OK)
                                (void) archive_write_set_filter_option(run->writer, "zstd", "threads", "0");
                        break;
                case COMPRESSION_XZ:
                        r = archive_write_add_filter_xz(run->writer);
                        if (r == ARCHIVE_OK)
                                (void) archive_write_set_filter_option(run->writer, "xz", "threads", "0");
                        break;
                default:
                        /* none, and gzip: the sink compresses on every core */
                        r = archive_write_add_filter_none(run->writer);
                }
        /* Large blocks mean few write(2)s; no padding of the last block to a tape record. */
        if (r == ARCHIVE_OK)
                r = archive_write_set_bytes_per_block(run->writer, 64 * 1024);
        if (r == ARCHIVE_OK)
                r = archive_write_set_bytes_in_last_block(run->writer, 1);
        if (r == ARCHIVE_OK)
                r = archive_write_open2(run->writer, run, NULL, output_write, NULL, NULL);
        if (r != ARCHIVE_OK)
                return fail(run, -archive_errno(run->writer) ?: -EIO, "Cannot set up %s archive writer: %s",
                            compression_to_string(run->schedule->compression),
                            archive_error_string(run->writer) ?: "unknown error");
        return 0;
}

static int output_error(Run *run, const char *what) {
        int e = archive_errno(run->writer);
        return fail(run, e > 0 ? -e : -EIO, "Cannot write archive %s/%s while %s: %s",
                    run->schedule->destination, run->out.name, what,
                    archive_error_string(run->writer) ?: "unknown error");
}

/* ---- regular files ---- */

static bool same_times(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Opens the walked file for reading, or returns -ENOENT & co after warning
 * that it is not archived. */
static int open_regular(Run *run, const char *path, const struct stat *walked, int *ret_fd, struct stat *ret_st) {
        int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

        int fd = open(path, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
                fd = open(path, flags);
        if (fd < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        warn(run, path, "%s: vanished before it could be read, not archived", path);
                else if (r == -ELOOP)
                        warn(run, path, "%s: replaced by a symlink while archiving, not archived", path);
                else
                        warn(run, path, "%s: cannot open: %s, not archived", path, strerror(-r));
                return r;
        }
        if (fstat(fd, ret_st) < 0) {
                int r = negative_errno();
                warn(run, path, "%s: cannot stat: %s, not archived", path, strerror(-r));
                safe_close(fd);
                return r;
        }
        if (!S_ISREG(ret_st->st_mode) || ret_st->st_dev != walked->st_dev || ret_st->st_ino != walked->st_ino) {
                warn(run, path, "%s: replaced by another file while archiving, not archived", path);
                safe_close(fd);
                return -ESTALE;
        }
        *ret_fd = fd;
        return 0;
}

/* The entry describes the file as it is now, open in front of us; holes are
 * mapped from this descriptor so the map and the data belong together. */
static void entry_refresh(struct archive_entry *entry, int fd, const struct stat *st) {
        archive_entry_copy_stat(entry, st);
        archive_entry_unset_atime(entry);
        archive_entry_unset_ctime(entry);
        archive_entry_sparse_clear(entry);

        /* Only files with fewer blocks than bytes can have holes. */
        if ((uint64_t) st->st_blocks * 512 >= (uint64_t) st->st_size)
                return;
        off_t pos = 0;
        unsigned regions = 0;
        while (pos < st->st_size) {
                off_t data = lseek(fd, pos, SEEK_DATA);
                if (data < 0)
                        break;                  /* ENXIO: a hole to the end */
                off_t hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0 || hole > st->st_size)
                        hole = st->st_size;
                archive_entry_sparse_add_entry(entry, data, hole - data);
                regions++;
                pos = hole;
        }
        /* A trailing hole needs a zero-length marker so the size survives. */
        if (regions > 0 && pos < st->st_size)
                archive_entry_sparse_add_entry(entry, st->st_size, 0);
        if (regions == 0)
                archive_entry_sparse_add_entry(entry, st->st_size, 0);
}

/* Feeds LEN bytes of a hole: the pax writer drops them again, they only move
 * its position forward. */
static int write_hole(Run *run, uint64_t len) {
        static const uint8_t zeros[64 * 1024];
        while (len > 0) {
                size_t n = (size_t) MIN(len, (uint64_t) sizeof zeros);
                if (archive_write_data(run->writer, zeros, n) < 0)
                        return output_error(run, "writing a sparse file");
                sha256_update(&run->hash, zeros, n);
                len -= n;
        }
        return 0;
}

static int copy_data(Run *run, struct archive_entry *entry, int fd, const struct stat *before) {
        const char *path = archive_entry_sourcepath(entry);
        uint64_t size = (uint64_t) before->st_size, done = 0;
        bool sparse = archive_entry_sparse_count(entry) > 0;
        int read_error = 0;
        struct stat after;
        int r;

        while (done < size) {
                size_t want = (size_t) MIN((uint64_t) READ_BUFFER_SIZE, size - done);

                if (sparse) {
                        off_t data = lseek(fd, (off_t) done, SEEK_DATA);
                        uint64_t next = data < 0 ? size : MIN((uint64_t) data, size);
                        if (next > done) {
                                r = write_hole(run, next - done);
                                if (r < 0)
                                        return r;
                                done = next;
                                continue;
                        }
                }

                ssize_t n = pread(fd, run->buf, want, (off_t) done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        read_error = negative_errno();
                        break;
                }
                if (n == 0)
                        break;
                if (archive_write_data(run->writer, run->buf, (size_t) n) < 0)
                        return output_error(run, "writing file data");
                sha256_update(&run->hash, run->buf, (size_t) n);
                done += (uint64_t) n;
                run->stats.bytes += (uint64_t) n;
                if (run->stats.bytes - run->bytes_at_last_progress >= PROGRESS_EVERY_BYTES)
                        progress(run, path);
        }

        if (fstat(fd, &after) < 0)
                after = *before;
        /* The manifest describes what the archive holds, padding included. */
        if (done < size)
                sha256_zeros(&run->hash, size - done);

        /* The header promised SIZE bytes; libarchive zero-fills the rest when
         * the entry is finished. Say so. */
        if (read_error < 0)
                warn(run, path, "%s: read error after %" PRIu64 " of %" PRIu64 " bytes: %s; "
                     "the entry holds the bytes read, then zeros", path, done, size, strerror(-read_error));
        else if (done < size)
                warn(run, path, "%s: shrank from %" PRIu64 " to %" PRIu64 " bytes while being read; "
                     "the entry holds the first %" PRIu64 " bytes, then zeros up to %" PRIu64 " bytes",
                     path, size, (uint64_t) after.st_size, done, size);
        else if ((uint64_t) after.st_size > size)
                warn(run, path, "%s: grew from %" PRIu64 " to %" PRIu64 " bytes while being read; "
                     "the entry holds only the first %" PRIu64 " bytes",
                     path, size, (uint64_t) after.st_size, size);
        else if ((uint64_t) after.st_size < size)
                warn(run, path, "%s: shrank from %" PRIu64 " to %" PRIu64 " bytes after being read; "
                     "the entry holds all %" PRIu64 " bytes read, which may mix old and new content",
                     path, size, (uint64_t) after.st_size, size);
        else if (!same_times(&after.st_mtim, &before->st_mtim) || !same_times(&after.st_ctim, &before->st_ctim))
                warn(run, path, "%s: changed while being read (size unchanged); "
                     "the entry may mix old and new content", path);
        return 0;
}

/* ---- the walk ---- */

static int skip_entry(struct archive *disk, void *userdata, struct archive_entry *entry) {
        Run *run = userdata;
        const struct stat *st = archive_entry_stat(entry);

        /* Never archive the archives: the destination may lie inside a source. */
        if (S_ISDIR(st->st_mode) && st->st_dev == run->dest_st.st_dev && st->st_ino == run->dest_st.st_ino) {
                log_debug("Skipping the destination %s inside the source.", archive_entry_sourcepath(entry));
                return 0;
        }
        /* Tar has no way to store a socket; it is runtime state anyway. */
        if (S_ISSOCK(st->st_mode)) {
                log_debug("Skipping socket %s.", archive_entry_sourcepath(entry));
                return 0;
        }
        return 1;
}

/* "/srv/data/x" is stored as "srv/data/x", like tar does. */
static int strip_leading_slash(struct archive_entry *entry) {
        const char *p = archive_entry_pathname(entry);
        if (!p || p[0] != '/')
                return 0;
        while (*p == '/')
                p++;
        _cleanup_free_ char *rel = strdup(*p ? p : ".");
        if (!rel)
                return -ENOMEM;
        archive_entry_copy_pathname(entry, rel);
        return 0;
}

/* The pax writer cannot translate a name that is not valid in the locale's
 * character set (a Latin-1 file name under UTF-8, any non-ASCII name under
 * C) to UTF-8. It then stores the names of that entry as their raw bytes
 * with hdrcharset=BINARY and returns ARCHIVE_WARN; nothing is lost, and the
 * next run would warn again about the same file. Other warnings (an ACL that
 * cannot be translated) do lose something and stay warnings. */
static bool name_stored_as_bytes(struct archive *writer) {
        const char *e = archive_error_string(writer), *what;

        if (!e || !(what = startswith(e, "Can't translate ")))
                return false;
        return startswith(what, "pathname ") || startswith(what, "linkname ") ||
               startswith(what, "uname ") || startswith(what, "gname ");
}

static int write_entry(Run *run, struct archive_entry *entry, int fd, const struct stat *st) {
        const char *path = archive_entry_sourcepath(entry);
        int r = archive_write_header(run->writer, entry);

        if (r == ARCHIVE_WARN && name_stored_as_bytes(run->writer))
                log_debug("%s: %s; stored as raw bytes (hdrcharset=BINARY).", path, archive_error_string(run->writer));
        else if (r == ARCHIVE_WARN)
                warn(run, path, "%s: %s", path, archive_error_string(run->writer));
        else if (r == ARCHIVE_FAILED) {
                warn(run, path, "%s: cannot be stored: %s, not archived", path, archive_error_string(run->writer));
                return 0;
        } else if (r != ARCHIVE_OK)
                return output_error(run, "writing a header");

        const char *link = archive_entry_hardlink(entry);
        char type = link ? 'h' : manifest_type_from_filetype(archive_entry_filetype(entry));
        uint64_t size = type == 'f' ? (uint64_t) archive_entry_size(entry) : 0;
        if (fd >= 0 && size > 0) {
                r = copy_data(run, entry, fd, st);
                if (r < 0)
                        return r;
        }
        if (archive_write_finish_entry(run->writer) < ARCHIVE_WARN)
                return output_error(run, "finishing an entry");
        run->stats.files++;

        if (type == 'f')
                sha256_final(&run->hash, run->digest);   /* of the data copied, or of nothing */
        if (type != '?' && manifest_add(&run->manifest, type, archive_entry_pathname(entry), link, size,
                                        type == 'f' ? run->digest : NULL) < 0)
                return fail(run, -ENOMEM, "Out of memory.");
        return 0;
}

/* The manifest goes last, so that it describes everything before it and
 * travels with the archive. */
static int write_manifest(Run *run) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        _cleanup_free_ char *text = NULL;
        size_t len;

        if (!e || manifest_format(&run->manifest, &text, &len) < 0)
                return fail(run, -ENOMEM, "Out of memory.");
        archive_entry_set_pathname(e, MANIFEST_NAME);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, (la_int64_t) len);
        archive_entry_set_mtime(e, (time_t) (now_realtime_usec() / USEC_PER_SEC), 0);
        if (archive_write_header(run->writer, e) != ARCHIVE_OK ||
            (len > 0 && archive_write_data(run->writer, text, len) < 0) ||
            archive_write_finish_entry(run->writer) != ARCHIVE_OK)
                return output_error(run, "writing the manifest");
        return 0;
}

/* FD/ST: the regular file, opened by the walk, or -EBADF. */
static int store_entry(Run *run, struct archive_entry *entry, int fd, const struct stat *st) {
        struct archive_entry *spare = NULL;
        int r;

        r = strip_leading_slash(entry);
        if (r < 0)
                return fail(run, r, "Out of memory.");
        /* Reading changes atime and ctime cannot be restored: storing them would
         * only make archives of unchanged trees differ. */
        archive_entry_unset_atime(entry);
        archive_entry_unset_ctime(entry);

        if (fd >= 0)
                entry_refresh(entry, fd, st);

        /* Opened first, linked second: a file that could not be opened must
         * not become the data-carrying first link of a set. */
        archive_entry_linkify(run->links, &entry, &spare);
        if (entry) {
                r = write_entry(run, entry, archive_entry_hardlink(entry) ? -EBADF : fd, st);
                if (r < 0)
                        return r;
        }
        if (spare) {
                archive_entry_free(spare);
                return fail(run, -EINVAL, "Internal error: unexpected deferred hard link.");
        }
        progress(run, archive_entry_sourcepath(entry ?: spare));
        return 0;
}

/* Exclude= patterns, matched like rsync's: a pattern without '/' against
 * each name below the source ("*.tmp", "cache"); one with '/' against the
 * path below the source ("cache/tmp*"); one starting with '/' against the
 * whole path. The source's own path never takes part, so Exclude=tmp does
 * not exclude everything of a source under /tmp. */
static bool excluded(char **patterns, const char *path, const char *source) {
        size_t n = strlen(source);
        const char *below = strncmp(path, source, n) == 0 ? path + n : path;
        while (*below == '/')
                below++;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;

        STRV_FOREACH(p, patterns) {
                const char *subject = **p == '/' ? path : strchr(*p, '/') ? below : base;
                if (fnmatch(*p, subject, FNM_PATHNAME) == 0)
                        return true;
        }
        return false;
}

/* Why an entry that the walk could not stat is missing. */
static void warn_unwalkable(Run *run, const FTSENT *e) {
        if (e->fts_errno == ENOENT)
                warn(run, e->fts_path, "%s: vanished before it could be read, not archived", e->fts_path);
        else
                warn(run, e->fts_path, "%s: cannot stat: %s, not archived", e->fts_path, strerror(e->fts_errno));
}

/* fts walks in tar order: a directory's entries follow the directory
 * directly. libarchive's own walk lists a directory's siblings before its
 * contents; GNU tar then sets a directory's mode and time as soon as it sees
 * a sibling, before the directory's files arrive, and restores wrong
 * directory times (as root) or cannot create files under a read-only
 * directory (as anyone else). libarchive still builds each entry (owner
 * names, symlink target, xattrs, ACLs) from the stat fts made. */
static int walk_source(Run *run, const char *given) {
        _cleanup_(archive_entry_freep) struct archive_entry *entry = archive_entry_new();
        _cleanup_free_ char *resolved = NULL;
        const char *source = given;
        FTSENT *e;
        FTS *fts;
        int r = 0;

        if (!entry)
                return fail(run, -ENOMEM, "Out of memory.");
        /* A source that is a symlink means the tree or file it points to (as
         * tar -H does), stored under its real path: a restore then never has
         * to write through a symlink (/lib -> usr/lib is stored as usr/lib). */
        struct stat given_st;
        if (lstat(given, &given_st) >= 0 && S_ISLNK(given_st.st_mode)) {
                resolved = realpath(given, NULL);
                if (!resolved)
                        return fail(run, negative_errno(), "Source %s is a symlink that cannot be resolved: %m", given);
                log_debug("Source %s is a symlink; archiving %s.", given, resolved);
                source = resolved;
        }
        char *roots[] = { (char *) source, NULL };
        fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
        if (!fts)
                return fail(run, negative_errno(), "Cannot open source %s: %m", source);

        while (r >= 0 && (errno = 0, e = fts_read(fts))) {
                bool dir = e->fts_info == FTS_D || e->fts_info == FTS_DC;
                int k;

                switch (e->fts_info) {
                case FTS_DP:
                        continue;       /* on the way back up */
                case FTS_NS:
                case FTS_ERR:
                        warn_unwalkable(run, e);
                        continue;
                case FTS_DNR:
                        warn(run, e->fts_path, "%s: cannot read directory: %s, its contents are not archived",
                             e->fts_path, strerror(e->fts_errno));
                        if (e->fts_number != 0)
                                continue;       /* stored when it was entered */
                        break;
                case FTS_DC:
                        warn(run, e->fts_path, "%s: directory cycle, its contents are not archived again", e->fts_path);
                        break;
                }

                archive_entry_clear(entry);
                archive_entry_copy_pathname(entry, e->fts_path);
                archive_entry_copy_sourcepath(entry, e->fts_path);

                /* Excludes are matched before a directory is descended: an
                 * excluded directory is never walked. */
                if (e->fts_level > FTS_ROOTLEVEL && excluded(run->schedule->excludes, e->fts_path, source)) {
                        if (dir)
                                (void) fts_set(fts, e, FTS_SKIP);
                        continue;
                }

                /* A regular file is opened here, once: the descriptor serves for
                 * its ACLs and xattrs (no more lookups of its long path) and
                 * then for its data. */
                _cleanup_close_ int fd = -EBADF;
                const struct stat *st = e->fts_statp;
                struct stat opened;
                if (e->fts_info == FTS_F && S_ISREG(st->st_mode) && st->st_size > 0) {
                        if (open_regular(run, e->fts_path, st, &fd, &opened) < 0)
                                continue;       /* warned, skipped */
                        st = &opened;
                }

                k = archive_read_disk_entry_from_file(run->disk, entry, fd, st);
                if (k == ARCHIVE_FATAL) {
                        r = fail(run, -archive_errno(run->disk) ?: -EIO, "Cannot walk %s: %s", e->fts_path,
                                 archive_error_string(run->disk));
                        break;
                }
                if (k == ARCHIVE_FAILED) {
                        warn(run, e->fts_path, "%s: %s, not archived", e->fts_path, archive_error_string(run->disk));
                        if (dir)
                                (void) fts_set(fts, e, FTS_SKIP);
                        continue;
                }
                if (k == ARCHIVE_WARN)
                        warn(run, e->fts_path, "%s: %s", e->fts_path, archive_error_string(run->disk));

                if (!skip_entry(run->disk, run, entry)) {
                        if (dir)
                                (void) fts_set(fts, e, FTS_SKIP);
                        continue;
                }

                e->fts_number = 1;
                r = store_entry(run, entry, fd, st);
        }
        if (r >= 0 && errno != 0)
                r = fail(run, negative_errno(), "Cannot walk %s: %m", source);
        fts_close(fts);
        return r;
}

static int disk_setup(Run *run) {
        int r;

        /* The disk reader only builds entries (see walk_source()). */
        run->disk = archive_read_disk_new();
        if (!run->disk)
                return fail(run, -ENOMEM, "Out of memory.");
        r = archive_read_disk_set_symlink_physical(run->disk);
        if (r == ARCHIVE_OK)
                r = archive_read_disk_set_standard_lookup(run->disk);
        /* Sparse maps are taken from our own descriptor (entry_refresh());
         * with fflags off too, libarchive never opens a regular file. */
        if (r == ARCHIVE_OK)
                r = archive_read_disk_set_behavior(run->disk, ARCHIVE_READDISK_NO_SPARSE | ARCHIVE_READDISK_NO_FFLAGS);
        if (r != ARCHIVE_OK)
                return fail(run, -EIO, "Cannot set up the file system walk: %s", archive_error_string(run->disk));

        run->links = archive_entry_linkresolver_new();
        if (!run->links)
                return fail(run, -ENOMEM, "Out of memory.");
        archive_entry_linkresolver_set_strategy(run->links, archive_format(run->writer));
        return 0;
}

/* ---- setup and teardown ---- */

static int open_destination(Run *run) {
        const char *dest = run->schedule->destination;
        int r;

        if (mkdir(dest, 0700) < 0) {
                if (errno != EEXIST) {
                        r = mkdir_p(dest, 0700);
                        if (r < 0)
                                return fail(run, r, "Cannot create destination %s: %m", dest);
                }
        }
        run->dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (run->dest_fd < 0)
                return fail(run, negative_errno(), "Cannot open destination %s: %m", dest);
        if (fstat(run->dest_fd, &run->dest_st) < 0)
                return fail(run, negative_errno(), "Cannot stat destination %s: %m", dest);
        _cleanup_free_ char *error = NULL;
        r = destination_group(run->schedule, &run->share_gid, &error);
        if (r >= 0)
                r = destination_share(run->dest_fd, run->schedule, run->share_gid, &error);
        if (r < 0)
                return fail(run, r, "%s", error ?: strerror(-r));
        return 0;
}

/* A second run of the same schedule must not write beside the first. The
 * lock lives in the kernel (flock on an open descriptor): when a run dies,
 * however it dies, the lock goes with it. The file merely gives the lock a
 * name and is never removed (removing lock files is what makes them racy). */
static int take_lock(Run *run, int *ret_fd) {
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, ".alexandria-%s.lock", run->schedule->name) < 0)
                return fail(run, -ENOMEM, "Out of memory.");
        int fd = openat(run->dest_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return fail(run, negative_errno(), "Cannot open lock %s/%s: %m", run->schedule->destination, name);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = errno == EWOULDBLOCK ? -EBUSY : negative_errno();
                safe_close(fd);
                if (r == -EBUSY)
                        return fail(run, r, "Another run of schedule '%s' is in progress (it holds %s/%s).",
                                    run->schedule->name, run->schedule->destination, name);
                return fail(run, r, "Cannot lock %s/%s: %m", run->schedule->destination, name);
        }
        *ret_fd = fd;
        return 0;
}

static int check_sources(Run *run) {
        STRV_FOREACH(p, run->schedule->sources) {
                struct stat st;
                /* stat, not lstat: a symlink to nothing is a missing source */
                if (stat(*p, &st) < 0)
                        return fail(run, negative_errno(), "Source %s: %m", *p);
        }
        return 0;
}

/* The name says when the run started, to the second. Runs of a schedule are
 * serialised by its lock, so an archive of this schedule already stamped with
 * this second (with any compression) comes from an earlier run that started
 * within the same second: wait for the next second rather than fail, replace
 * it, or stamp a time that is not true. Retention then never sees a tie. */
static int pick_archive_name(Run *run, uint64_t realtime, char **ret) {
        int r;

        for (unsigned attempt = 0;; attempt++) {
                bool taken = false;

                for (unsigned v = 0; v < 2 * _COMPRESSION_MAX && !taken; v++) {
                        _cleanup_free_ char *n = NULL;
                        struct stat st;

                        r = archive_name_format(run->schedule->name, realtime, v / 2, v % 2, &n);
                        if (r < 0)
                                return fail(run, r, "Cannot format archive name: %m");
                        if (fstatat(run->dest_fd, n, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                                taken = true;
                        else if (errno != ENOENT)
                                return fail(run, negative_errno(), "Cannot check for %s/%s: %m",
                                            run->schedule->destination, n);
                }
                if (!taken)
                        break;
                /* A name from the future (the clock went back) is not ours to wait for. */
                if (attempt >= 2)
                        return fail(run, -EEXIST, "An archive of schedule '%s' stamped with the current time "
                                    "already exists in %s; not replacing it.",
                                    run->schedule->name, run->schedule->destination);
                uint64_t wait = USEC_PER_SEC - realtime % USEC_PER_SEC;
                struct timespec ts = {
                        .tv_sec = (time_t) (wait / USEC_PER_SEC),
                        .tv_nsec = (long) (wait % USEC_PER_SEC * NSEC_PER_USEC),
                };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                realtime = now_realtime_usec();
        }

        r = archive_name_format(run->schedule->name, realtime, run->schedule->compression,
                                run->schedule->encryption, ret);
        if (r < 0)
                return fail(run, r, "Cannot format archive name: %m");
        return 0;
}

/* Where the file system cannot do O_TMPFILE (NFS, CIFS, …) an archive is
 * written under a hidden ".#NAME.XXXXXXXXXXXXXXXX" first (atomic_file_open()),
 * and a run that was killed leaves that behind, as big as it had grown.
 * Runs of a schedule hold its lock, so a temporary file of one of this
 * schedule's archive names belongs to no live run: remove it. */
static void remove_stale_temporaries(Run *run) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(run->dest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *schedule = NULL;
                struct stat st;

                if (!archive_temporary_name_parse(de->d_name, &schedule) || !streq(schedule, run->schedule->name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0)
                        log_warning_errno(negative_errno(), "Cannot remove %s/%s, left behind by an interrupted run: %m",
                                          run->schedule->destination, de->d_name);
                else
                        log_info("Removed %s/%s, left behind by an interrupted run.",
                                 run->schedule->destination, de->d_name);
        }
}

/* Encryption=yes: the key comes as the systemd credential "alexandria.key"
 * (LoadCredential= in the generated drop-in), or from KeyFile= itself. */
static int load_key(Run *run) {
        _cleanup_free_ char *error = NULL, *credential = NULL;
        const char *dir = getenv("CREDENTIALS_DIRECTORY"), *path = run->schedule->key_file;
        int r;

        if (!run->schedule->encryption)
                return 0;
        if (dir) {
                credential = path_join(dir, "alexandria.key");
                if (!credential)
                        return fail(run, -ENOMEM, "Out of memory.");
                if (access(credential, F_OK) >= 0)
                        path = credential;
        }
        r = crypt_key_load(path, &run->key, &error);
        if (r < 0)
                return fail(run, r, "Cannot use key file %s: %s", path, error ?: strerror(-r));
        return 0;
}

/* Verify=yes: the new archive is read back whole before retention may
 * delete anything older. */
static int verify_new_archive(Run *run, const char *archive) {
        VerifyResult v;
        int r;

        if (!run->schedule->verify)
                return 0;
        r = verify_archive(archive, run->key, &v);
        if (r < 0)
                return fail(run, r, "The new archive %s cannot be read back; older archives are kept.", archive);
        if (!verify_result_ok(&v)) {
                /* Keep it for a post-mortem, under a name that is no archive's:
                 * it must not count as the newest backup, nor for Keep=. */
                _cleanup_free_ char *bad = NULL;
                if (asprintf(&bad, "%s.failed-verification", archive) >= 0)
                        (void) rename(archive, bad);
                return fail(run, -EBADMSG, "The new archive does not match its manifest (%" PRIu64 " missing, %" PRIu64
                            " extra, %" PRIu64 " corrupt); kept as %s, older archives are untouched.",
                            v.missing, v.extra, v.corrupt, bad ?: archive);
        }
        return 0;
}

static int write_archive(Run *run, uint64_t start_realtime, char **ret_path) {
        _cleanup_free_ char *name = NULL, *path = NULL;
        int r;

        remove_stale_temporaries(run);
        r = pick_archive_name(run, start_realtime, &name);
        if (r < 0)
                return r;
        r = atomic_file_open(run->dest_fd, name, 0600, &run->out);
        if (r < 0)
                return fail(run, r, "Cannot create archive in %s: %m", run->schedule->destination);
        r = destination_share_archive(run->out.fd, run->share_gid);
        if (r < 0)
                return fail(run, r, "Cannot give the new archive to group %s: %m", run->schedule->destination_group);

        r = output_open(run);
        if (r >= 0)
                r = disk_setup(run);
        STRV_FOREACH(p, run->schedule->sources) {
                if (r < 0)
                        break;
                r = walk_source(run, *p);
        }
        if (r >= 0)
                r = write_manifest(run);
        if (r >= 0 && archive_write_close(run->writer) != ARCHIVE_OK)
                r = output_error(run, "closing it");
        if (r >= 0) {
                r = archive_sink_finish(run->sink);
                if (r < 0)
                        r = fail(run, r, "Cannot write archive %s/%s: %m", run->schedule->destination, name);
                else
                        run->stats.archive_bytes = archive_sink_bytes_out(run->sink);
        }
        if (r < 0) {
                atomic_file_abort(&run->out);
                return r;
        }

        r = atomic_file_commit(&run->out, false);
        if (r == -EEXIST)
                return fail(run, r, "Archive %s/%s already exists; not replacing it.", run->schedule->destination, name);
        if (r < 0)
                return fail(run, r, "Cannot commit archive %s/%s: %m", run->schedule->destination, name);

        path = path_join(run->schedule->destination, name);
        if (!path)
                return fail(run, -ENOMEM, "Out of memory.");
        *ret_path = TAKE_PTR(path);
        return 0;
}

static void run_done(Run *run) {
        if (run->writer)
                archive_write_free(run->writer);
        if (run->disk)
                archive_read_free(run->disk);
        if (run->links)
                archive_entry_linkresolver_free(run->links);
        /* after the writer: freeing an open writer still flushes into the sink */
        archive_sink_free(run->sink);
        crypt_key_free(run->key);
        manifest_done(&run->manifest);
        sha256_done(&run->hash);
        atomic_file_abort(&run->out);
        safe_close(run->dest_fd);
        free(run->sources);
        free(run->error);
        free(run->buf);
}

int backup_run(const Schedule *s, const BackupCallbacks *cb, BackupResult *ret) {
        uint64_t start = now_monotonic_usec(), start_realtime = now_realtime_usec();
        _cleanup_close_ int lock_fd = -EBADF;
        BackupResult result = {};
        Run run = {
                .schedule = s,
                .cb = cb,
                .dest_fd = -EBADF,
                .share_gid = (gid_t) -1,
                .out = ATOMIC_FILE_NULL,
        };
        int r;

        run.sources = schedule_sources_string(s);
        run.buf = malloc(READ_BUFFER_SIZE);
        if (!run.sources || !run.buf || sha256_init(&run.hash) < 0) {
                run_done(&run);
                return -ENOMEM;
        }

        r = open_destination(&run);
        if (r >= 0)
                r = take_lock(&run, &lock_fd);
        if (r == -EBUSY) {
                /* Not a failure of this schedule: the running one reports for it. */
                result.error = TAKE_PTR(run.error);
                run_done(&run);
                *ret = result;
                return r;
        }

        EventFields f = EVENT_FIELDS_INIT(s->name);
        f.source = run.sources;
        (void) event_emit(EVENT_RUN_STARTED, &f, "Backup of %s started for %s.", s->name, run.sources);

        if (r >= 0)
                r = check_sources(&run);
        if (r >= 0)
                r = load_key(&run);
        if (r >= 0)
                r = write_archive(&run, start_realtime, &result.archive);
        if (r >= 0)
                r = verify_new_archive(&run, result.archive);

        result.stats = run.stats;
        result.duration_usec = now_monotonic_usec() - start;
        f.files = run.stats.files;
        f.bytes = run.stats.bytes;
        f.warnings = run.stats.warnings;
        f.duration_usec = result.duration_usec;

        if (r < 0) {
                f.error = r;
                (void) event_emit(EVENT_RUN_FAILED, &f, "Backup of %s failed: %s", s->name, run.error ?: strerror(-r));
                result.error = TAKE_PTR(run.error);
                run_done(&run);
                *ret = result;
                return r;
        }

        /* Offsite copies, once the archive is linked (copy.h). A failed one
         * fails the run, but the archive stays and retention still runs. */
        (void) copy_run(s, cb ? cb->state_dir : NULL, &result.copies);

        /* Retention runs only after the new archive is safely in place. */
        r = retention_apply(s, result.archive, &result.pruned);
        if (r < 0)
                run.stats.warnings++, result.stats.warnings++;

        f.archive = result.archive;
        f.archive_bytes = run.stats.archive_bytes;
        f.warnings = result.stats.warnings;
        const CopyOutcome *copy_failed = copy_results_first_failure(&result.copies);
        if (copy_failed) {
                f.copy_target = copy_failed->target;
                f.error = copy_failed->error;
                (void) event_emit(EVENT_RUN_FAILED, &f,
                                  "Backup of %s failed: the archive %s is written and kept, but the copy to %s failed: %s",
                                  s->name, result.archive, copy_failed->target, strempty(copy_failed->message));
        } else if (result.stats.warnings > 0)
                (void) event_emit(EVENT_RUN_WARNINGS, &f,
                                  "Backup done for %s in %s (%" PRIu64 " files, %" PRIu64 " bytes) with %" PRIu64 " warnings.",
                                  s->name, result.archive, run.stats.files, run.stats.bytes, result.stats.warnings);
        else
                (void) event_emit(EVENT_RUN_SUCCEEDED, &f,
                                  "Backup done for %s in %s (%" PRIu64 " files, %" PRIu64 " bytes).",
                                  s->name, result.archive, run.stats.files, run.stats.bytes);
        run_done(&run);
        *ret = result;
        return 0;
}

void backup_result_done(BackupResult *r) {
        free(r->archive);
        copy_results_done(&r->copies);
        free(r->error);
        *r = (BackupResult) {};
}
