/* SPDX-License-Identifier: MIT */
#pragma once

/* The run's writing stage: one place configures the archive (restricted pax format,
 * the compression filter, the sink below it: parallel gzip, encryption, the
 * file), as bsdtar's write.c does. It takes entries from every producer the
 * same way — files from the walk, generated entries such as dumps —
 * spools the manifest of everything it stored and writes it as the last
 * entry. Its memory does not grow with the number of entries. */

#include <stdint.h>
#include <sys/stat.h>
#include "encryption.h"
#include "file-content.h"
#include "report.h"
#include "schedule.h"

struct archive_entry;
typedef struct ArchiveWriter ArchiveWriter;

/* FD: the archive file (borrowed). SPOOL_DIR_FD: where the manifest is
 * spooled while the archive is written (an unnamed file: spool_open()).
 * KEY, if set, encrypts. LABEL names the archive in messages. */
int archive_writer_new(int fd, int spool_dir_fd, Compression c, const CryptKeySource *key, const char *label,
                       RunReport *report, ArchiveWriter **ret, char **ret_error);

/* A file from the walk (select.h): ENTRY was built from ST, the stat of
 * FD (or of CONTENT's descriptor when it was read ahead). Its data is read
 * from FD and checked for changes while read, or taken from CONTENT, read
 * ahead and checked the same way; hard links are stored as links. */
int archive_writer_add_file(ArchiveWriter *w, struct archive_entry *entry, int fd, const struct stat *st,
                            const FileContent *content, char **ret_error);

/* A generated regular entry NAME (relative, e.g. ".alexandria/dumps/x") with
 * MODE and MTIME_SEC: exactly SIZE bytes read from FD at its current offset. */
int archive_writer_add_stream(ArchiveWriter *w, const char *name, mode_t mode, uint64_t mtime_sec,
                              int fd, uint64_t size, char **ret_error);

/* Appends the manifest and completes the stream; the archive file then holds
 * all of it (not yet fsync'd: that is the link stage's job). */
int archive_writer_finish(ArchiveWriter *w, char **ret_error);
/* Bytes written to the file so far. */
uint64_t archive_writer_bytes_out(const ArchiveWriter *w);

ArchiveWriter *archive_writer_free(ArchiveWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(ArchiveWriter *, archive_writer_free);
