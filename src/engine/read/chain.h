/* SPDX-License-Identifier: MIT */
#pragma once

/* Chains: a full archive and the incremental archives after it, each built
 * on the one before (incremental.h). A restore point is any archive; to
 * rebuild it, its chain is applied in order, each incremental member after
 * removing what it records as deleted. Restoring one member is
 * restore_archive()'s job (restore.h); this module drives it per member. */

#include <stdint.h>
#include "archive-list.h"
#include "encryption.h"
#include "restore.h"
#include "verify.h"

typedef struct ChainHeader {
        char *schedule;
        char *base;             /* the archive it was built on */
        char *full;             /* the full archive its chain starts with */
} ChainHeader;

void chain_header_done(ChainHeader *h);
/* Reads the first entry of the incremental archive PATH. -EBADMSG (with
 * *ret_error) if it is not there or malformed. */
int chain_header_read(const char *path, const CryptKeySource *key, ChainHeader *ret, char **ret_error);

/* The newest full archive at or before LIST[I] (LIST sorted oldest first,
 * one schedule's): the full its restore point depends on, by name. -1 if
 * there is none (the chain lost its full). */
ssize_t chain_full_index(const ArchiveInfo *list, size_t n, size_t i);

typedef struct Chain {
        const ArchiveInfo *members;     /* borrowed: a run of the list, the full first */
        size_t n;
} Chain;

/* The chain of the restore point LIST[I]. Reads each incremental member's
 * header and checks it was built on the member before it: -ENOENT with
 * *ret_error saying which archive is missing or in the way. */
int chain_resolve(const ArchiveInfo *list, size_t n, size_t i, const CryptKeySource *key, Chain *ret, char **ret_error);

typedef struct ChainRestoreStats {
        RestoreStats restore;   /* summed over the members */
        uint64_t deleted;       /* paths removed (or that would be) because a member says so */
        size_t bad_member;      /* when restore_chain() fails: which member could not be read */
} ChainRestoreStats;

/* Restores the chain into O->target: the full, then every incremental
 * member after removing what it deleted, each replacing what the members
 * before it wrote. O->mode RESTORE_LIST lists each member's entries and
 * deletions; RESTORE_DRY_RUN says what would be written and removed. Hands
 * problems to O->report. Returns 0 when every member could be read (check the stats). */
int chain_restore(const Chain *c, const RestoreOptions *o, ChainRestoreStats *ret);

/* Verifies the chain of LIST[I], member by member: each against its own
 * manifest, and each incremental one for being built on the member before
 * it. REPORT gets each problem verify_archive() finds (with USERDATA, as FN
 * does). FN is called once per member with its verification (ERROR < 0: it
 * could not be read) and PROBLEM, what is wrong with its place in the
 * chain (NULL if nothing). Returns 0 when every member is good, -EBADMSG
 * when one is not (FN was told which). */
typedef void (*chain_verify_fn)(const ArchiveInfo *member, const VerifyResult *v, int error, const char *problem,
                                void *userdata);
int chain_verify(const ArchiveInfo *list, size_t n, size_t i, const CryptKeySource *key, archive_report_t report,
                 chain_verify_fn fn, void *userdata);
