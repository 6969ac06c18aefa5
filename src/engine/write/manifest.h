/* SPDX-License-Identifier: MIT */
#pragma once

/* The manifest: one line per entry with a digest of its content and its
 * exact time, spooled by the worker while archiving and stored as the
 * archive's last entry, so it travels with the archive. `verify` reads
 * every byte back and compares; `restore` checks each file before it is
 * put in place and applies the times.
 *
 * Line format (text, one entry per line, paths escaped so that any byte
 * sequence fits on one line: "\\" for a backslash, "\n", "\r"):
 *   f DIGEST SIZE[@MTIME] PATH       regular file (hash over its logical content, holes as zeros)
 *   h - 0[@MTIME] PATH\tTARGET        hard link to an earlier regular file
 *   d|l|p|c|b - 0[@MTIME] PATH        directory, symlink, FIFO, character or block device
 *
 * DIGEST is the SHA-256 in hex, whole (64 digits, archives before
 * 2026-12) or its first 64 bits (16 digits: MANIFEST_DIGEST_LEN, what is
 * written now; docs/manifest.md says why that is enough). MTIME is the
 * entry's modification time as SECONDS.NANOSECONDS: archives are written
 * as restricted pax, whose plain ustar headers hold whole seconds, and
 * restore takes the exact time from here.
 */

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <openssl/evp.h>
#include "macro.h"

#define MANIFEST_NAME ".alexandria-manifest.sha256"
#define SHA256_LEN 32
/* the largest manifest a reader takes into memory */
#define MANIFEST_MAX (1024 * 1024 * 1024)
#define MANIFEST_DIGEST_LEN 8   /* bytes of the SHA-256 the writer records */

typedef struct Sha256 {
        EVP_MD_CTX *ctx;
} Sha256;

int sha256_init(Sha256 *h);
void sha256_update(Sha256 *h, const void *buf, size_t n);
/* Feeds N zero bytes (sparse holes, zero padding). */
void sha256_zeros(Sha256 *h, uint64_t n);
void sha256_final(Sha256 *h, uint8_t out[static SHA256_LEN]);
void sha256_done(Sha256 *h);

typedef struct ManifestEntry {
        char type;              /* f h d l p c b */
        char *path;
        char *target;           /* hard links */
        uint64_t size;
        uint8_t digest[SHA256_LEN];
        uint8_t digest_len;     /* bytes of digest that count: SHA256_LEN or MANIFEST_DIGEST_LEN; 0 if none */
        bool has_mtime;
        struct timespec mtime;
} ManifestEntry;

typedef struct Manifest {
        ManifestEntry *entries;
        size_t n, allocated;
} Manifest;

void manifest_done(Manifest *m);
/* DIGEST_LEN bytes of DIGEST (none if NULL); MTIME may be NULL. */
int manifest_add(Manifest *m, char type, const char *path, const char *target, uint64_t size,
                 const uint8_t *digest, size_t digest_len, const struct timespec *mtime);
/* Whether DIGEST (a whole SHA-256) is what E records. */
bool manifest_digest_matches(const ManifestEntry *e, const uint8_t digest[static SHA256_LEN]);
/* Writes E as one line: what a writer streams, entry by entry. */
void manifest_put_entry(FILE *f, const ManifestEntry *e);
/* Serializes (in insertion order). */
int manifest_format(const Manifest *m, char **ret, size_t *ret_len);
/* Parses TEXT; on -EBADMSG, *ret_line says where. */
int manifest_parse(const char *text, size_t len, Manifest *ret, size_t *ret_line);
/* Sorts by path, for merging two manifests and for manifest_lookup(). */
void manifest_sort(Manifest *m);
/* The entry for PATH in a sorted manifest, or NULL. */
ManifestEntry *manifest_lookup(const Manifest *m, const char *path);

/* A path as the manifest (and an incremental archive's deletions list)
 * writes it: "\\", "\n", "\r", "\t" escaped, so any name fits one line. */
void manifest_put_name(FILE *f, const char *name);
/* The reverse, for S up to END; NULL for a bad escape or a NUL byte. */
char *manifest_unescape_name(const char *s, const char *end);

/* The type letter of an archive entry's file type (AE_IF*), '?' if none. */
char manifest_type_from_filetype(unsigned filetype);
