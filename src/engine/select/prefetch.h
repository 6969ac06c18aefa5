/* SPDX-License-Identifier: MIT */
#pragma once

/* Read-ahead of small regular files, for full runs.
 *
 * Storing a file costs six system calls whatever its size (open, fstat,
 * flistxattr, pread, fstat, close). On a tree of many small files they are
 * most of the run, and they ran in the thread that also formats the
 * archive. Here a helper thread makes them for the regular files of the
 * next chunk of a directory while the walk stores the chunk before; the
 * walk then finds each file's stat and bytes ready, and the writer copies
 * them from memory.
 *
 * Only what the writer would take as it is gets read ahead: a file up to
 * PREFETCH_FILE_MAX bytes with no extended attributes (so no ACL). Anything
 * else (bigger, with attributes, with fewer blocks than bytes (holes), with
 * more than one name (a hard link may be stored without data), no longer a
 * regular file, empty on a pseudo file system, over the memory budget) comes
 * back as "fallback" and the caller opens it itself, as without read-ahead. Incremental runs do
 * not read ahead: they decide on an lstat before opening anything. */

#include <stdbool.h>

#include "file-content.h"
#include "macro.h"

#define PREFETCH_CHUNK 64               /* names of a directory read ahead at a time */
#define PREFETCH_FILE_MAX 8192          /* bigger files are read by the writer itself */
#define PREFETCH_BYTES_MAX (4u << 20)   /* file data held ahead at most, over all chunks */

typedef struct PrefetchedFile {
        int error;                      /* opening failed: its negative errno, nothing else is set */
        bool fallback;                  /* not read ahead: the caller opens the file itself */
        struct stat st;                 /* fstat of the opened file */
        FileContent content;            /* its bytes and the stat after reading */
} PrefetchedFile;

typedef struct Prefetch Prefetch;
typedef struct PrefetchChunk PrefetchChunk;

int prefetch_new(Prefetch **ret);
/* Stops the helper thread; every chunk must have been released. */
Prefetch *prefetch_free(Prefetch *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Prefetch *, prefetch_free);

/* Queues the files NAMES[0..N) of directory DIR_FD. DIR_FD and the names
 * must stay valid until the chunk is released. */
int prefetch_submit(Prefetch *p, int dir_fd, const char *const *names, size_t n, PrefetchChunk **ret);
/* What became of file I of chunk C; waits until the helper is done with C.
 * Valid until C is released. */
const PrefetchedFile *prefetch_get(PrefetchChunk *c, size_t i);
/* Waits until the helper is done with C (NULL: nothing), then frees it. */
void prefetch_release(PrefetchChunk *c);
