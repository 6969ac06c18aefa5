/* SPDX-License-Identifier: MIT */
#pragma once

#include "macro.h"

/* Collapses "//" and "/./", drops a trailing "/". Keeps ".." (resolving it
 * lexically would be wrong across symlinks). Returns NULL on OOM. */
char *path_normalize(const char *path);

/* PATH if absolute, else the current directory joined with PATH; normalized.
 * Symlinks are not resolved: a source that is a symlink stays one. */
int path_make_absolute_cwd(const char *path, char **ret);

/* "a" + "/" + "b", with exactly one slash in between. NULL on OOM. */
char *path_join(const char *a, const char *b);

/* mkdir -p with MODE for every directory it creates. */
int mkdir_p(const char *path, mode_t mode);
