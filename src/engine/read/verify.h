/* SPDX-License-Identifier: MIT */
#pragma once

/* Proving an archive whole without restoring it: every byte is read back
 * and every entry compared with the manifest the worker stored as the
 * archive's last entry. */

#include <stdint.h>
#include "archive-read.h"
#include "encryption.h"
#include "macro.h"

typedef struct VerifyResult {
        uint64_t entries;       /* entries read (without the manifest) */
        uint64_t missing;       /* in the manifest, not in the archive */
        uint64_t extra;         /* in the archive, not in the manifest */
        uint64_t corrupt;       /* content, size or type differ */
        bool has_manifest;
} VerifyResult;

/* Reports each problem (with the archive's path) through REPORT. Returns 0
 * when the archive could be read to its end (check the result: it is good
 * only when nothing is missing, extra or corrupt and it has a manifest), or
 * a negative errno when it could not be read (truncated, corrupt
 * compression), after reporting why. */
int verify_archive(const char *path, const CryptKeySource *key, archive_report_t report, void *userdata, VerifyResult *ret);

static inline bool verify_result_ok(const VerifyResult *r) {
        return r->has_manifest && r->missing + r->extra + r->corrupt == 0;
}
