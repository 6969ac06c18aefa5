/* SPDX-License-Identifier: MIT */
#pragma once

/* The manifest as a reader meets it: the archive's last entry, known only
 * after every entry it describes. verify and restore keep its data in a
 * scratch file (scratch.h: unnamed, encrypted with a key of this process)
 * and read a positional one back line by line, so their memory stays flat
 * in the number of entries. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <archive.h>
#include "macro.h"
#include "manifest.h"

typedef struct ManifestSpool {
        const char *archive;    /* borrowed: where the scratch file goes (scratch.h) */
        FILE *f;
        uint64_t lines;         /* newlines in the data taken */
        uint64_t bytes;         /* of the data taken: at most MANIFEST_MAX */
        bool positional;        /* known after manifest_spool_rewind() */
        size_t line;            /* of the data, the last one read */
        uint64_t next;          /* positional: the ordinal of the entry whose line comes next */
        ManifestEntry current;  /* positional: the last line read */
} ManifestSpool;

int manifest_spool_open(ManifestSpool *s, const char *archive);
void manifest_spool_done(ManifestSpool *s);

/* Takes the current entry of A (SIZE bytes) as the manifest, replacing
 * what was taken before (a manifest is only the manifest if it is the last
 * entry); hashes it into *RET_DIGEST with H. -EBADMSG when the archive
 * cannot be read, -EFBIG beyond MANIFEST_MAX bytes (a hostile archive's
 * "manifest" does not fill the disk). */
int manifest_spool_take(ManifestSpool *s, struct archive *a, uint64_t size, ContentHash *h, ContentDigest *ret_digest);

/* Back to the start of what was taken, past the header of a positional
 * manifest (s->positional says which it is). */
int manifest_spool_rewind(ManifestSpool *s);

/* The entries a positional manifest lists. */
static inline uint64_t manifest_spool_listed(const ManifestSpool *s) {
        return s->lines > 0 ? s->lines - 1 : 0;         /* the header is no entry */
}

/* Parses the next line of a positional manifest into *RET (the caller's
 * to clear): 1, 0 at its end, -EBADMSG for a damaged line (s->line says
 * which), -EIO. */
int manifest_spool_next(ManifestSpool *s, ManifestEntry *ret);

/* Parses every line of a positional manifest once, then rewinds: 0,
 * -EBADMSG for a damaged line (s->line says which), -EIO. */
int manifest_spool_check(ManifestSpool *s);

/* A positional manifest's line for the entry ORDINAL, reading on from the
 * last one asked for (ordinals only grow): NULL past its end or for a
 * damaged line (*ret_error then -EBADMSG or -EIO). */
const ManifestEntry *manifest_spool_seek(ManifestSpool *s, uint64_t ordinal, int *ret_error);

/* An older manifest, which names its entries in any order: its text whole,
 * NUL-terminated. */
int manifest_spool_read_whole(ManifestSpool *s, char **ret, size_t *ret_len);
