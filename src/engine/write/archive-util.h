/* SPDX-License-Identifier: MIT */
#pragma once

/* Cleanup helpers for libarchive objects. */

#include <archive.h>
#include <archive_entry.h>
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry *, archive_entry_free);
static inline void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}
static inline void archive_write_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}
