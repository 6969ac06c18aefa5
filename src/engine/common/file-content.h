/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* A small regular file's content, read ahead of the writer by the select
 * stage (select/prefetch.h): what the writer would otherwise read from the
 * descriptor itself, with the stat taken after reading. */
typedef struct FileContent {
        const uint8_t *data;
        size_t len;             /* bytes read: fewer than promised if the file shrank or a read failed */
        int read_error;         /* 0, or the negative errno that ended reading */
        struct stat after;      /* fstat once read: did it change meanwhile? */
} FileContent;
