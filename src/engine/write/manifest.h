/* SPDX-License-Identifier: MIT */
#pragma once

/* The manifest: one line per archive entry with a digest of its content
 * and its exact time, spooled by the worker while archiving and stored as
 * the archive's last entry, so it travels with the archive. `verify` reads
 * every byte back and compares; `restore` checks each file before it is
 * put in place and applies the times. docs/manifest.md says why it is this
 * small.
 *
 * Version 3 (written since 2026-12-03) is positional: after the line
 * MANIFEST_HEADER, line N describes the archive's Nth entry (the manifest
 * itself excluded), whose header holds its name, size and whole seconds:
 *   f DIGEST NSEC    regular file (digest over its logical content, holes as zeros)
 *   T - NSEC         any other type T: h (hard link) d l p c b s
 * DIGEST is a CRC-32 (8 hex digits) for a file of at most MANIFEST_CRC_MAX
 * bytes, else the first 64 bits of its SHA-256 (16 digits). NSEC is the
 * nanoseconds of its modification time (9 digits), or "-" when the header
 * has the exact time itself (an extended header: times before 1970).
 *
 * Older archives name each entry (paths escaped so that any byte sequence
 * fits on one line: "\\" for a backslash, "\n", "\r", "\t"):
 *   f DIGEST SIZE[@SEC.NSEC] PATH     DIGEST: SHA-256, whole or its first 64 bits
 *   h - 0[@SEC.NSEC] PATH\tTARGET
 *   d|l|p|c|b - 0[@SEC.NSEC] PATH
 * Both are read.
 */

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <openssl/evp.h>
#include "macro.h"

#define MANIFEST_NAME ".alexandria-manifest.sha256"
#define SHA256_LEN 32
/* the largest manifest a reader takes (into memory, or into its scratch file) */
#define MANIFEST_MAX (1024 * 1024 * 1024)
#define MANIFEST_HEADER "alexandria-manifest 3\n"
#define MANIFEST_DIGEST_LEN 8   /* bytes of the SHA-256 recorded for a larger file */
#define MANIFEST_CRC_LEN 4
/* Files up to this size get a CRC-32: every error of up to 3 bits and every
 * burst of up to 32 is caught (CRC-32 has a Hamming distance of 4 up to
 * 11 KiB), at half the bytes of the short SHA-256 on an 80-byte file. */
#define MANIFEST_CRC_MAX 8192

typedef struct Sha256 {
        EVP_MD_CTX *ctx;
} Sha256;

int sha256_init(Sha256 *h);
void sha256_update(Sha256 *h, const void *buf, size_t n);
void sha256_final(Sha256 *h, uint8_t out[static SHA256_LEN]);
void sha256_done(Sha256 *h);

/* The digest of one entry's content, of the kind the manifest records for
 * its size: a CRC-32 for a small file, else SHA-256. Readers ask for
 * SHA-256 of small files too (EVERY_KIND): older manifests record it. */
typedef struct ContentHash {
        Sha256 sha;
        uint32_t crc;
        bool want_sha, want_crc;
} ContentHash;

typedef struct ContentDigest {
        uint8_t sha[SHA256_LEN];
        uint32_t crc;
        bool has_sha, has_crc;
} ContentDigest;

int content_hash_init(ContentHash *h);
void content_hash_start(ContentHash *h, uint64_t size, bool every_kind);
void content_hash_update(ContentHash *h, const void *buf, size_t n);
void content_hash_zeros(ContentHash *h, uint64_t n);
void content_hash_final(ContentHash *h, ContentDigest *ret);
void content_hash_done(ContentHash *h);

typedef struct ManifestEntry {
        char type;              /* f h d l p c b s */
        char *path;             /* NULL in a positional manifest */
        char *target;           /* hard links, with a path */
        uint64_t size;          /* with a path */
        uint8_t digest[SHA256_LEN];
        /* bytes of digest that count: MANIFEST_CRC_LEN (a CRC-32, big-endian),
         * MANIFEST_DIGEST_LEN or SHA256_LEN (SHA-256's first bytes); 0 if none */
        uint8_t digest_len;
        bool has_mtime;
        bool mtime_nsec_only;   /* positional: the seconds are the entry header's */
        struct timespec mtime;
} ManifestEntry;

typedef struct Manifest {
        ManifestEntry *entries;
        size_t n, allocated;
        bool positional;        /* version 3: entry N describes the archive's Nth entry */
} Manifest;

void manifest_entry_done(ManifestEntry *e);
void manifest_done(Manifest *m);
/* Appends E, taking its strings. */
int manifest_append(Manifest *m, ManifestEntry *e);
/* The line of what was just written, DIGEST of its content; MTIME as the
 * entry has it (seconds in its header: only the nanoseconds are recorded),
 * or NULL when the header holds the exact time. */
void manifest_put_positional(FILE *f, char type, const ContentDigest *digest, const struct timespec *mtime);
/* Whether DIGEST is what E records. */
bool manifest_digest_matches(const ManifestEntry *e, const ContentDigest *digest);
/* E's modification time for an entry whose header says HEADER_SEC; false if
 * the manifest has none. */
bool manifest_entry_mtime(const ManifestEntry *e, time_t header_sec, struct timespec *ret);
/* Writes E as one line in its manifest's format. */
void manifest_put_entry(FILE *f, const ManifestEntry *e);
/* Serializes (in insertion order), with the header of a positional one. */
int manifest_format(const Manifest *m, char **ret, size_t *ret_len);
/* Whether TEXT begins as a positional manifest does. */
bool manifest_is_positional(const char *text, size_t len);
/* Parses one line [P, EOL) without its newline into *RET. */
int manifest_parse_line(const char *p, const char *eol, bool positional, ManifestEntry *ret);
/* Parses TEXT; on -EBADMSG, *ret_line says where. */
int manifest_parse(const char *text, size_t len, Manifest *ret, size_t *ret_line);
/* Sorts a manifest with paths by path, for manifest_lookup(). */
void manifest_sort(Manifest *m);
/* The entry for PATH in a sorted manifest with paths, or NULL. */
ManifestEntry *manifest_lookup(const Manifest *m, const char *path);

/* A path as the manifest (and an incremental archive's deletions list)
 * writes it: "\\", "\n", "\r", "\t" escaped, so any name fits one line. */
void manifest_put_name(FILE *f, const char *name);
/* The reverse, for S up to END; NULL for a bad escape or a NUL byte. */
char *manifest_unescape_name(const char *s, const char *end);

/* The type letter of an archive entry's file type (AE_IF*), '?' if none. */
char manifest_type_from_filetype(unsigned filetype);
