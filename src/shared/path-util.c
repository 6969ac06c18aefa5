/* SPDX-License-Identifier: MIT */
#include <sys/stat.h>

#include "path-util.h"

char *path_normalize(const char *path) {
        size_t n = strlen(path);
        char *out = malloc(n + 2), *o = out;
        if (!out)
                return NULL;

        for (const char *p = path; *p;) {
                if (*p == '/') {
                        while (*p == '/')
                                p++;
                        /* skip "." components */
                        while (p[0] == '.' && (p[1] == '/' || p[1] == 0)) {
                                p++;
                                while (*p == '/')
                                        p++;
                        }
                        *o++ = '/';
                        continue;
                }
                *o++ = *p++;
        }
        *o = 0;
        /* drop the trailing slash, but keep "/" itself */
        if (o - out > 1 && o[-1] == '/')
                o[-1] = 0;
        if (out[0] == 0)
                strcpy(out, path[0] == '/' ? "/" : ".");
        return out;
}

char *path_join(const char *a, const char *b) {
        char *r;
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (asprintf(&r, "%.*s/%s", (int) la, a, b) < 0)
                return NULL;
        return r;
}

int path_make_absolute_cwd(const char *path, char **ret) {
        _cleanup_free_ char *cwd = NULL, *joined = NULL;

        if (path[0] == '/') {
                *ret = path_normalize(path);
                return *ret ? 0 : -ENOMEM;
        }
        /* What the user means by "../data" is what the shell means: resolve it. */
        char *real = realpath(path, NULL);
        if (real) {
                *ret = real;
                return 0;
        }
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return negative_errno();
        joined = path_join(cwd, path);
        if (!joined)
                return -ENOMEM;
        *ret = path_normalize(joined);
        return *ret ? 0 : -ENOMEM;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != 0)
                        continue;
                char c = *s;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                if (c == 0)
                        break;
                *s = c;
        }
        return 0;
}
