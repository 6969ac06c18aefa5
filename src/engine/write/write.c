/* SPDX-License-Identifier: MIT */
/*
 * File data is read here, not by libarchive: the walk opened every regular
 * file with O_NOFOLLOW|O_NONBLOCK and checked it with fstat to be the very
 * file walked; after reading, a second fstat tells whether it changed. (A
 * full run's small files come read ahead that same way, select/prefetch.h,
 * their bytes and both stats ready.) A tar
 * header carries the size before the data, so a file that shrinks or grows
 * while read cannot be stored as it is; instead of padding or cutting it
 * silently (bsdtar) the run says exactly what the entry holds.
 */
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <unistd.h>

#include "archive-sink.h"
#include "archive-util.h"
#include "cpus.h"
#include "fileio.h"
#include "format-util.h"
#include "log.h"
#include "manifest.h"
#include "write.h"

#define READ_BUFFER_SIZE (256 * 1024)

struct ArchiveWriter {
        struct archive *archive;
        ArchiveSink *sink;              /* below libarchive: gzip, encryption, the file */
        struct archive_entry_linkresolver *links;
        RunReport *report;
        char *label;
        uint8_t *buf;
        /* the manifest, stored as the archive's last entry: a line per
         * entry spooled to an unnamed file, so memory stays flat */
        FILE *manifest;
        ContentHash hash;               /* of the regular file being copied */
};

static la_ssize_t output_write(struct archive *a, void *userdata, const void *buf, size_t n) {
        ArchiveWriter *w = userdata;
        int r = archive_sink_write(w->sink, buf, n);
        if (r < 0) {
                /* libarchive's formatter knows no %m */
                archive_set_error(a, -r, "%s", strerror(-r));
                return -1;
        }
        w->report->stats.archive_bytes += n;   /* progress: the tar stream so far */
        return (la_ssize_t) n;
}

static int output_error(ArchiveWriter *w, const char *what, char **ret_error) {
        int e = archive_errno(w->archive);
        return errorf(ret_error, e > 0 ? -e : -EIO, "Cannot write archive %s while %s: %s",
                      w->label, what, archive_error_string(w->archive) ?: "unknown error");
}

/* The manifest's scratch file failed with ERROR (a negative errno, or 0: EIO). */
static int spool_error(ArchiveWriter *w, int error, char **ret_error) {
        error = error < 0 ? error : -EIO;
        return errorf(ret_error, error, "Cannot write the manifest's scratch file of %s: %s", w->label, strerror(-error));
}

static int add_filter(struct archive *a, Compression c) {
        /* libzstd's and liblzma's own worker threads, one a CPU. The count
         * must be given: libarchive 3.6's "threads=0" means none for zstd. */
        unsigned cpus = cpus_available();
        char threads[16];
        snprintf(threads, sizeof threads, "%u", cpus);

        switch (c) {
        case COMPRESSION_ZSTD: {
                int r = archive_write_add_filter_zstd(a);
                if (r == ARCHIVE_OK && cpus > 1)
                        (void) archive_write_set_filter_option(a, "zstd", "threads", threads);
                return r;
        }
        case COMPRESSION_XZ: {
                int r = archive_write_add_filter_xz(a);
                if (r == ARCHIVE_OK && cpus > 1)
                        (void) archive_write_set_filter_option(a, "xz", "threads", threads);
                return r;
        }
        default:
                /* none, and gzip: the sink compresses on every core */
                return archive_write_add_filter_none(a);
        }
}

int archive_writer_new(int fd, int spool_dir_fd, Compression c, const CryptKeySource *key, const char *label,
                       RunReport *report, ArchiveWriter **ret, char **ret_error) {
        _cleanup_(archive_writer_freep) ArchiveWriter *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->report = report;
        w->label = strdup(label);
        w->buf = malloc(READ_BUFFER_SIZE);
        w->links = archive_entry_linkresolver_new();
        if (!w->label || !w->buf || !w->links || content_hash_init(&w->hash) < 0)
                return -ENOMEM;
        int spool = spool_open(spool_dir_fd);
        if (spool < 0) {
                errno = -spool;
                return errorf(ret_error, spool, "Cannot create the manifest's scratch file beside %s: %m", label);
        }
        w->manifest = fdopen(spool, "w+");
        if (!w->manifest) {
                safe_close(spool);
                return -ENOMEM;
        }
        (void) setvbuf(w->manifest, NULL, _IOFBF, 64 * 1024);
        fputs(MANIFEST_HEADER, w->manifest);

        r = archive_sink_new(fd, c == COMPRESSION_GZIP ? 6 : -1, key, &w->sink);
        if (r < 0)
                return errorf(ret_error, r, "Cannot set up the archive output: %m");
        w->archive = archive_write_new();
        if (!w->archive)
                return -ENOMEM;
        /* Restricted pax: a plain ustar header for most entries, an
         * extended one only where ustar cannot say it (long names, large
         * sizes, xattrs, ACLs, sparse maps). Its whole-second mtimes are
         * made exact by the manifest, which restore applies. A pax header
         * for each entry was 10% of a gzip archive of small files. */
        r = archive_write_set_format_pax_restricted(w->archive);
        if (r == ARCHIVE_OK)
                r = add_filter(w->archive, c);
        /* Large blocks mean few write(2)s; no padding of the last block to a tape record. */
        if (r == ARCHIVE_OK)
                r = archive_write_set_bytes_per_block(w->archive, 64 * 1024);
        if (r == ARCHIVE_OK)
                r = archive_write_set_bytes_in_last_block(w->archive, 1);
        if (r == ARCHIVE_OK)
                r = archive_write_open2(w->archive, w, NULL, output_write, NULL, NULL);
        if (r != ARCHIVE_OK)
                return errorf(ret_error, -archive_errno(w->archive) ?: -EIO, "Cannot set up %s archive writer: %s",
                              compression_to_string(c), archive_error_string(w->archive) ?: "unknown error");
        archive_entry_linkresolver_set_strategy(w->links, archive_format(w->archive));
        *ret = TAKE_PTR(w);
        return 0;
}

ArchiveWriter *archive_writer_free(ArchiveWriter *w) {
        if (!w)
                return NULL;
        if (w->archive)
                archive_write_free(w->archive);
        if (w->links)
                archive_entry_linkresolver_free(w->links);
        /* after the archive: freeing an open writer still flushes into the sink */
        archive_sink_free(w->sink);
        if (w->manifest)
                fclose(w->manifest);
        content_hash_done(&w->hash);
        free(w->label);
        free(w->buf);
        free(w);
        return NULL;
}

uint64_t archive_writer_bytes_out(const ArchiveWriter *w) {
        return archive_sink_bytes_out(w->sink);
}

static bool same_times(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* The holes of the file open in front of us, mapped from this descriptor so
 * that the map and the data belong together (libarchive may have mapped
 * them already while it built the entry: that map is replaced). Content
 * read ahead comes without one: only files that have no holes are read
 * ahead. */
static void entry_map_holes(struct archive_entry *entry, int fd, const struct stat *st) {
        archive_entry_sparse_clear(entry);

        /* Only files with fewer blocks than bytes can have holes. */
        if (fd < 0 || (uint64_t) st->st_blocks * 512 >= (uint64_t) st->st_size)
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
static int write_hole(ArchiveWriter *w, uint64_t len, char **ret_error) {
        static const uint8_t zeros[64 * 1024];
        while (len > 0) {
                size_t n = (size_t) MIN(len, (uint64_t) sizeof zeros);
                if (archive_write_data(w->archive, zeros, n) < 0)
                        return output_error(w, "writing a sparse file", ret_error);
                content_hash_update(&w->hash, zeros, n);
                len -= n;
        }
        return 0;
}

/* Says what the entry of PATH holds when the file did not stay as its
 * header promised: SIZE bytes were promised, DONE read. */
static void warn_changed(ArchiveWriter *w, const char *path, uint64_t size, uint64_t done, int read_error,
                         const struct stat *before, const struct stat *after) {
        RunReport *rep = w->report;

        if (read_error < 0)
                report_warning(rep, path, "%s: read error after %" PRIu64 " of %" PRIu64 " bytes: %s; "
                               "the entry holds the bytes read, then zeros", path, done, size, strerror(-read_error));
        else if (done < size && (uint64_t) after->st_size >= size)
                /* sysfs: every file says 4096 bytes and holds a few */
                report_warning(rep, path, "%s: holds only %" PRIu64 " of the %" PRIu64 " bytes its size says (a /sys file?); "
                               "the entry holds them, then zeros up to %" PRIu64 " bytes", path, done, size, size);
        else if (done < size)
                report_warning(rep, path, "%s: shrank from %" PRIu64 " to %" PRIu64 " bytes while being read; "
                               "the entry holds the first %" PRIu64 " bytes, then zeros up to %" PRIu64 " bytes",
                               path, size, (uint64_t) after->st_size, done, size);
        else if ((uint64_t) after->st_size > size)
                report_warning(rep, path, "%s: grew from %" PRIu64 " to %" PRIu64 " bytes while being read; "
                               "the entry holds only the first %" PRIu64 " bytes",
                               path, size, (uint64_t) after->st_size, size);
        else if ((uint64_t) after->st_size < size)
                report_warning(rep, path, "%s: shrank from %" PRIu64 " to %" PRIu64 " bytes after being read; "
                               "the entry holds all %" PRIu64 " bytes read, which may mix old and new content",
                               path, size, (uint64_t) after->st_size, size);
        else if (!same_times(&after->st_mtim, &before->st_mtim) || !same_times(&after->st_ctim, &before->st_ctim))
                report_warning(rep, path, "%s: changed while being read (size unchanged); "
                               "the entry may mix old and new content", path);
}

/* Copies SIZE bytes of FD into the current entry (from OFFSET on with
 * pread, or from the current position when OFFSET is -1); *RET_DONE is
 * what could be read before EOF or an error. */
static int copy_data(ArchiveWriter *w, const char *path, int fd, uint64_t size, bool sparse, bool positional,
                     uint64_t *ret_done, int *ret_read_error, char **ret_error) {
        uint64_t done = 0;
        int r;

        *ret_read_error = 0;
        while (done < size) {
                size_t want = (size_t) MIN((uint64_t) READ_BUFFER_SIZE, size - done);

                if (sparse) {
                        off_t data = lseek(fd, (off_t) done, SEEK_DATA);
                        uint64_t next = data < 0 ? size : MIN((uint64_t) data, size);
                        if (next > done) {
                                r = write_hole(w, next - done, ret_error);
                                if (r < 0)
                                        return r;
                                done = next;
                                continue;
                        }
                }

                ssize_t n = positional ? pread(fd, w->buf, want, (off_t) done) : read(fd, w->buf, want);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        *ret_read_error = negative_errno();
                        break;
                }
                if (n == 0)
                        break;
                if (archive_write_data(w->archive, w->buf, (size_t) n) < 0)
                        return output_error(w, "writing file data", ret_error);
                content_hash_update(&w->hash, w->buf, (size_t) n);
                done += (uint64_t) n;
                report_bytes(w->report, (uint64_t) n, path);
        }
        /* The manifest describes what the archive holds, padding included. */
        if (done < size)
                content_hash_zeros(&w->hash, size - done);
        *ret_done = done;
        return 0;
}

/* The pax writer cannot translate a name that is not valid in the locale's
 * character set (a Latin-1 file name under UTF-8, any non-ASCII name under
 * C) to UTF-8. It then stores the names of that entry as their raw bytes
 * with hdrcharset=BINARY and returns ARCHIVE_WARN; nothing is lost, and the
 * next run would warn again about the same file. Other warnings (an ACL that
 * cannot be translated) do lose something and stay warnings. */
static bool name_stored_as_bytes(struct archive *a) {
        const char *e = archive_error_string(a), *what;

        if (!e || !(what = startswith(e, "Can't translate ")))
                return false;
        return startswith(what, "pathname ") || startswith(what, "linkname ") ||
               startswith(what, "uname ") || startswith(what, "gname ");
}

/* Writes ENTRY's header; *RET_STORED is false when libarchive refused this
 * one entry (warned), which is not an error of the archive. */
static int write_header(ArchiveWriter *w, struct archive_entry *entry, bool *ret_stored, char **ret_error) {
        const char *path = archive_entry_sourcepath(entry) ?: archive_entry_pathname(entry);
        int r = archive_write_header(w->archive, entry);

        *ret_stored = true;
        if (r >= ARCHIVE_WARN)
                content_hash_start(&w->hash, (uint64_t) MAX(archive_entry_size(entry), 0), false);
        if (r == ARCHIVE_WARN && name_stored_as_bytes(w->archive))
                log_debug("%s: %s; stored as raw bytes (hdrcharset=BINARY).", path, archive_error_string(w->archive));
        else if (r == ARCHIVE_WARN)
                report_warning(w->report, path, "%s: %s", path, archive_error_string(w->archive));
        else if (r == ARCHIVE_FAILED) {
                report_warning(w->report, path, "%s: cannot be stored: %s, not archived", path,
                               archive_error_string(w->archive));
                *ret_stored = false;
        } else if (r != ARCHIVE_OK)
                return output_error(w, "writing a header", ret_error);
        return 0;
}

/* The entry is complete: count it and describe it in the manifest. */
static int finish_entry(ArchiveWriter *w, struct archive_entry *entry, char **ret_error) {
        if (archive_write_finish_entry(w->archive) < ARCHIVE_WARN)
                return output_error(w, "finishing an entry", ret_error);

        const char *link = archive_entry_hardlink(entry);
        char type = link ? 'h' : manifest_type_from_filetype(archive_entry_filetype(entry));
        ContentDigest digest;
        content_hash_final(&w->hash, &digest);   /* of the data copied, or of nothing */
        /* The line of this entry, the archive's next: its header holds the
         * whole seconds, which restricted pax gives most entries; the
         * manifest adds the nanoseconds. None where the header has the
         * exact time itself (an extended header: before 1970). */
        struct timespec mtime = { archive_entry_mtime(entry), archive_entry_mtime_nsec(entry) };
        bool exact = archive_entry_mtime_is_set(entry) && mtime.tv_sec >= 0;
        manifest_put_positional(w->manifest, type, &digest, exact ? &mtime : NULL);
        if (ferror(w->manifest))
                return spool_error(w, -errno, ret_error);
        report_entry(w->report, archive_entry_sourcepath(entry) ?: archive_entry_pathname(entry));
        return 0;
}

/* The bytes CONTENT read ahead, for an entry of SIZE bytes. */
static int copy_content(ArchiveWriter *w, const char *path, const FileContent *content, uint64_t size,
                        uint64_t *ret_done, char **ret_error) {
        size_t n = (size_t) MIN((uint64_t) content->len, size);
        if (n > 0 && archive_write_data(w->archive, content->data, n) < 0)
                return output_error(w, "writing file data", ret_error);
        content_hash_update(&w->hash, content->data, n);
        report_bytes(w->report, n, path);
        if (n < size)
                content_hash_zeros(&w->hash, size - n);
        *ret_done = n;
        return 0;
}

static int write_file_entry(ArchiveWriter *w, struct archive_entry *entry, int fd, const struct stat *st,
                            const FileContent *content, char **ret_error) {
        bool stored;
        int r = write_header(w, entry, &stored, ret_error);
        if (r < 0 || !stored)
                return r;

        bool data = !archive_entry_hardlink(entry) && (fd >= 0 || content) && archive_entry_size(entry) > 0;
        if (data) {
                const char *path = archive_entry_sourcepath(entry);
                uint64_t size = (uint64_t) archive_entry_size(entry), done = 0;
                int read_error;
                struct stat after;

                if (content) {
                        r = copy_content(w, path, content, size, &done, ret_error);
                        read_error = content->read_error;
                        after = content->after;
                } else {
                        r = copy_data(w, path, fd, size, archive_entry_sparse_count(entry) > 0, true,
                                      &done, &read_error, ret_error);
                        if (r >= 0 && fstat(fd, &after) < 0)
                                after = *st;
                }
                if (r < 0)
                        return r;
                /* The header promised SIZE bytes; libarchive zero-fills the
                 * rest when the entry is finished. Say so. */
                warn_changed(w, path, size, done, read_error, st, &after);
        } else if (!archive_entry_hardlink(entry) && fd >= 0) {
                /* procfs files say 0 bytes whatever they hold: the header is
                 * written, so their content cannot be stored. Say so rather
                 * than store it empty in silence. */
                char c;
                const char *path = archive_entry_sourcepath(entry);
                if (pread(fd, &c, 1, 0) > 0)
                        report_warning(w->report, path, "%s: reports a size of 0 bytes but has content (a /proc file?); "
                                       "archived empty", path);
        }
        return finish_entry(w, entry, ret_error);
}

int archive_writer_add_file(ArchiveWriter *w, struct archive_entry *entry, int fd, const struct stat *st,
                            const FileContent *content, char **ret_error) {
        struct archive_entry *spare = NULL;

        /* Reading changes atime and ctime cannot be restored: storing them would
         * only make archives of unchanged trees differ. */
        archive_entry_unset_atime(entry);
        archive_entry_unset_ctime(entry);
        if (fd >= 0 || content)
                entry_map_holes(entry, fd, st);

        /* Opened first, linked second: a file that could not be opened must
         * not become the data-carrying first link of a set. */
        archive_entry_linkify(w->links, &entry, &spare);
        if (spare) {
                archive_entry_free(spare);
                return errorf(ret_error, -EINVAL, "Internal error: unexpected deferred hard link.");
        }
        if (!entry)
                return 0;
        return write_file_entry(w, entry, fd, st, content, ret_error);
}

int archive_writer_add_stream(ArchiveWriter *w, const char *name, mode_t mode, uint64_t mtime_sec,
                              int fd, uint64_t size, char **ret_error) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        uint64_t done;
        bool stored;
        int read_error, r;

        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, mode & 07777);
        archive_entry_set_size(e, (la_int64_t) size);
        archive_entry_set_mtime(e, (time_t) mtime_sec, 0);
        r = write_header(w, e, &stored, ret_error);
        if (r < 0)
                return r;
        if (!stored)
                return errorf(ret_error, -EIO, "Cannot store %s in archive %s: %s", name, w->label,
                              archive_error_string(w->archive) ?: "unknown error");
        r = copy_data(w, name, fd, size, false, false, &done, &read_error, ret_error);
        if (r < 0)
                return r;
        /* A generated entry is spooled whole before it is stored: it cannot
         * change, so any difference is an error, not a warning. */
        if (read_error < 0 || done < size)
                return errorf(ret_error, read_error ?: -EIO, "Cannot read %s back after %" PRIu64 " of %" PRIu64 " bytes%s%s",
                              name, done, size, read_error ? ": " : "", read_error ? strerror(-read_error) : "");
        return finish_entry(w, e, ret_error);
}

/* The manifest goes last, so that it describes everything before it and
 * travels with the archive. */
static int write_manifest(ArchiveWriter *w, char **ret_error) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();

        if (!e)
                return -ENOMEM;
        off_t len = fflush(w->manifest) == 0 && !ferror(w->manifest) ? ftello(w->manifest) : -1;
        if (len < 0)
                return spool_error(w, -errno, ret_error);
        archive_entry_set_pathname(e, MANIFEST_NAME);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, (la_int64_t) len);
        archive_entry_set_mtime(e, (time_t) (now_realtime_usec() / USEC_PER_SEC), 0);
        if (archive_write_header(w->archive, e) != ARCHIVE_OK)
                return output_error(w, "writing the manifest", ret_error);
        int fd = fileno(w->manifest);
        for (off_t done = 0; done < len;) {
                ssize_t n = pread(fd, w->buf, (size_t) MIN((off_t) READ_BUFFER_SIZE, len - done), done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return spool_error(w, n < 0 ? -errno : 0, ret_error);
                if (archive_write_data(w->archive, w->buf, (size_t) n) < 0)
                        return output_error(w, "writing the manifest", ret_error);
                done += n;
        }
        if (archive_write_finish_entry(w->archive) != ARCHIVE_OK)
                return output_error(w, "writing the manifest", ret_error);
        return 0;
}

int archive_writer_finish(ArchiveWriter *w, char **ret_error) {
        int r = write_manifest(w, ret_error);
        if (r < 0)
                return r;
        if (archive_write_close(w->archive) != ARCHIVE_OK)
                return output_error(w, "closing it", ret_error);
        r = archive_sink_finish(w->sink);
        if (r < 0)
                return errorf(ret_error, r, "Cannot write archive %s: %m", w->label);
        return 0;
}
