/* SPDX-License-Identifier: MIT */
#pragma once

/* The index: what the tree looked like at a schedule's newest restore
 * point, one record per selected file in walk order, so that the next run
 * reads it as a stream beside its own walk and stores only what differs
 * (see incremental.h). Memory stays flat however many files there are.
 *
 * On disk (".alexandria-NAME.index" in the destination, mode 0600):
 *   "ALXINDEX" version
 *   header: schedule, sources fingerprint (length-prefixed strings), when the
 *   walk that made it started (seconds), and the chain of archive file names
 *   it describes, full first, newest last
 *   records: varints — bytes shared with the previous path + 1 (0 ends the
 *   records), length and bytes of the rest of the path, source ordinal,
 *   st_mode, uid, gid, size, inode, mtime (s, ns), ctime - mtime (s), ctime ns
 *   record count, then CRC-32 of everything before it
 * A tree of 1,000 directories of 1,000 files takes about 35 bytes a file.
 * A file that fails its CRC, is truncated or has another version is
 * damaged (-EBADMSG) and never half-used: it is checked whole when opened.
 *
 * Walk order is fts(3) with each directory's names sorted bytewise: a
 * directory, then what is below it, then its next sibling — that is paths
 * compared bytewise with '/' below every other byte (index_path_compare()). */

#include <stdint.h>
#include <sys/stat.h>
#include "macro.h"

#define INDEX_VERSION 1

typedef struct IndexRecord {
        const char *path;       /* the walked (absolute) path; the reader's, valid until its next read */
        unsigned source;        /* which Source= (0-based) it was found under */
        uint32_t mode;          /* st_mode: type and permissions */
        uint32_t uid, gid;
        uint64_t size;
        uint64_t ino;
        int64_t mtime_sec, ctime_sec;
        uint32_t mtime_nsec, ctime_nsec;
} IndexRecord;

typedef struct IndexHeader {
        char *schedule;
        char *fingerprint;      /* of the schedule's sources: another list, another tree */
        uint64_t walk_start_usec;        /* realtime: when the walk that recorded it began */
        char **chain;           /* archive file names, the full first, the restore point last */
} IndexHeader;

void index_header_done(IndexHeader *h);

/* The index's file name in the destination. */
int index_file_name(const char *schedule, char **ret);

/* Walk order; see above. */
int index_path_compare(const char *a, const char *b);
/* fts(3) comparator giving walk order. */
struct _ftsent;
int index_fts_compare(const struct _ftsent **a, const struct _ftsent **b);

/* The record of ST found at PATH under source SOURCE. */
void index_record_from_stat(IndexRecord *rec, const char *path, unsigned source, const struct stat *st);
/* Whether a file changed: type, mode, owner, size, inode, mtime or ctime
 * (which the kernel moves on every change of data, xattrs, ACLs, links,
 * and on renames). */
bool index_record_same(const IndexRecord *a, const IndexRecord *b);

typedef struct IndexReader IndexReader;

/* Opens NAME in DIR_FD and checks it whole. -ENOENT if there is none,
 * -EBADMSG if it is damaged (*ret_error says how), other errnos if it
 * cannot be read. */
int index_reader_open(int dir_fd, const char *name, IndexReader **ret, IndexHeader *ret_header, char **ret_error);
/* 1 and the next record, 0 at the end, or -EBADMSG. */
int index_reader_next(IndexReader *r, IndexRecord *ret);
uint64_t index_reader_records(const IndexReader *r);
IndexReader *index_reader_free(IndexReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(IndexReader *, index_reader_free);

typedef struct IndexWriter IndexWriter;

/* A new index for NAME in DIR_FD (borrowed), invisible until committed. */
int index_writer_open(int dir_fd, const char *name, const IndexHeader *h, IndexWriter **ret);
/* Records must come in walk order (-EINVAL otherwise: the next reader would
 * take everything for new). */
int index_writer_add(IndexWriter *w, const IndexRecord *rec);
/* Writes the trailer and puts the index in place of the old one, atomically. */
int index_writer_commit(IndexWriter *w);
uint64_t index_writer_records(const IndexWriter *w);
/* Frees; an index that was not committed is discarded. */
IndexWriter *index_writer_free(IndexWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(IndexWriter *, index_writer_free);
