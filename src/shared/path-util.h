/* SPDX-License-Identifier: MIT */
#pragma once

#include "macro.h"

/* Collapses "//" and "/./", drops a trailing "/". Keeps ".." (resolving it
 * lexically would be wrong across symlinks). Returns NULL on OOM. */
char *path_normalize(const char *path);

/* PATH normalized if absolute. A relative PATH that exists is resolved like
 * realpath(3) ("../data" means what the shell means); one that does not is
 * joined to the current directory. */
int path_make_absolute_cwd(const char *path, char **ret);

/* "a" + "/" + "b", with exactly one slash in between. NULL on OOM. */
char *path_join(const char *a, const char *b);

/* mkdir -p with MODE for every directory it creates. */
int mkdir_p(const char *path, mode_t mode);
